"""From convolutional filters to motifs (SPEC §4, the paper's "Visualizing first layer filters").

Works on any PyTorch ``nn.Module`` that takes ``(N, C, L)`` input, not only motiflens models.

Layer selection
---------------
``layer`` is an ``int`` (the n-th ``nn.Conv1d``, 1-based as the paper's "layer 1", counted in
**execution order** of a probe forward pass, which equals registration order for sequential
models), a dotted module name, or a module. For a convolution, the activation that is read
is, in order of preference:

1. ``activation=`` given explicitly (module or dotted name), at its first call after the conv;
2. ``model.blocks[i].act`` when ``model.blocks[i].conv`` is the conv (motiflens models);
3. the first nonlinearity module (ReLU, ELU, GELU, Softplus, Sigmoid, Tanh, an ``Exp``-like
   module, ...) that *executes* after the conv, found by recording the execution order of all
   leaf modules during a probe forward (works for ``nn.Sequential`` and for custom forwards that
   call modules, including one shared ReLU module called several times); the search stops at
   the next Conv/Linear/Flatten;
4. otherwise (e.g. ``F.relu`` called functionally) the batch-norm output if a ``BatchNorm1d``
   runs right after the conv, else the conv output, with a ``UserWarning``.

A non-convolution module passed as ``layer`` is read directly (it is the activation).

Receptive field
---------------
The window of an activation position is the layer's true receptive field on the input,
composed from the ``Conv1d`` / pooling / padding modules that execute up to the activation,
assuming they form a **linear chain** (see :mod:`motiflens.interpret.receptive_field`).
``window=`` overrides its width; the window stays centred on the receptive field.

Alignment modes
---------------
``paper`` (default, the paper's text): one window per sequence, at the position of that
sequence's maximum activation (first position on ties), kept when that maximum is
``>= threshold`` (default 0.7) times the filter's *maximum possible activation*; windows that run
off the sequence ends are dropped; the PPM is the base frequency of the aligned windows. The
maximum possible activation is computed analytically for a first layer on one-hot input:
``sum_k max_b W[f, b, k] + bias`` (and the minimum likewise), passed through the per-channel
modules between the conv and the activation (batch norm in eval mode, dropout, the activation)
and the larger end taken; it is raised to the observed maximum if that is larger (inputs with
N columns can exceed it). For deeper layers, or a first layer followed by anything else, the
maximum observed over ``X`` is used; ``FilterMotifs.reference_basis`` says which.

``code`` (the authors' code): every (sequence, position) whose activation is
``>= threshold`` (default 0.5) times the filter's maximum observed over ``X`` contributes its
window weighted by the activation; windows off the ends are zero-padded.

In both modes a column is normalised by the weight of real bases in it (zero-padding and N
bases count for nothing), no pseudocount; a column with no real base at all is uniform.
Only positive activations count (an activation must be ``> 0`` as well as above threshold).

Dead filters
------------
A filter whose maximum observed activation is ``<= 0`` (it never fires on ``X``) or that yields
no window is *dead*: ``FilterMotifs.alive[i]`` is False, its ``Motif`` has a uniform PPM and the
name ``"dead"`` and it is left out of :meth:`FilterMotifs.alive_motifs`. Never send dead
filters to Tomtom as if they were motifs.

Memory
------
Activations are never held for the whole set. ``paper`` mode runs the network once, keeping the
per-sequence maximum and its position ``(N, C)``; windows are then cut from ``X``. ``code`` mode
runs the network twice: pass 1 finds each filter's maximum, pass 2 accumulates weighted windows.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError, DatasetError
from motiflens.interpret.receptive_field import (
    ReceptiveField,
    compose,
    geometry_of,
    is_geometry_module,
)
from motiflens.motifs import Motif

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FilterMotifs",
    "LayerSelection",
    "filters_to_motifs",
    "is_nonlinearity",
    "layer_activations",
    "receptive_field",
    "resolve_layer",
    "trace_calls",
    "weight_motifs",
]

Mode = Literal["paper", "code"]
LayerRef = int | str | nn.Module

#: Default threshold (fraction of the reference activation) per mode.
DEFAULT_THRESHOLDS: dict[str, float] = {"paper": 0.7, "code": 0.5}

_NONLINEAR_TYPES: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Softplus, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish,
    nn.Hardsigmoid, nn.LogSigmoid, nn.Softsign, nn.Tanhshrink, nn.Threshold,
)
_NONLINEAR_NAME = re.compile(r"relu|elu|softplus|sigmoid|tanh|swish|silu|mish|activation")
_EXP_NAME = re.compile(r"^_*exp(onential)?(act|activation)?_*$")
_BARRIERS: tuple[type, ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Flatten,
                               nn.RNNBase, nn.MultiheadAttention)
_ELEMENTWISE: tuple[type, ...] = (nn.BatchNorm1d, nn.Dropout, nn.Identity)


def is_nonlinearity(module: nn.Module) -> bool:
    """Whether ``module`` is an activation function (a torch one, or by its class name)."""
    if isinstance(module, _NONLINEAR_TYPES):
        return True
    name = type(module).__name__.lower()
    return bool(_NONLINEAR_NAME.search(name) or _EXP_NAME.match(name))


# --------------------------------------------------------------------------------------------
# Input batches and model state
# --------------------------------------------------------------------------------------------
def _check_input(X: Any) -> int:
    """Validate ``X`` (N, C, L) and return N."""
    shape = tuple(getattr(X, "shape", ()))
    if len(shape) != 3:
        raise DatasetError(f"sequences: expected an array of shape (N, 4, L), got shape {shape}")
    if shape[2] == 4 and shape[1] != 4:
        raise DatasetError(
            f"sequences: expected an array of shape (N, 4, L) (one-hot rows A, C, G, T), got "
            f"shape {shape}, which looks like (N, L, 4) (channels last): pass "
            "X.transpose(0, 2, 1) (numpy) or x.transpose(1, 2) (torch)")
    if shape[0] == 0:
        raise DatasetError("sequences: the set is empty (N = 0)")
    return int(shape[0])


def _as_tensor(batch: Any) -> torch.Tensor:
    """A float32 CPU tensor from a numpy array, h5py slice or tensor."""
    if isinstance(batch, torch.Tensor):
        return batch.detach().to("cpu", torch.float32)
    return torch.from_numpy(np.asarray(batch, dtype=np.float32))


def _batches(X: Any, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, batch)`` with batch ``(B, C, L)`` float32 on the CPU."""
    if batch_size < 1:
        raise ConfigError(f"batch_size: expected a positive integer, got {batch_size!r}")
    n = _check_input(X)
    for start in range(0, n, batch_size):
        yield start, _as_tensor(X[start:start + batch_size])


