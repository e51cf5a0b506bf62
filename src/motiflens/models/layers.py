"""The networks of :mod:`motiflens.models.specs`: the activations, TensorFlow-"SAME" max-pooling,
the conv block, :class:`MotifCNN`, weight initialisation and :func:`build_model`.

Shapes: a model maps one-hot ``(N, in_channels, input_length)`` to logits ``(N, n_outputs)``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError
from motiflens.models.specs import (
    ACTIVATION_NAMES,
    INITS,
    NON_DECREASING,
    ConvBlockSpec,
    ModelSpec,
    same_pool_length,
)
from motiflens.ops import Dropout, batch_norm_max_pool, can_fuse_pool, sliding_max_pool

__all__ = [
    "ACTIVATIONS", "EXP_INPUT_CAP", "ConvBlock", "InputShapeError", "MotifCNN",
    "SamePadMaxPool1d", "build_model", "count_parameters", "init_weights",
]


class InputShapeError(ConfigError, ValueError):
    """The input tensor does not have the shape the model was built for."""


#: The exponential activation's input is capped here: exp(40) = 2.4e17 is finite in fp32 and
#: bf16 (both reach 3.4e38) with room for the next layer's sums. Batch norm keeps the input
#: near unit scale, so the cap only acts on a runaway value, where it stops an inf (and the
#: NaN loss that follows) instead of changing the trained function.
EXP_INPUT_CAP = 40.0


class _Exp(nn.Module):
    """Exponential activation (Koo & Ploenzke 2021), ``exp(min(x, EXP_INPUT_CAP))``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.exp(torch.clamp(x, max=EXP_INPUT_CAP))


#: Activation name (:data:`motiflens.models.specs.ACTIVATION_NAMES`) -> module constructor.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "exponential": lambda: _Exp(),
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "linear": nn.Identity,
    "gelu": nn.GELU,
}
assert tuple(ACTIVATIONS) == ACTIVATION_NAMES  # one list of names, in specs


