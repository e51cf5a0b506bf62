"""Receptive-field arithmetic for 1-D convolutional networks.

A network is treated as a **linear chain** of length-changing operations (convolutions,
poolings, explicit paddings), each described by a :class:`Geometry`. Composing the chain
from the input gives, for every position ``j`` of a layer's output, the input window it can
see: ``[start + j * jump, start + j * jump + size)``. Positions outside ``[0, L)`` are the
zero padding of the network. Branching networks (skip connections, parallel towers) do not
fit this model; pass an explicit ``window=`` to
:func:`motiflens.interpret.filters.filters_to_motifs` for those.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from torch import nn

from motiflens.errors import ConfigError

__all__ = [
    "Geometry",
    "ReceptiveField",
    "compose",
    "geometry_of",
    "is_geometry_module",
    "tf_same_left_padding",
]


@dataclass(frozen=True)
class Geometry:
    """One length-changing operation: ``out[j]`` reads ``in[j*stride - pad_left + i*dilation]``
    for ``i`` in ``0..kernel-1``."""

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    pad_left: int = 0


@dataclass(frozen=True)
class ReceptiveField:
    """Where an output position of a layer looks on the input.

    Attributes
    ----------
    size : int
        Width of the window on the input (the true receptive field).
    jump : int
        Input distance between two adjacent output positions (product of strides).
    start : int
        Input start of output position 0 (negative when it reaches into the padding).
    """

    size: int = 1
    jump: int = 1
    start: int = 0

    def window(self, position: int) -> tuple[int, int]:
        """Input ``[start, stop)`` seen by output ``position``."""
        begin = self.start + position * self.jump
        return begin, begin + self.size

    def then(self, op: Geometry) -> "ReceptiveField":
        """The receptive field after applying ``op`` to this layer's output."""
        return ReceptiveField(
            size=self.size + (op.kernel - 1) * op.dilation * self.jump,
            jump=self.jump * op.stride,
            start=self.start - op.pad_left * self.jump,
        )


def compose(ops: Iterable[Geometry]) -> ReceptiveField:
    """Compose a chain of operations, input first, into a :class:`ReceptiveField`."""
    field = ReceptiveField()
    for op in ops:
        field = field.then(op)
    return field


def tf_same_left_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Left padding of TensorFlow ``"SAME"`` padding for an input of ``length``.

    Output length is ``ceil(length / stride)``; the total padding is split with the smaller
    half on the left.
    """
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2


_POOLS = (nn.MaxPool1d, nn.AvgPool1d)
_PADS = (nn.ConstantPad1d, nn.ZeroPad1d, nn.ReflectionPad1d, nn.ReplicationPad1d)


def _first(value: object) -> object:
    """``3`` from ``3`` or ``(3,)``."""
    if isinstance(value, (tuple, list)):
        return value[0]
    return value


def _is_custom_pool(module: nn.Module) -> bool:
    name = type(module).__name__.lower()
    has_kernel = hasattr(module, "kernel_size") or hasattr(module, "size")
    return "pool" in name and has_kernel and hasattr(module, "stride")


def is_geometry_module(module: nn.Module) -> bool:
    """Whether ``module`` changes the positional geometry (conv, pool or padding)."""
    return isinstance(module, (nn.Conv1d, *_POOLS, *_PADS)) or _is_custom_pool(module)


def _conv_geometry(conv: nn.Conv1d) -> Geometry:
    kernel = int(_first(conv.kernel_size))
    stride = int(_first(conv.stride))
    dilation = int(_first(conv.dilation))
    if conv.padding == "same":
        pad = (dilation * (kernel - 1)) // 2  # PyTorch puts the smaller half on the left
    elif conv.padding == "valid":
        pad = 0
    else:
        pad = int(_first(conv.padding))
    return Geometry(kernel, stride, dilation, pad)


def _pool_padding(pool: nn.Module, kernel: int, stride: int, dilation: int,
                  in_length: int | None) -> int:
    """Left padding of a pooling module (explicit, callable, or TensorFlow SAME)."""
    default: object = 0 if isinstance(pool, _POOLS) else "same"
    padding = getattr(pool, "padding", default)
    if callable(padding):  # e.g. motiflens.models.SamePadMaxPool1d.padding(length) -> (l, r)
        if in_length is None:
            raise ConfigError(f"{type(pool).__name__}: its input length is needed for its padding")
        return int(_first(padding(in_length)))
    padding = _first(padding)
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return 0
        if in_length is None:
            raise ConfigError(
                f"{type(pool).__name__} uses SAME padding; its input length is needed")
        return tf_same_left_padding(in_length, kernel, stride, dilation)
    return int(padding)


def _pool_geometry(pool: nn.Module, in_length: int | None) -> Geometry:
    kernel = int(_first(getattr(pool, "kernel_size", getattr(pool, "size", 1))))
    stride_attr = _first(getattr(pool, "stride", None))
    stride = int(stride_attr) if stride_attr else kernel
    dilation = int(_first(getattr(pool, "dilation", 1)) or 1)
    pad = _pool_padding(pool, kernel, stride, dilation, in_length)
    return Geometry(kernel, stride, dilation, pad)


def geometry_of(module: nn.Module, in_length: int | None = None) -> Geometry:
    """The :class:`Geometry` of a convolution, pooling or padding module.

    Parameters
    ----------
    module : nn.Module
        ``nn.Conv1d``, ``nn.MaxPool1d``, ``nn.AvgPool1d``, a 1-D padding module, or a custom
        pooling module (class name containing "Pool") with ``kernel_size`` (or ``size``) and
        ``stride`` attributes and optionally ``padding``: an int, ``"valid"``, ``"same"``, a
        method ``padding(length) -> (left, right)`` (``motiflens.models.SamePadMaxPool1d``)
        or, when absent, TensorFlow-style SAME padding.
    in_length : int, optional
        Length of the module's input; needed for TensorFlow-style SAME pooling.
    """
    if isinstance(module, nn.Conv1d):
        return _conv_geometry(module)
    if isinstance(module, _PADS):
        return Geometry(1, 1, 1, int(_first(module.padding)))
    if isinstance(module, _POOLS) or _is_custom_pool(module):
        return _pool_geometry(module, in_length)
    raise ConfigError(f"no receptive-field rule for module type {type(module).__name__}")