def _device(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode; restore each one's own flag afterwards."""
    states = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in states:
            module.training = training


def _module_names(model: nn.Module) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, module in model.named_modules():
        names.setdefault(id(module), name or type(module).__name__)
    return names


# --------------------------------------------------------------------------------------------
# Tracing the execution order
# --------------------------------------------------------------------------------------------
@dataclass
class _Call:
    """One call of a leaf module during the probe forward."""

    index: int
    name: str
    module: nn.Module
    call: int
    in_length: int | None
    out_length: int | None


def _length(value: Any) -> int | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    if isinstance(value, torch.Tensor) and value.dim() >= 3:
        return int(value.shape[-1])
    return None


def trace_calls(model: nn.Module, example: torch.Tensor) -> list[_Call]:
    """Leaf-module calls, in execution order, of one forward pass on ``example`` ``(B, C, L)``.

    The model runs in eval mode under ``torch.no_grad``.
    """
    names = _module_names(model)
    calls: list[_Call] = []
    counts: dict[int, int] = {}

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        n = counts.get(id(module), 0)
        counts[id(module)] = n + 1
        calls.append(_Call(len(calls), names.get(id(module), type(module).__name__), module, n,
                           _length(inputs), _length(output)))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad(), _eval_mode(model):
            model(example.to(_device(model)))
    finally:
        for handle in handles:
            handle.remove()
    return calls


# --------------------------------------------------------------------------------------------
# Layer selection
# --------------------------------------------------------------------------------------------
@dataclass
class LayerSelection:
    """Which module output is read, and where its positions look on the input.

    Attributes
    ----------
    conv_name : str or None
        Dotted name of the convolution (None if no Conv1d runs before the activation).
    activation_name : str
        Dotted name of the module whose output is read.
    source : str
        How it was found: ``explicit``, ``block``, ``traced``, ``batchnorm`` (fallback),
        ``conv`` (fallback) or ``layer`` (a non-conv module given as ``layer``).
    receptive_field : ReceptiveField
    """

    conv_name: str | None
    conv: nn.Conv1d | None = field(repr=False)
    activation_name: str
    activation: nn.Module = field(repr=False)
    activation_call: int
    source: str
    receptive_field: ReceptiveField
    chain: list[nn.Module] = field(repr=False, default_factory=list)
    first_layer: bool = False


def _lookup(model: nn.Module, ref: str | nn.Module, what: str) -> tuple[str, nn.Module]:
    modules = dict(model.named_modules())
    if isinstance(ref, nn.Module):
        for name, module in modules.items():
            if module is ref:
                return name or type(ref).__name__, module
        raise ConfigError(f"{what}: the {type(ref).__name__} module given is not part of the model")
    if isinstance(ref, str) and ref in modules:
        return ref, modules[ref]
    convs = [n for n, m in modules.items() if isinstance(m, nn.Conv1d)]
    raise ConfigError(f"{what} {ref!r}: no module of that name; the Conv1d layers are {convs}")


def _first_call_after(trace: list[_Call], module: nn.Module, after: int, what: str) -> _Call:
    for call in trace[after + 1:]:
        if call.module is module:
            return call
    raise ConfigError(f"{what}: module does not run (after index {after}) in the forward pass; "
                      "only leaf modules called through module(...) can be read")


def _block_activation(model: nn.Module, conv: nn.Module) -> nn.Module | None:
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Module):
        return None
    for block in blocks.children():
        act = getattr(block, "act", None)
        if getattr(block, "conv", None) is conv and isinstance(act, nn.Module):
            return act
    return None


