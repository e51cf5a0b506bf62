"""Layer tracing: which module of any PyTorch network is "layer N", what it outputs, and where
each of its positions looks on the input.

Works on any ``nn.Module`` that takes ``(N, C, L)`` input, not only motiflens models. This module
finds a layer; :mod:`motiflens.interpret.filters` turns its activations into motifs.

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
:func:`model_receptive_field` returns it for a layer of a built module;
:func:`motiflens.models.spec_receptive_field_size` is the width alone, from a ``ModelSpec``.

Reading
-------
:mod:`motiflens.interpret.activations` reads the selected module's output batch by batch;
:mod:`motiflens.interpret.batching` holds the input checks, batches, device and eval mode.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from motiflens.errors import ConfigError
from motiflens.interpret.batching import as_tensor, check_input, eval_mode, model_device
from motiflens.interpret.receptive_field import (
    ReceptiveField,
    compose,
    geometry_of,
    is_geometry_module,
)

__all__ = [
    "LayerRef",
    "LayerSelection",
    "TracedCall",
    "is_nonlinearity",
    "model_receptive_field",
    "probe",
    "resolve_layer",
    "trace_calls",
]

#: What ``layer=`` may be: a 1-based Conv1d index, a dotted module name, or a module.
LayerRef = int | str | nn.Module

_NONLINEAR_TYPES: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Softplus, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish,
    nn.Hardsigmoid, nn.LogSigmoid, nn.Softsign, nn.Tanhshrink, nn.Threshold,
)
_NONLINEAR_NAME = re.compile(r"relu|elu|softplus|sigmoid|tanh|swish|silu|mish|activation")
_EXP_NAME = re.compile(r"^_*exp(onential)?(act|activation)?_*$")
_BARRIERS: tuple[type, ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Flatten,
                               nn.RNNBase, nn.MultiheadAttention)


def is_nonlinearity(module: nn.Module) -> bool:
    """Whether ``module`` is an activation function (a torch one, or by its class name)."""
    if isinstance(module, _NONLINEAR_TYPES):
        return True
    name = type(module).__name__.lower()
    return bool(_NONLINEAR_NAME.search(name) or _EXP_NAME.match(name))


def _module_names(model: nn.Module) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, module in model.named_modules():
        names.setdefault(id(module), name or type(module).__name__)
    return names


# --------------------------------------------------------------------------------------------
# Tracing the execution order
# --------------------------------------------------------------------------------------------
@dataclass
class TracedCall:
    """One call of a leaf module during the probe forward.

    Attributes
    ----------
    index : int
        Position in the execution order (0-based).
    name : str
        Dotted module name.
    module : nn.Module
    call : int
        How many earlier calls this module had (0 = its first; a shared module repeats).
    in_length, out_length : int or None
        L of the input and output tensors (last axis of a 3-D or more tensor), else None.
    """

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


def trace_calls(model: nn.Module, example: torch.Tensor) -> list[TracedCall]:
    """Leaf-module calls, in execution order, of one forward pass.

    Parameters
    ----------
    model : nn.Module
    example : (B, C, L) tensor
        Probe input; the model runs on it in eval mode under ``torch.no_grad``.

    Returns
    -------
    list of TracedCall
    """
    names = _module_names(model)
    calls: list[TracedCall] = []
    counts: dict[int, int] = {}

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        n = counts.get(id(module), 0)
        counts[id(module)] = n + 1
        calls.append(TracedCall(len(calls), names.get(id(module), type(module).__name__),
                                module, n, _length(inputs), _length(output)))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad(), eval_mode(model):
            model(example.to(model_device(model)))
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
        Where activation position ``j`` looks on the input (0-based positions).
    chain : list of nn.Module
        The modules run from after the conv up to and including the activation.
    first_layer : bool
        The conv reads the input directly (no conv/pool/padding before it, no groups).
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


def _first_call_after(trace: list[TracedCall], module: nn.Module, after: int,
                      what: str) -> TracedCall:
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


def _find_activation(model: nn.Module, trace: list[TracedCall], conv: TracedCall,
                     activation: str | nn.Module | None) -> tuple[TracedCall, str]:
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
                      f"batch norm {following.name}{_FUNCTIONAL}", stacklevel=3)
        return following, "batchnorm"
    warnings.warn(f"no activation module runs after {conv.name}; reading the convolution "
                  f"output{_FUNCTIONAL}", stacklevel=3)
    return conv, "conv"


#: What the fallbacks mean for a forward that calls its activation as a function.
_FUNCTIONAL = (" (hooks cannot see functional calls such as F.relu in a forward: for ReLU the "
               "windows and PPMs are the same; for other activations, e.g. exponential, make it "
               "a module, self.act = nn.ReLU(), or pass activation= to choose)")


def _receptive_field(trace: list[TracedCall], upto: int) -> ReceptiveField:
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


def _is_first_layer(trace: list[TracedCall], conv: TracedCall | None) -> bool:
    if conv is None or conv.call != 0:
        return False
    earlier = [c for c in trace[:conv.index] if is_geometry_module(c.module)]
    return not earlier and conv.module.groups == 1 and conv.module.padding_mode == "zeros"


def resolve_layer(model: nn.Module, layer: LayerRef = 1, activation: str | nn.Module | None = None,
                  example: torch.Tensor | None = None,
                  trace: list[TracedCall] | None = None) -> LayerSelection:
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
    trace : list of TracedCall, optional
        The output of :func:`trace_calls`, to avoid a second probe.

    Returns
    -------
    LayerSelection

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
        conv: TracedCall | None = target
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


def _target_call(model: nn.Module, trace: list[TracedCall], layer: LayerRef) -> TracedCall:
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


def probe(model: nn.Module, X: Any) -> list[TracedCall]:
    """:func:`trace_calls` on the first two sequences of ``X`` (N, C, L), checked first."""
    check_input(X)
    return trace_calls(model, as_tensor(X[0:2]))


def model_receptive_field(model: nn.Module, layer: LayerRef, input_length: int,
                          in_channels: int = 4) -> ReceptiveField:
    """Receptive field of one layer of a built network, traced on a probe input.

    Not to be confused with :func:`motiflens.models.spec_receptive_field_size` (a width from a
    ``ModelSpec``, 0-based block index, before pooling).

    Parameters
    ----------
    model : nn.Module
        Any network taking ``(N, in_channels, input_length)`` input.
    layer : int, str or nn.Module
        As in :func:`resolve_layer`: an int is **1-based** (1 = the first Conv1d to execute) and
        the field is that of the *activation* read for it (after the conv's batch norm and
        nonlinearity, before its pooling); a module name or module is read as itself.
    input_length : int
        L of the probe input (SAME pooling depends on it).
    in_channels : int
        C of the probe input.

    Returns
    -------
    ReceptiveField
        ``size`` (window width), ``jump`` (input stride between adjacent output positions) and
        ``start`` (input start of output position 0, negative into the padding): output position
        ``j`` sees input ``[start + j * jump, start + j * jump + size)``, 0-based.
    """
    example = torch.zeros(1, in_channels, input_length)
    example[:, 0] = 1.0
    return resolve_layer(model, layer, example=example).receptive_field