class SamePadMaxPool1d(nn.Module):
    """Max-pool with TensorFlow "SAME" padding (``-inf`` padding, output ``ceil(L / stride)``).

    Parameters
    ----------
    size : int
        Window size.
    stride : int or None
        Stride; None means ``size``.

    Shapes: ``(N, C, L) -> (N, C, ceil(L / stride))``.
    """

    def __init__(self, size: int, stride: int | None = None) -> None:
        super().__init__()
        self.size = int(size)
        self.stride = int(size if stride is None else stride)

    def padding(self, length: int) -> tuple[int, int]:
        """(left, right) padding for an input of ``length`` positions."""
        out = same_pool_length(length, self.stride)
        total = max((out - 1) * self.stride + self.size - length, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.size == 1 and self.stride == 1:
            return x
        left, right = self.padding(x.shape[-1])
        if self.size != self.stride:
            # Overlapping windows: a compiled prefix/suffix-maxima kernel on the CPU (same
            # values and gradient as max_pool1d on the padded input, ~10-20x faster).
            pooled = sliding_max_pool(x, self.size, self.stride, left,
                                      same_pool_length(x.shape[-1], self.stride))
            if pooled is not None:
                return pooled
        if left or right:
            x = F.pad(x, (left, right), value=float("-inf"))
        if self.size == self.stride:
            # Non-overlapping windows: a reshape and a max over the last axis is the same
            # operation (same values; the gradient goes to the first maximum of each window,
            # as max_pool1d's does) and 25-40 % faster forward + backward on the CPU.
            n, c, length = x.shape
            return x.reshape(n, c, length // self.size, self.size).max(dim=-1).values
        return F.max_pool1d(x, self.size, self.stride)

    def extra_repr(self) -> str:  # noqa: D102
        return f"size={self.size}, stride={self.stride}, padding='SAME'"


class ConvBlock(nn.Module):
    """conv -> bn -> act -> pool -> dropout; attributes ``conv, bn, act, pool, dropout``.

    Shapes: ``(N, C_in, L) -> (N, filters, ceil(L / pool_stride))``.
    """

    def __init__(self, in_channels: int, spec: ConvBlockSpec, bn_eps: float, bn_momentum: float):
        super().__init__()
        self.spec = spec
        self.conv = nn.Conv1d(in_channels, spec.filters, spec.width, stride=1,
                              padding="same", bias=False)
        self.bn = nn.BatchNorm1d(spec.filters, eps=bn_eps, momentum=bn_momentum)
        self.act = ACTIVATIONS[spec.activation]()
        self.pool = SamePadMaxPool1d(spec.pool_size, spec.stride)
        self.dropout = Dropout(spec.dropout)

    #: In training, compute batch norm + a non-overlapping max-pool on the pooled tensor
    #: (``motiflens.ops.batch_norm_max_pool``: same values and gradients, fewer passes).
    fuse_bn_pool: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.training and self.pool.size > 1 and self.spec.activation in NON_DECREASING:
            # For a non-decreasing activation (NON_DECREASING), act(pool(h)) equals
            # pool(act(h)) in value and gradient (the window's first maximum receives it; for
            # ReLU a window whose maximum is <= 0 passes no gradient either way): in training
            # the activation runs on the pool_size-times smaller tensor. Eval mode keeps the
            # documented order, so hooks on ``act`` (filter interpretation) see every position.
            z = self.conv(x)
            if self.fuse_bn_pool and self.bn.training and self.bn.running_mean is not None \
                    and can_fuse_pool(self.pool.size, self.pool.stride, z.shape[-1]):
                h = batch_norm_max_pool(z, self.bn, self.pool.size)
            else:
                h = self.pool(self.bn(z))
            return self.dropout(self.act(h))
        return self.dropout(self.pool(self.act(self.bn(self.conv(x)))))


class MotifCNN(nn.Module):
    """The network described by a ``ModelSpec``.

    Attributes
    ----------
    spec : ModelSpec
    blocks : nn.ModuleList of ConvBlock
    dense, dense_bn, dense_act, dense_dropout : the hidden layer (absent when ``spec.dense == 0``)
    output : nn.Linear

    Shapes: ``(N, in_channels, input_length) -> (N, n_outputs)`` logits.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        spec.validate()
        self.spec = spec
        blocks, channels = [], spec.in_channels
        for block in spec.conv:
            blocks.append(ConvBlock(channels, block, spec.bn_eps, spec.bn_momentum))
            channels = block.filters
        self.blocks = nn.ModuleList(blocks)
        self.flatten = nn.Flatten()
        features = spec.flat_features
        if spec.dense > 0:
            self.dense = nn.Linear(features, spec.dense, bias=False)
            self.dense_bn = nn.BatchNorm1d(spec.dense, eps=spec.bn_eps, momentum=spec.bn_momentum)
            self.dense_act = nn.ReLU()
            self.dense_dropout = Dropout(spec.dense_dropout)
            features = spec.dense
        self.output = nn.Linear(features, spec.n_outputs, bias=True)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``InputShapeError`` (expected vs found) unless ``x`` is ``(N, C, L)``."""
        expected = (self.spec.in_channels, self.spec.input_length)
        if x.dim() != 3 or tuple(x.shape[1:]) != expected:
            hint = ""
            if x.dim() == 3 and x.shape[2] == expected[0] and x.shape[1] != expected[0]:
                hint = (f"; this looks like (N, L, {expected[0]}) (channels last): pass "
                        "X.transpose(0, 2, 1) (numpy) or x.transpose(1, 2) (torch)")
            raise InputShapeError(
                f"model {self.spec.name!r}: expected input of shape (N, {expected[0]}, "
                f"{expected[1]}) (one-hot rows A, C, G, T), found {tuple(x.shape)}{hint}"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last conv block, ``(N, filters_n, L_n)``."""
        self.check_input(x)
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, n_outputs)`` for one-hot input ``(N, 4, L)``."""
        h = self.flatten(self.features(x))
        if self.spec.dense > 0:
            h = self.dense_dropout(self.dense_act(self.dense_bn(self.dense(h))))
        return self.output(h)


def init_weights(model: nn.Module, init: str = "he",
                 generator: torch.Generator | None = None) -> None:
    """(Re)initialise conv/linear weights (He normal or Glorot uniform), zero biases, BN to 1/0.

    Parameters
    ----------
    model : nn.Module
    init : {"he", "glorot"}
    generator : torch.Generator, optional
        Source of randomness; the global RNG is used when None.
    """
    if init not in INITS:
        raise ConfigError(f"init: unknown initialisation {init!r}; valid: {', '.join(INITS)}")
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            if init == "he":
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu",
                                        generator=generator)
            else:
                nn.init.xavier_uniform_(module.weight, generator=generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()


def build_model(spec: ModelSpec, generator: torch.Generator | None = None,
                seed: int | None = None) -> MotifCNN:
    """Build and initialise the network of ``spec``.

    Parameters
    ----------
    spec : ModelSpec
    generator : torch.Generator, optional
        Randomness for the initial weights.
    seed : int, optional
        Shortcut for ``generator=torch.Generator().manual_seed(seed)``.

    Returns
    -------
    MotifCNN
        In training mode, on the CPU; ``model.blocks[i]`` are the ``ConvBlock`` s.
    """
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    # nn.Conv1d / nn.Linear draw their default initialisation from the global RNG; it is
    # overwritten right away, so fork the global state to leave the caller's untouched.
    with torch.random.fork_rng(devices=[]):
        model = MotifCNN(spec)
    init_weights(model, spec.init, generator)
    return model


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (batch-norm scale/shift included, running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