def _find_activation(model: nn.Module, trace: list[_Call], conv: _Call,
                     activation: str | nn.Module | None) -> tuple[_Call, str]:
    if activation is not None:
        _, module = _lookup(model, activation, "activation")
        return _first_call_after(trace, module, conv.index, "activation"), "explicit"
    act = _block_activation(model, conv.module)
    if act is not None:
        return _first_call_after(trace, act, conv.index, "activation"), "block"
    for call in trace[conv.index + 1:]:
        if is_nonlinearity(call.module):
            return call, "traced"
        if isinstance(call.module, _BARRIERS):
            break
    following = trace[conv.index + 1] if conv.index + 1 < len(trace) else None
    if following is not None and isinstance(following.module, nn.BatchNorm1d):
        warnings.warn(f"no activation module runs after {conv.name}; reading the output of "
                      f"batch norm {following.name} (pass activation= to choose)", stacklevel=3)
        return following, "batchnorm"
    warnings.warn(f"no activation module runs after {conv.name}; reading the convolution "
                  "output (pass activation= to choose)", stacklevel=3)
    return conv, "conv"


def _receptive_field(trace: list[_Call], upto: int) -> ReceptiveField:
    ops = []
    for call in trace[:upto + 1]:
        if is_geometry_module(call.module):
            ops.append(geometry_of(call.module, call.in_length))
        elif call.in_length is not None and call.out_length not in (None, call.in_length):
            raise ConfigError(
                f"module {call.name} ({type(call.module).__name__}) changes the sequence length "
                "and has no receptive-field rule; pass window= explicitly"
            )
    return compose(ops)


