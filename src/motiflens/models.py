"""The CNN architectures of Koo & Eddy (2019) and a small spec language to build others.

Every model is ``[ConvBlock] * n -> flatten -> dense (no bias) -> batch norm -> ReLU ->
dropout -> linear (n_outputs, bias)`` and returns logits of shape ``(N, n_outputs)``; the
sigmoid belongs to the loss and the metrics.

A ``ConvBlock`` is ``Conv1d`` (stride 1, zero "same" padding, no bias) -> ``BatchNorm1d`` ->
activation -> max-pool -> dropout. The max-pool reproduces TensorFlow's ``"SAME"`` pooling: the
output length is ``ceil(L / stride)`` and the input is padded with ``-inf`` by
``total = max((out - 1) * stride + size - L, 0)`` positions, ``total // 2`` on the left and the
rest on the right, so a window never sees a padded value as a maximum.

Conventions chosen here (see SPEC §2-§3):

- He initialisation (default, the paper's text) is ``torch.nn.init.kaiming_normal_`` with
  ``fan_in`` and the ReLU gain, i.e. an untruncated normal with std ``sqrt(2 / fan_in)`` as in
  He et al. (2015); ``init="glorot"`` is ``xavier_uniform_`` (the authors' code). Biases are 0,
  batch-norm scale 1 and shift 0.
- Batch norm defaults to ``eps=1e-3`` and PyTorch ``momentum=0.1`` (the paper does not state
  them); the authors' code used ``eps=1e-8`` and a moving-average decay of 0.99, i.e.
  ``momentum=0.01`` here, which ``TrainConfig.for_protocol("code")`` selects.
- Parameter counts (``count_parameters``) include batch-norm scale and shift but not the running
  statistics (they are buffers), matching the paper's table.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError
from motiflens.ops import Dropout, batch_norm_max_pool, can_fuse_pool, sliding_max_pool

__all__ = [
    "ConvBlockSpec",
    "ModelSpec",
    "ConvBlock",
    "SamePadMaxPool1d",
    "MotifCNN",
    "InputShapeError",
    "ACTIVATIONS",
    "MODEL_NAMES",
    "build_model",
    "model_spec",
    "count_parameters",
    "spec_from_dict",
    "parse_spec",
    "same_pool_length",
]


class InputShapeError(ConfigError, ValueError):
    """The input tensor does not have the shape the model was built for."""


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------

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

#: Activations that never decrease: for them act(maxpool(h)) == maxpool(act(h)) in value and
#: gradient, so training may apply them after the pool (the fused batch norm + pool path).
#: Any other activation (GELU dips below zero near -0.75) takes the stock conv -> bn -> act ->
#: pool order in training too.
NON_DECREASING = frozenset({"relu", "exponential", "sigmoid", "tanh", "softplus", "elu", "linear"})

#: The exponential activation's input is capped here: exp(40) = 2.4e17 is finite in fp32 and
#: bf16 (both reach 3.4e38) with room for the next layer's sums. Batch norm keeps the input
#: near unit scale, so the cap only acts on a runaway value, where it stops an inf (and the
#: NaN loss that follows) instead of changing the trained function.
EXP_INPUT_CAP = 40.0

INITS = ("he", "glorot")


class _Exp(nn.Module):
    """Exponential activation (Koo & Ploenzke 2021), ``exp(min(x, EXP_INPUT_CAP))``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.exp(torch.clamp(x, max=EXP_INPUT_CAP))


