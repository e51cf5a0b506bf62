"""captum-based attribution methods: integrated gradients and DeepLIFT / DeepSHAP, with the
summation-to-delta check and the DeepLIFT rules and workarounds motiflens adds to captum
(rules for ``_Exp``, GELU/SiLU/Mish and ``SamePadMaxPool1d``; captum issues #1104 and #1276).
captum is imported function-locally: it is an optional, heavy dependency."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError
from motiflens.interpret.attribution_gradients import correct_gradients
from motiflens.interpret.attribution_references import _Context
from motiflens.models import SamePadMaxPool1d, _Exp

__all__ = ["DELTA_RTOL"]

#: Relative tolerance of the summation-to-delta check of DeepLIFT / DeepSHAP.
DELTA_RTOL = 1e-3


# --------------------------------------------------------------------------------------------
# Integrated gradients and DeepLIFT / DeepSHAP: each maps a chunk (n, 4, L) to (n, T, 4, L)
# --------------------------------------------------------------------------------------------

def _integrated_gradients(ctx: _Context, x: np.ndarray, lo: int, targets: list[int]
                          ) -> torch.Tensor:
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(ctx.model, multiply_by_inputs=False)
    xt = torch.as_tensor(x, device=ctx.device)
    base = torch.as_tensor(ctx.references(x, lo)[:, 0], device=ctx.device)
    maps = []
    for t in targets:
        g = ig.attribute(xt, baselines=base, target=t, n_steps=ctx.n_steps,
                         internal_batch_size=ctx.batch_size)
        maps.append((correct_gradients(g) if ctx.correct else g) * (xt - base))
    return torch.stack(maps, dim=1)


def _deeplift(ctx: _Context, x: np.ndarray, lo: int, targets: list[int]) -> torch.Tensor:
    """DeepLIFT against each of the K references (K = 1 for ``deeplift``), averaged."""
    refs = ctx.references(x, lo)                                                # (n, K, 4, L)
    n, k = refs.shape[:2]
    xs = torch.as_tensor(np.repeat(x, k, axis=0), device=ctx.device)
    ref = torch.as_tensor(refs.reshape(n * k, *x.shape[1:]), device=ctx.device)
    deep_lift = _captum_deeplift()(ctx.model, multiply_by_inputs=False)
    with torch.no_grad():
        delta = ctx.model(xs) - ctx.model(ref)                                  # (nK, C)
    maps = []
    for t in targets:
        try:
            with _separate_inputs(ctx.model):
                m = deep_lift.attribute(xs.clone().requires_grad_(True), baselines=ref, target=t)
        except RuntimeError as exc:
            if "used more than once" not in str(exc):
                raise
            raise ConfigError("model: DeepLIFT needs each nonlinear module to be called once "
                              "per forward; give every use its own module") from None
        _warn_unless_summing(m * (xs - ref), delta[:, t])
        maps.append((correct_gradients(m) if ctx.correct else m) * (xs - ref))
    return torch.stack(maps, dim=1).reshape(n, k, len(targets), *x.shape[1:]).mean(dim=1)


def _warn_unless_summing(raw: torch.Tensor, delta: torch.Tensor) -> None:
    error = (raw.sum(dim=(1, 2)) - delta).abs()
    if bool((error > DELTA_RTOL * (1.0 + delta.abs() + raw.abs().sum(dim=(1, 2)))).any()):
        warnings.warn(
            f"DeepLIFT attributions miss summation-to-delta by up to {float(error.max()):.3g}: "
            "the model has a nonlinearity captum treats as linear (a functional call or an "
            "unregistered module type); the maps are approximate", RuntimeWarning, stacklevel=4)


# --------------------------------------------------------------------------------------------
# captum DeepLIFT rules for motiflens's modules
# --------------------------------------------------------------------------------------------

def _captum_deeplift() -> type:
    """captum's ``DeepLift`` with the rules for our modules registered (idempotent)."""
    from captum.attr import DeepLift
    from captum.attr._core import deep_lift

    for kind in (_Exp, nn.GELU, nn.SiLU, nn.Mish):
        deep_lift.SUPPORTED_NON_LINEAR.setdefault(kind, deep_lift.nonlinear)
    for kind in (SamePadMaxPool1d, nn.AdaptiveMaxPool1d):
        deep_lift.SUPPORTED_NON_LINEAR.setdefault(kind, _window_max_rule)
    return DeepLift


@contextlib.contextmanager
def _separate_inputs(model: nn.Module) -> Iterator[None]:
    """Give every module with a DeepLIFT rule a copy of its input (captum issue #1104).

    captum records a module's output gradient with a hook on its output tensor; when that
    tensor is the input of the next ruled module (activation -> max-pool), whose hook rewrites
    the same tensor's gradient later, the first module reads the gradient before the rewrite.
    A copy made before captum's own pre-hooks puts the two hooks on different tensors.
    """
    from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR

    handles = [module.register_forward_pre_hook(_clone_first, prepend=True)
               for module in model.modules() if type(module) in SUPPORTED_NON_LINEAR]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _clone_first(module: nn.Module, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    return (inputs[0].clone(),) + tuple(inputs[1:]) if inputs else inputs


def _window_argmax(module: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """(B, C, L_out) position in ``h`` (B, C, L) of each pooling window's first maximum."""
    if isinstance(module, nn.AdaptiveMaxPool1d):
        return F.adaptive_max_pool1d(h, module.output_size, return_indices=True)[1]
    left, right = module.padding(h.shape[-1])
    windows = F.pad(h, (left, right), value=float("-inf")).unfold(-1, module.size, module.stride)
    n_out = -(-h.shape[-1] // module.stride)
    starts = torch.arange(windows.shape[2], device=h.device) * module.stride - left
    return (windows.argmax(dim=-1) + starts[None, None, :])[..., :n_out]


def _window_max_rule(module: nn.Module, inputs: torch.Tensor, outputs: torch.Tensor,
                     grad_input: torch.Tensor, grad_output: torch.Tensor, eps: float = 1e-10
                     ) -> torch.Tensor:
    """DeepLIFT multipliers of a max-pool (captum's ``maxpool`` rule, own window search).

    ``inputs`` / ``outputs`` stack the input rows over the reference rows (2n rows). The
    change of each window maximum, ``max(y, y_ref) - y_ref`` at the input's arg-maximum plus
    ``y - max(y, y_ref)`` at the reference's, is divided by the input change there.
    """
    with torch.no_grad():
        x, x_ref = inputs.chunk(2)
        y, y_ref = outputs.chunk(2)
        cross = torch.maximum(y, y_ref)
        delta_out = torch.cat([cross - y_ref, y - cross]) * grad_output
        routed = torch.zeros_like(inputs).scatter_add_(-1, _window_argmax(module, inputs),
                                                       delta_out)
        first, second = routed.chunk(2)
        delta_in = torch.cat(2 * [x - x_ref])
        return torch.where(delta_in.abs() < eps, grad_input,
                           torch.cat(2 * [first + second]) / delta_in)