def _is_first_layer(trace: list[_Call], conv: _Call | None) -> bool:
    if conv is None or conv.call != 0:
        return False
    earlier = [c for c in trace[:conv.index] if is_geometry_module(c.module)]
    return not earlier and conv.module.groups == 1 and conv.module.padding_mode == "zeros"


def resolve_layer(model: nn.Module, layer: LayerRef = 1, activation: str | nn.Module | None = None,
                  example: torch.Tensor | None = None,
                  trace: list[_Call] | None = None) -> LayerSelection:
    """Find the convolution, the activation to read and its receptive field.

    Parameters
    ----------
    model : nn.Module
    layer : int, str or nn.Module
        1-based index of a Conv1d in execution order, a dotted module name, or a module.
    activation : str or nn.Module, optional
        The module whose output is the activation (overrides the search).
    example : (B, C, L) tensor
        Probe input (one or two sequences are enough); needed unless ``trace`` is given.
    trace : list, optional
        The output of :func:`trace_calls`, to avoid a second probe.

    Raises
    ------
    ConfigError
        Unknown layer, index out of range, or a module that does not run.
    """
    if trace is None:
        if example is None:
            raise ConfigError("resolve_layer: an example input is needed to trace the model")
        trace = trace_calls(model, example)
    target = _target_call(model, trace, layer)
    if isinstance(target.module, nn.Conv1d):
        conv: _Call | None = target
        act, source = _find_activation(model, trace, target, activation)
    else:
        if activation is not None:
            raise ConfigError("layer: give either a convolution with activation=, or the "
                              "activation module itself as layer, not both")
        convs = [c for c in trace[:target.index] if isinstance(c.module, nn.Conv1d)]
        conv, act, source = (convs[-1] if convs else None), target, "layer"
    chain = [c.module for c in trace[conv.index + 1:act.index + 1]] if conv is not None else []
    return LayerSelection(
        conv_name=conv.name if conv is not None else None,
        conv=conv.module if conv is not None else None,
        activation_name=act.name, activation=act.module, activation_call=act.call,
        source=source, receptive_field=_receptive_field(trace, act.index), chain=chain,
        first_layer=_is_first_layer(trace, conv),
    )


def _target_call(model: nn.Module, trace: list[_Call], layer: LayerRef) -> _Call:
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        convs = [c for c in trace if isinstance(c.module, nn.Conv1d) and c.call == 0]
        if not 1 <= int(layer) <= len(convs):
            raise ConfigError(f"layer {layer}: the model has {len(convs)} Conv1d layer(s) "
                              f"(1-based: 1..{len(convs)})")
        return convs[int(layer) - 1]
    if not isinstance(layer, (str, nn.Module)):
        raise ConfigError(f"layer: expected an int, a module name or a module, got {layer!r}")
    _, module = _lookup(model, layer, "layer")
    return _first_call_after(trace, module, -1, f"layer {layer!r}")


# --------------------------------------------------------------------------------------------
# Reading activations
# --------------------------------------------------------------------------------------------
class _Stop(Exception):
    """Raised inside a hook to end the forward pass once the activation is captured."""