@dataclass
class ConvBlockSpec:
    """One convolutional block: conv -> batch norm -> activation -> max-pool -> dropout.

    Parameters
    ----------
    filters : int
        Number of convolution filters (output channels).
    width : int
        Filter width in positions.
    pool_size : int
        Max-pool window; 1 means no pooling.
    pool_stride : int or None
        Max-pool stride; None means equal to ``pool_size`` (non-overlapping windows).
    activation : str
        One of ``ACTIVATIONS``.
    dropout : float
        Dropout probability after the block.
    """

    filters: int
    width: int
    pool_size: int = 1
    pool_stride: int | None = None
    activation: str = "relu"
    dropout: float = 0.1

    @property
    def stride(self) -> int:
        """The effective max-pool stride."""
        return self.pool_size if self.pool_stride is None else self.pool_stride

    def validate(self, where: str = "conv") -> None:
        """Raise ``ConfigError`` naming the bad field if any value is out of range."""
        for key in ("filters", "width", "pool_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{where}.{key}: expected a positive integer, got {value!r}")
        if self.pool_stride is not None and (
            not isinstance(self.pool_stride, int) or self.pool_stride < 1
        ):
            raise ConfigError(
                f"{where}.pool_stride: expected a positive integer or null, got {self.pool_stride!r}"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"{where}.activation: unknown activation {self.activation!r}; "
                f"valid: {', '.join(ACTIVATIONS)}"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"{where}.dropout: expected 0 <= p < 1, got {self.dropout!r}")


@dataclass
class ModelSpec:
    """A full architecture.

    Parameters
    ----------
    name : str
        Display name, e.g. ``"CNN-25"``.
    conv : list of ConvBlockSpec
        The convolutional blocks, input side first.
    dense : int
        Units of the fully connected hidden layer; 0 means none (flatten -> output).
    dense_dropout : float
        Dropout after the hidden layer.
    n_outputs : int
        Number of output logits (classes).
    input_length : int
        Sequence length L the model accepts, input shape ``(N, in_channels, L)``.
    in_channels : int
        Alphabet size (4 for DNA).
    init : {"he", "glorot"}
        Weight initialisation of conv and linear weights.
    bn_eps, bn_momentum : float
        Batch-norm epsilon and PyTorch momentum (1 - TensorFlow's decay).
    """

    name: str
    conv: list[ConvBlockSpec]
    dense: int = 512
    dense_dropout: float = 0.5
    n_outputs: int = 12
    input_length: int = 200
    in_channels: int = 4
    init: str = "he"
    bn_eps: float = 1e-3
    bn_momentum: float = 0.1

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the bad key if the spec is not buildable."""
        if not self.conv:
            raise ConfigError(f"model {self.name!r}: conv: at least one conv block is required")
        for i, block in enumerate(self.conv):
            if not isinstance(block, ConvBlockSpec):
                raise ConfigError(f"model {self.name!r}: conv[{i}]: expected a ConvBlockSpec")
            block.validate(f"conv[{i}]")
        for key in ("n_outputs", "input_length", "in_channels"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
        if not isinstance(self.dense, int) or self.dense < 0:
            raise ConfigError(f"dense: expected a non-negative integer, got {self.dense!r}")
        if not 0.0 <= float(self.dense_dropout) < 1.0:
            raise ConfigError(f"dense_dropout: expected 0 <= p < 1, got {self.dense_dropout!r}")
        if self.init not in INITS:
            raise ConfigError(f"init: unknown initialisation {self.init!r}; valid: {', '.join(INITS)}")
        if not float(self.bn_eps) > 0:
            raise ConfigError(f"bn_eps: expected > 0, got {self.bn_eps!r}")
        if not 0.0 < float(self.bn_momentum) <= 1.0:
            raise ConfigError(f"bn_momentum: expected 0 < m <= 1, got {self.bn_momentum!r}")

    def lengths(self) -> list[int]:
        """Sequence length after each conv block, ``[L_1, ..., L_n]``."""
        out, length = [], self.input_length
        for block in self.conv:
            length = same_pool_length(length, block.stride)
            out.append(length)
        return out

    @property
    def flat_features(self) -> int:
        """Number of inputs to the dense layer: ``filters_n * L_n``."""
        return self.conv[-1].filters * self.lengths()[-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``spec_from_dict`` inverts it."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "ModelSpec":
        """A copy with some fields changed (``dataclasses.replace``), validated."""
        spec = dataclasses.replace(self, **changes)
        spec.validate()
        return spec


def spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    """Rebuild a ``ModelSpec`` from ``ModelSpec.to_dict()`` output (e.g. read from JSON).

    Raises
    ------
    ConfigError
        On unknown or missing keys, naming them and listing the valid ones.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"model spec: expected a mapping, got {type(data).__name__}")
    valid = [f.name for f in dataclasses.fields(ModelSpec)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"model spec: unknown key(s) {unknown}; valid: {', '.join(valid)}")
    for key in ("name", "conv"):
        if key not in data:
            raise ConfigError(f"model spec: missing key {key!r}")
    block_keys = [f.name for f in dataclasses.fields(ConvBlockSpec)]
    blocks = []
    for i, raw in enumerate(data["conv"]):
        if not isinstance(raw, dict):
            raise ConfigError(f"model spec: conv[{i}]: expected a mapping")
        bad = sorted(set(raw) - set(block_keys))
        if bad:
            raise ConfigError(f"conv[{i}]: unknown key(s) {bad}; valid: {', '.join(block_keys)}")
        try:
            blocks.append(ConvBlockSpec(**raw))
        except TypeError as exc:
            raise ConfigError(f"conv[{i}]: {exc}") from None
    kwargs = {k: v for k, v in data.items() if k != "conv"}
    spec = ModelSpec(conv=blocks, **kwargs)
    spec.validate()
    return spec


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------