class _Capture:
    """Forward hook that keeps the output of the ``call``-th call of a module."""

    def __init__(self, module: nn.Module, call: int) -> None:
        self.module, self.call = module, call
        self.count, self.value = 0, None

    def hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if self.count == self.call:
            out = output[0] if isinstance(output, (tuple, list)) else output
            self.value = out.detach()
            raise _Stop
        self.count += 1

    def run(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        self.count, self.value = 0, None
        handle = self.module.register_forward_hook(self.hook)
        try:
            model(batch)
        except _Stop:
            pass
        finally:
            handle.remove()
        if self.value is None:
            raise ConfigError("the selected activation did not run during the forward pass")
        return self.value


def _iter_activations(model: nn.Module, X: Any, sel: LayerSelection, batch_size: int
                      ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield ``(start, x_batch (B, C, L), activation (B, F, L'))``, both float32 on the CPU."""
    capture = _Capture(sel.activation, sel.activation_call)
    device = _device(model)
    with torch.no_grad(), _eval_mode(model):
        for start, batch in _batches(X, batch_size):
            act = capture.run(model, batch.to(device)).to("cpu", torch.float32)
            if act.dim() != 3 or act.shape[0] != batch.shape[0]:
                raise ConfigError(f"{sel.activation_name}: output of shape {tuple(act.shape)}; "
                                  "expected (N, filters, length)")
            yield start, batch, act


def _probe(model: nn.Module, X: Any) -> list[_Call]:
    _check_input(X)
    return trace_calls(model, _as_tensor(X[0:2]))


def layer_activations(model: nn.Module, X: Any, layer: LayerRef = 1,
                      activation: str | nn.Module | None = None, batch_size: int = 512
                      ) -> np.ndarray:
    """Activations of one layer for all sequences (eval mode, no gradients, batched).

    This holds the full ``(N, F, L')`` array; :func:`filters_to_motifs` does not need it.

    Parameters
    ----------
    model : nn.Module
    X : (N, C, L) array-like (numpy, h5py dataset or tensor)
    layer, activation : see :func:`resolve_layer`
    batch_size : int

    Returns
    -------
    (N, F, L') float32 array
    """
    sel = resolve_layer(model, layer, activation, trace=_probe(model, X))
    parts = [act.numpy() for _, _, act in _iter_activations(model, X, sel, batch_size)]
    return np.concatenate(parts, axis=0)


def receptive_field(model: nn.Module, layer: LayerRef, input_length: int,
                    in_channels: int = 4) -> ReceptiveField:
    """Receptive field of ``layer`` (see :func:`resolve_layer`) for inputs of ``input_length``."""
    example = torch.zeros(1, in_channels, input_length)
    example[:, 0] = 1.0
    return resolve_layer(model, layer, example=example).receptive_field


# --------------------------------------------------------------------------------------------
# Reference activations and windows
# --------------------------------------------------------------------------------------------
def _possible_max(sel: LayerSelection) -> np.ndarray | None:
    """Analytic maximum activation of a first layer on one-hot input, or None."""
    if not sel.first_layer or sel.conv is None:
        return None
    if not all(isinstance(m, _ELEMENTWISE) or is_nonlinearity(m) for m in sel.chain):
        return None
    weight = sel.conv.weight.detach().to("cpu", torch.float64)
    bias = sel.conv.bias
    hi, lo = weight.amax(dim=1).sum(dim=-1), weight.amin(dim=1).sum(dim=-1)
    if bias is not None:
        b = bias.detach().to("cpu", torch.float64)
        hi, lo = hi + b, lo + b
    ends = torch.stack([lo, hi], dim=-1)[None]  # (1, F, 2)
    with torch.no_grad():
        for module in sel.chain:
            ends = module(ends.to(_device(module), _param_dtype(module))).to("cpu", torch.float64)
    return ends[0].amax(dim=-1).numpy()


def _param_dtype(module: nn.Module) -> torch.dtype:
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float64


@dataclass(frozen=True)
class _Windows:
    """Activation position ``j`` -> input window ``[offset + j * jump, ... + width)``."""

    offset: int
    jump: int
    width: int


def _windows(field_: ReceptiveField, window: int | None) -> _Windows:
    if window is None:
        return _Windows(field_.start, field_.jump, field_.size)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ConfigError(f"window: expected a positive integer, got {window!r}")
    return _Windows(field_.start + (field_.size - int(window)) // 2, field_.jump, int(window))


def _add_windows(counts: torch.Tensor, x: torch.Tensor, rows: torch.Tensor, filters: torch.Tensor,
                 starts: torch.Tensor, weights: torch.Tensor | None, width: int,
                 chunk: int = 65536) -> None:
    """``counts[f] += weight * x[row, :, start:start+width]`` for every listed site.

    ``starts`` index into ``x``, which must already hold any zero padding.
    """
    if rows.numel() == 0:
        return
    unfolded = x.unfold(2, width, 1)  # (B, C, L - width + 1, width), a view
    for i in range(0, rows.numel(), chunk):
        part = slice(i, i + chunk)
        win = unfolded[rows[part], :, starts[part]].to(torch.float64)  # (n, C, width)
        if weights is not None:
            win = win * weights[part].to(torch.float64)[:, None, None]
        counts.index_add_(0, filters[part], win)


def _paper_pass(model: nn.Module, X: Any, sel: LayerSelection, batch_size: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sequence max and argmax ``(N, F)`` and per-filter max ``(F,)``."""
    maxima, positions = [], []
    for _, _, act in _iter_activations(model, X, sel, batch_size):
        maxima.append(act.amax(dim=2).numpy())
        positions.append(act.argmax(dim=2).numpy())  # the first maximal position on ties
    seq_max = np.concatenate(maxima)
    return seq_max, np.concatenate(positions), seq_max.max(axis=0)


def _paper_counts(X: Any, seq_max: np.ndarray, seq_pos: np.ndarray, thresholds: np.ndarray,
                  win: _Windows, batch_size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Unweighted counts ``(F, C, w)`` of one window per kept sequence, off-end windows dropped."""
    length = int(X.shape[2])
    starts = win.offset + seq_pos.astype(np.int64) * win.jump
    keep = (seq_max >= thresholds[None]) & (seq_max > 0) & (starts >= 0)
    keep &= starts + win.width <= length
    counts = torch.zeros(seq_max.shape[1], int(X.shape[1]), win.width, dtype=torch.float64)
    for start, batch in _batches(X, batch_size):
        rows, filters = np.nonzero(keep[start:start + batch.shape[0]])
        site_starts = starts[start + rows, filters]
        _add_windows(counts, batch, torch.from_numpy(rows), torch.from_numpy(filters),
                     torch.from_numpy(site_starts), None, win.width)
    return counts, keep.sum(axis=0)


def _code_max(model: nn.Module, X: Any, sel: LayerSelection, batch_size: int) -> np.ndarray:
    best: torch.Tensor | None = None
    for _, _, act in _iter_activations(model, X, sel, batch_size):
        batch_max = act.amax(dim=(0, 2))
        best = batch_max if best is None else torch.maximum(best, batch_max)
    assert best is not None
    return best.numpy()


def _code_counts(model: nn.Module, X: Any, sel: LayerSelection, thresholds: np.ndarray,
                 win: _Windows, batch_size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Activation-weighted counts ``(F, C, w)`` of every site above threshold (zero-padded)."""
    length = int(X.shape[2])
    thr = torch.from_numpy(thresholds.astype(np.float32))[None, :, None]
    counts: torch.Tensor | None = None
    n_sites = np.zeros(thresholds.shape[0], dtype=np.int64)
    for _, batch, act in _iter_activations(model, X, sel, batch_size):
        if counts is None:
            counts = torch.zeros(act.shape[1], batch.shape[1], win.width, dtype=torch.float64)
        mask = (act >= thr) & (act > 0)
        n_sites += mask.sum(dim=(0, 2)).numpy()
        rows, filters, pos = mask.nonzero(as_tuple=True)
        pad_left = max(0, -win.offset)
        pad_right = max(0, win.offset + (act.shape[2] - 1) * win.jump + win.width - length)
        padded = F.pad(batch, (pad_left, pad_right))
        starts = win.offset + pos * win.jump + pad_left
        _add_windows(counts, padded, rows, filters, starts, act[rows, filters, pos], win.width)
    assert counts is not None
    return counts, n_sites


def _counts_to_ppms(counts: torch.Tensor) -> np.ndarray:
    """Column-normalise ``(F, C, w)`` counts; columns with no real base become uniform."""
    arr = counts.numpy()
    totals = arr.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ppm = np.where(totals > 0, arr / np.where(totals > 0, totals, 1.0), 1.0 / arr.shape[1])
    return ppm


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class FilterMotifs:
    """Motifs of all filters of one layer.

    Attributes
    ----------
    motifs : list of Motif
        One per filter, ``motifs[i].id == f"filter_{i}"``; a dead filter has a uniform PPM and
        ``name == "dead"``.
    alive : (F,) bool array
    n_sites : (F,) int array
        Windows (``paper``) or sites (``code``) that built each PPM.
    max_activation : (F,) float array
        Maximum activation observed over the sequences.
    reference_activation : (F,) float array
        The value the threshold fraction multiplies (maximum possible or observed).
    threshold_value : (F,) float array
        ``threshold * reference_activation``.
    mode, threshold, window : the settings used (window = window width in input positions).
    reference_basis : {"possible", "observed"}
    receptive_field : ReceptiveField
    layer, activation : dotted names of the conv and of the module read (plus how it was found).
    weight_motifs : list of Motif or None
        PPMs from the filter weights (first layers only, when requested).
    """

    motifs: list[Motif]
    alive: np.ndarray
    n_sites: np.ndarray
    max_activation: np.ndarray
    reference_activation: np.ndarray
    threshold_value: np.ndarray
    mode: str
    threshold: float
    window: int
    reference_basis: str
    receptive_field: ReceptiveField
    layer: str | None
    activation: str
    weight_motifs: list[Motif] | None = None

    def __len__(self) -> int:
        return len(self.motifs)

    @property
    def n_alive(self) -> int:
        """Number of filters that produced a motif."""
        return int(np.sum(self.alive))

    def alive_motifs(self) -> list[Motif]:
        """The motifs of live filters only (send these to Tomtom)."""
        return [m for m, ok in zip(self.motifs, self.alive) if ok]

    def rows(self) -> list[dict[str, Any]]:
        """One summary dict per filter (id, alive, n_sites, activations, consensus)."""
        return [
            {"filter": i, "id": m.id, "alive": bool(self.alive[i]), "n_sites": int(self.n_sites[i]),
             "max_activation": float(self.max_activation[i]),
             "threshold_value": float(self.threshold_value[i]),
             "consensus": m.consensus() if self.alive[i] else ""}
            for i, m in enumerate(self.motifs)
        ]

    def metadata(self) -> dict[str, Any]:
        """Settings and layer description, JSON-ready."""
        rf = self.receptive_field
        return {"mode": self.mode, "threshold": self.threshold, "window": self.window,
                "reference_basis": self.reference_basis, "layer": self.layer,
                "activation": self.activation, "n_filters": len(self), "n_alive": self.n_alive,
                "receptive_field": {"size": rf.size, "jump": rf.jump, "start": rf.start}}


def weight_motifs(conv: nn.Conv1d, scale: float = 1.0) -> list[Motif]:
    """PPMs from first-layer filter weights: column-wise ``softmax(scale * W[f])``.

    Parameters
    ----------
    conv : nn.Conv1d with 4 input channels
    scale : float
        Inverse temperature.

    Returns
    -------
    list of Motif, ids ``filter_{i}``, width = kernel size
    """
    if conv.in_channels != 4 or conv.groups != 1:
        raise ConfigError("weight_motifs: only a first layer on 4-channel DNA input has "
                          f"per-base weights (in_channels={conv.in_channels})")
    weight = conv.weight.detach().to("cpu", torch.float64) * float(scale)
    ppms = torch.softmax(weight, dim=1).numpy()
    return [Motif(f"filter_{i}", ppm, name="weights") for i, ppm in enumerate(ppms)]


def _check_settings(mode: str, threshold: float | None, reference: str) -> float:
    if mode not in DEFAULT_THRESHOLDS:
        raise ConfigError(f"mode: expected one of {list(DEFAULT_THRESHOLDS)}, got {mode!r}")
    if reference not in ("auto", "observed"):
        raise ConfigError(f"reference: expected 'auto' or 'observed', got {reference!r}")
    value = DEFAULT_THRESHOLDS[mode] if threshold is None else threshold
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"threshold: expected a fraction in [0, 1], got {threshold!r}")
    return float(value)


def _build_motifs(ppms: np.ndarray, alive: np.ndarray, n_sites: np.ndarray) -> list[Motif]:
    motifs = []
    for i, (ppm, ok) in enumerate(zip(ppms, alive)):
        if ok:
            motifs.append(Motif(f"filter_{i}", ppm, nsites=int(n_sites[i])))
        else:
            motifs.append(Motif(f"filter_{i}", np.full_like(ppm, 1.0 / ppm.shape[0]),
                                name="dead", nsites=0))
    return motifs


def filters_to_motifs(model: nn.Module, X: Any, layer: LayerRef = 1, mode: Mode = "paper",
                      threshold: float | None = None, window: int | None = None,
                      batch_size: int = 512, activation: str | nn.Module | None = None,
                      reference: Literal["auto", "observed"] = "auto",
                      from_weights: bool = False) -> FilterMotifs:
    """Align the sequences that activate each filter of ``layer`` into PPMs.

    Parameters
    ----------
    model : nn.Module
        Any network taking ``(N, C, L)`` input (a motiflens model or a user's).
    X : (N, 4, L) array-like
        One-hot sequences (numpy, h5py dataset or tensor), usually the test set.
    layer : int, str or nn.Module
        See :func:`resolve_layer`; 1 = the first Conv1d.
    mode : {"paper", "code"}
        Alignment rule (module docstring).
    threshold : float, optional
        Fraction of the reference activation; default 0.7 (paper) or 0.5 (code).
    window : int, optional
        Window width; default the layer's receptive field.
    batch_size : int
    activation : str or nn.Module, optional
        The module to read, overriding the automatic choice.
    reference : {"auto", "observed"}
        ``auto``: in ``paper`` mode use the analytic maximum possible activation where it can be
        computed (first layers), else the maximum observed. ``observed``: always the maximum
        observed (``code`` mode always uses it).
    from_weights : bool
        Also return PPMs from the filter weights (first layers only).

    Returns
    -------
    FilterMotifs
    """
    fraction = _check_settings(mode, threshold, reference)
    sel = resolve_layer(model, layer, activation, trace=_probe(model, X))
    win = _windows(sel.receptive_field, window)
    if mode == "paper":
        seq_max, seq_pos, observed = _paper_pass(model, X, sel, batch_size)
    else:
        observed = _code_max(model, X, sel, batch_size)
    possible = _possible_max(sel) if (mode == "paper" and reference == "auto") else None
    ref = observed if possible is None else np.maximum(possible, observed)
    thresholds = fraction * ref
    if mode == "paper":
        counts, n_sites = _paper_counts(X, seq_max, seq_pos, thresholds, win, batch_size)
    else:
        counts, n_sites = _code_counts(model, X, sel, thresholds, win, batch_size)
    alive = (observed > 0) & (n_sites > 0)
    return FilterMotifs(
        motifs=_build_motifs(_counts_to_ppms(counts), alive, n_sites), alive=alive,
        n_sites=n_sites.astype(np.int64), max_activation=observed.astype(np.float64),
        reference_activation=ref.astype(np.float64), threshold_value=thresholds.astype(np.float64),
        mode=mode, threshold=fraction, window=win.width,
        reference_basis="observed" if possible is None else "possible",
        receptive_field=sel.receptive_field, layer=sel.conv_name,
        activation=f"{sel.activation_name} ({sel.source})",
        weight_motifs=weight_motifs(sel.conv) if from_weights and sel.conv is not None else None,
    )