def same_pool_length(length: int, stride: int) -> int:
    """Output length of TensorFlow "SAME" pooling: ``ceil(length / stride)``."""
    return -(-int(length) // int(stride))


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


# --------------------------------------------------------------------------------------------
# The paper's architectures
# --------------------------------------------------------------------------------------------

def _two_layer(name: str, width1: int, pool1: int, pool2: int, *, filters1: int = 30,
               filters2: int = 128, width2: int = 5, stride1: int | None = None,
               dense: int = 512) -> dict[str, Any]:
    return {
        "name": name,
        "conv": [ConvBlockSpec(filters1, width1, pool1, stride1),
                 ConvBlockSpec(filters2, width2, pool2)],
        "dense": dense,
    }


def _paper_table() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for pool1 in (1, 2, 4, 10, 25, 50, 100):
        table[f"CNN-{pool1}"] = _two_layer(f"CNN-{pool1}", 19, pool1, 100 // pool1)
    for width, pools in ((9, (4, 25)), (3, (2, 50))):
        for pool1 in pools:
            name = f"CNN{width}-{pool1}"
            table[name] = _two_layer(name, width, pool1, 100 // pool1)
    table["CNN-50-2"] = _two_layer("CNN-50-2", 19, 50, 50, stride1=2, filters2=64, dense=96)
    table["CNN19-1-2"] = _two_layer("CNN19-1-2", 19, 2, 50, width2=1)
    table["CNN-1-1-100"] = {
        "name": "CNN-1-1-100",
        "conv": [ConvBlockSpec(30, 19, 1), ConvBlockSpec(128, 5, 1), ConvBlockSpec(128, 5, 100)],
        "dense": 512,
    }
    for filters in (60, 90, 120):
        name = f"CNN-25-{filters}"
        table[name] = _two_layer(name, 19, 25, 4, filters1=filters)
    return table


_PAPER = _paper_table()

#: Names accepted by ``model_spec`` (case-insensitive), in the order of SPEC §2.
MODEL_NAMES: list[str] = list(_PAPER)

#: One-line description per name, for ``motiflens models``.
MODEL_DESCRIPTIONS: dict[str, str] = {
    **{f"CNN-{p}": f"conv 30x19, pool {p}; conv 128x5, pool {100 // p}; dense 512"
       for p in (1, 2, 4, 10, 25, 50, 100)},
    "CNN9-4": "conv 30x9, pool 4; conv 128x5, pool 25; dense 512",
    "CNN9-25": "conv 30x9, pool 25; conv 128x5, pool 4; dense 512",
    "CNN3-2": "conv 30x3, pool 2; conv 128x5, pool 50; dense 512",
    "CNN3-50": "conv 30x3, pool 50; conv 128x5, pool 2; dense 512",
    "CNN-50-2": "conv 30x19, pool 50 stride 2; conv 64x5, pool 50; dense 96",
    "CNN19-1-2": "conv 30x19, pool 2; conv 128x1, pool 50; dense 512",
    "CNN-1-1-100": "conv 30x19, pool 1; conv 128x5, pool 1; conv 128x5, pool 100; dense 512",
    "CNN-25-60": "CNN-25 with 60 first-layer filters",
    "CNN-25-90": "CNN-25 with 90 first-layer filters",
    "CNN-25-120": "CNN-25 with 120 first-layer filters",
}


def with_activations(spec: ModelSpec, activations: dict[int, str]) -> ModelSpec:
    """``spec`` with the activation of conv layer ``k`` (1-based) set to ``activations[k]``.

    Raises
    ------
    ConfigError
        A layer beyond the spec's conv layers, or an unknown activation name.
    """
    if not activations:
        return spec
    conv = list(spec.conv)
    for layer, name in activations.items():
        if not 1 <= int(layer) <= len(conv):
            raise ConfigError(f"activation for layer {layer}: {spec.name} has conv layers "
                              f"1..{len(conv)}")
        conv[int(layer) - 1] = dataclasses.replace(conv[int(layer) - 1], activation=str(name))
    new = spec.replace(conv=conv)
    new.validate()
    return new


def parse_activations(items: Sequence[str]) -> dict[int, str]:
    """``["exponential"]`` or ``["1=exponential", "2=relu"]`` -> ``{layer: name}`` (a bare name
    means layer 1), as given to ``--activation``.

    Raises
    ------
    ConfigError
        A malformed item or an unknown activation (the valid names are listed).
    """
    out: dict[int, str] = {}
    for item in items:
        layer_text, sep, name = str(item).rpartition("=")
        layer = 1
        if sep:
            if not layer_text.isdigit() or int(layer_text) < 1:
                raise ConfigError(f"--activation {item!r}: expected NAME or LAYER=NAME with a "
                                  "conv layer number >= 1 (e.g. 1=exponential)")
            layer = int(layer_text)
        if name not in ACTIVATIONS:
            raise ConfigError(f"--activation {item!r}: unknown activation {name!r}; valid: "
                              f"{', '.join(ACTIVATIONS)}")
        out[layer] = name
    return out


def model_spec(name: str, input_length: int = 200, n_outputs: int = 12, **overrides: Any
               ) -> ModelSpec:
    """The spec of a paper architecture by name.

    Pool sizes are the paper's at every input length (at 1000 nt the dense layer then sees
    ``128 * 10`` inputs, which reproduces the paper's 1000-nt parameter counts).

    Parameters
    ----------
    name : str
        One of ``MODEL_NAMES`` (case-insensitive), e.g. ``"CNN-25"``; a spec string accepted by
        ``parse_spec`` also works.
    input_length : int
        Sequence length L.
    n_outputs : int
        Number of classes.
    **overrides
        Other ``ModelSpec`` fields (``init``, ``bn_eps``, ``dense_dropout``, ...).

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid names) or bad override.
    """
    lookup = {n.lower(): n for n in MODEL_NAMES}
    key = str(name).strip().lower()
    if key in lookup:
        base = _PAPER[lookup[key]]
        conv = [dataclasses.replace(b) for b in base["conv"]]
        fields = {"name": base["name"], "conv": conv, "dense": base["dense"]}
    elif _SPEC_RE.match(str(name).strip()) or _SPEC_BLOCK_RE.search(str(name)):
        # A spec string, or something that looks like one (a FILTERSxWIDTH block): parse_spec
        # names the part that does not parse.
        try:
            parsed = parse_spec(name, input_length=input_length, n_outputs=n_outputs)
        except ConfigError as exc:
            text = str(exc) if repr(str(name).strip()) in str(exc) else (
                f"model spec string {str(name).strip()!r}: {exc}")
            raise ConfigError(f"{text} (--model; `motiflens models` lists the named "
                              "architectures)") from None
        fields = {"name": parsed.name, "conv": parsed.conv, "dense": parsed.dense}
    else:
        raise ConfigError(
            f"unknown model name {name!r} (--model); valid names: {', '.join(MODEL_NAMES)} "
            "(or a spec string such as '30x19p25-128x5p4-d512')"
        )
    valid = {f.name for f in dataclasses.fields(ModelSpec)} - {"name", "conv"}
    bad = sorted(set(overrides) - valid)
    if bad:
        raise ConfigError(f"model override(s) {bad} unknown; valid: {', '.join(sorted(valid))}")
    spec = ModelSpec(input_length=input_length, n_outputs=n_outputs, **fields, **overrides)
    spec.validate()
    return spec


_BLOCK_RE = re.compile(r"^(\d+)x(\d+)(?:p(\d+)(?:s(\d+))?)?$")
_SPEC_RE = re.compile(r"^\d+x\d+(p\d+(s\d+)?)?(-\d+x\d+(p\d+(s\d+)?)?)*(-d\d+)?$")
_SPEC_BLOCK_RE = re.compile(r"\d+x\d+")


def parse_spec(text: str, input_length: int = 200, n_outputs: int = 12,
               name: str | None = None) -> ModelSpec:
    """Parse a compact architecture string.

    Grammar: blocks ``FILTERSxWIDTH[pPOOL[sSTRIDE]]`` joined by ``-``, optionally ending in
    ``-dUNITS`` for the dense layer (default 512, ``d0`` for none). Example: CNN-50-2 is
    ``"30x19p50s2-64x5p50-d96"``; CNN-25 is ``"30x19p25-128x5p4"``.

    Raises
    ------
    ConfigError
        If a part does not follow the grammar (the part is named).
    """
    parts = str(text).strip().split("-")
    dense = 512
    if parts and parts[-1].startswith("d") and parts[-1][1:].isdigit():
        dense = int(parts.pop()[1:])
    blocks = []
    for part in parts:
        match = _BLOCK_RE.match(part)
        if not match:
            raise ConfigError(
                f"model spec string {text!r}: cannot parse {part!r}; expected "
                "FILTERSxWIDTH[pPOOL[sSTRIDE]] blocks joined by '-', then optional -dUNITS"
            )
        filters, width, pool, stride = match.groups()
        blocks.append(ConvBlockSpec(int(filters), int(width), int(pool or 1),
                                    int(stride) if stride else None))
    spec = ModelSpec(name=name or str(text).strip(), conv=blocks, dense=dense,
                     input_length=input_length, n_outputs=n_outputs)
    spec.validate()
    return spec


def receptive_field(spec: ModelSpec, layer: int) -> int:
    """Receptive field (in input positions) of one unit of conv layer ``layer`` (0-based),
    before that layer's pooling.

    Computed with the usual recursion: ``r += (w - 1) * j`` then ``j *= stride`` after pooling,
    with ``r += (pool - 1) * j`` for each earlier pool.
    """
    if not 0 <= layer < len(spec.conv):
        raise ConfigError(f"layer {layer}: model {spec.name!r} has {len(spec.conv)} conv layers")
    rf, jump = 1, 1
    for i, block in enumerate(spec.conv):
        rf += (block.width - 1) * jump
        if i == layer:
            return rf
        rf += (block.pool_size - 1) * jump
        jump *= block.stride
    raise AssertionError("unreachable")  # pragma: no cover

