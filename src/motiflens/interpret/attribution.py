"""Attribution maps for any PyTorch model on one-hot DNA: gradients, IG, DeepLIFT/DeepSHAP, ISM.

A model is any ``nn.Module`` mapping ``(N, 4, L)`` float32 one-hot input (rows A, C, G, T; an
all-zero column is N) to logits ``(N, C)``; it runs in eval mode and every submodule's mode is
restored afterwards. Layout: ``target=c`` gives ``(N, 4, L)`` float32, the maps of logit ``c``;
``target=None`` gives ``(N, C, 4, L)``, one map per class.

Methods (``METHODS``):

- ``saliency``: the signed input gradient; ``grad_x_input``: gradient x input.
- ``integrated_gradients``: ``(x - b) * mean path gradient`` (captum, ``n_steps`` Gauss-Legendre
  points); default baseline ``"zeros"`` (all-N, captum's default), or ``"uniform"`` (0.25).
- ``deeplift``: DeepLIFT Rescale rule (captum) against one reference, default ``"uniform"``
  (0.25, the expected background, as in Shrikumar et al. 2017).
- ``deepshap``: DeepLIFT averaged over ``n_references`` references per sequence (default 20
  ``"shuffle"``: dinucleotide shuffles of the sequence itself, Altschul-Erickson; ``"random"``:
  i.i.d. uniform sequences). Sequence ``i`` draws from ``default_rng([seed, i])``, so maps do
  not depend on ``batch_size``.
- ``ism``: exact in-silico mutagenesis, ``logit(x with base b at l) - logit(x)`` at ``(b, l)``,
  0 at the observed base (an N position gets 4 mutants); ``batch_size`` mutants per forward.

``correct_gradient=True`` (Majdandzic et al. 2023) subtracts at each position the mean over the
4 bases from the gradient, the mean path gradient (IG) or the DeepLIFT multipliers, before they
are multiplied by ``x - baseline``.

captum, and what is added to it
-------------------------------
IG and DeepLIFT come from captum; gradients and ISM are plain autograd and batched forwards
(captum's ``Saliency`` returns absolute values). DeepSHAP is captum's ``DeepLift`` on sequence x
reference pairs averaged here (``DeepLiftShap`` averages finished attributions, which leaves no
place for the correction of the multipliers). captum applies DeepLIFT rules only to module
types in ``captum.attr._core.deep_lift.SUPPORTED_NON_LINEAR`` and passes plain gradients
through every other module, which breaks summation-to-delta (``sum(attr) = f(x) - f(ref)``) for
motiflens's exponential activation ``_Exp`` and its TensorFlow-"SAME" ``SamePadMaxPool1d``.
Registered there: the Rescale rule (``delta_out / delta_in``) for ``_Exp``, ``nn.GELU``,
``nn.SiLU``, ``nn.Mish``; captum's max-pool rule, rewritten with our own window search (captum's
needs ``nn.MaxPool1d`` attributes and uses ``grad_input[0]``, captum issue #1276), for
``SamePadMaxPool1d`` and ``nn.AdaptiveMaxPool1d``. captum 0.9 also computes wrong multipliers
when two ruled modules follow each other (activation -> max-pool, captum issue #1104);
:func:`motiflens.interpret.attribution_captum._separate_inputs` works around it.
Nonlinearities called as functions (``torch.relu(h)``) stay out of reach: every batch is
checked for summation-to-delta and a ``RuntimeWarning`` says when it fails.

Layout: this module holds the dispatcher :func:`attribute` and its checks, and re-exports the
public names of ``attribution_references`` (references, per-chunk context),
``attribution_gradients`` (saliency, grad x input, correction), ``attribution_captum`` (IG,
DeepLIFT / DeepSHAP, captum rules) and ``attribution_ism``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from motiflens.errors import ConfigError
from motiflens.interpret.attribution_captum import (
    DELTA_RTOL,  # noqa: F401  (re-exported)
    _deeplift,
    _integrated_gradients,
)
from motiflens.interpret.attribution_gradients import _grad_x_input, _saliency, correct_gradients
from motiflens.interpret.attribution_ism import _ism
from motiflens.interpret.attribution_references import (
    REFERENCE_KINDS,
    _Context,
    reference_sequences,
)
from motiflens.interpret.batching import check_one_hot, eval_mode, model_device

__all__ = ["METHODS", "GRADIENT_METHODS", "REFERENCE_KINDS", "attribute", "correct_gradients",
           "reference_sequences"]

METHODS = ("saliency", "grad_x_input", "integrated_gradients", "deeplift", "deepshap", "ism")
#: Methods built on gradients (``correct_gradient`` applies to them).
GRADIENT_METHODS = METHODS[:5]
DEFAULT_BASELINE = {"integrated_gradients": "zeros", "deeplift": "uniform", "deepshap": "shuffle"}


# --------------------------------------------------------------------------------------------
# attribute
# --------------------------------------------------------------------------------------------

def attribute(model: nn.Module, X: np.ndarray | torch.Tensor, method: str,
              target: int | None = None, *, baseline: str | np.ndarray | None = None,
              n_steps: int = 50, n_references: int = 20, batch_size: int = 256,
              correct_gradient: bool = False, seed: int = 0, progress: bool = False
              ) -> np.ndarray:
    """Attribution maps of ``model`` for sequences ``X``.

    Parameters
    ----------
    model : nn.Module
        ``(N, 4, L) -> (N, C)`` logits; run in eval mode, its modes restored afterwards.
    X : (N, 4, L) float32 one-hot array or tensor
    method : str
        One of ``METHODS`` (see the module docstring).
    target : int or None
        Class index: maps of that logit, ``(N, 4, L)``. None: every class, ``(N, C, 4, L)``.
    baseline : str or array, optional
        IG and DeepLIFT: a kind of ``REFERENCE_KINDS``, a ``(4, L)`` array shared by all
        sequences or ``(N, 4, L)``, one per sequence. DeepSHAP: a kind, ``(K, 4, L)`` shared
        references or ``(N, K, 4, L)``. None: ``DEFAULT_BASELINE[method]``. Other methods
        take none.
    n_steps : int
        Integration points of IG.
    n_references : int
        References per sequence of DeepSHAP with ``"shuffle"`` / ``"random"``.
    batch_size : int
        Rows per forward pass (mutants, path points, sequence x reference pairs).
    correct_gradient : bool
        Apply :func:`correct_gradients` to the gradients / multipliers (gradient methods only).
    seed : int
        Seed of the drawn references.
    progress : bool
        Show a tqdm progress bar (sequences done).

    Returns
    -------
    (N, 4, L) or (N, C, 4, L) float32 numpy array

    Raises
    ------
    ConfigError
        Input not ``(N, 4, L)``, unknown method, bad target, baseline or sizes.
    """
    X = _as_input(X)
    _check_options(method, baseline, n_steps, n_references, batch_size, correct_gradient)
    if method in DEFAULT_BASELINE:
        baseline = _check_baseline(method, DEFAULT_BASELINE[method] if baseline is None
                                   else baseline, X.shape)
    ctx = _Context(model, baseline, n_steps, n_references if method == "deepshap" else 1,
                   batch_size, correct_gradient, seed, model_device(model))
    with eval_mode(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
        targets = _targets(model, X, target, ctx.device)
        with tqdm(total=X.shape[0], desc=method, unit="seq", disable=not progress) as bar:
            out = (_ism(ctx, X, targets, bar) if method == "ism"
                   else _by_chunks(method, ctx, X, targets, bar))
    return out[:, 0] if target is not None else out

def _by_chunks(method: str, ctx: _Context, X: np.ndarray, targets: list[int], bar: tqdm
               ) -> np.ndarray:
    """(N, T, 4, L) maps of a gradient method, chunk by chunk."""
    out = np.empty((X.shape[0], len(targets)) + X.shape[1:], np.float32)
    rows_per_sequence = {"integrated_gradients": ctx.n_steps}.get(method, 2 * ctx.n_references)
    step = max(1, ctx.batch_size // rows_per_sequence)
    for lo in range(0, X.shape[0], step):
        x = X[lo:lo + step]
        out[lo:lo + len(x)] = _ROWS[method](ctx, x, lo, targets).detach().cpu().numpy()
        bar.update(len(x))
    return out


_ROWS: dict[str, Callable[..., torch.Tensor]] = {
    "saliency": _saliency, "grad_x_input": _grad_x_input,
    "integrated_gradients": _integrated_gradients, "deeplift": _deeplift, "deepshap": _deeplift,
}


# --------------------------------------------------------------------------------------------
# Validation and model plumbing
# --------------------------------------------------------------------------------------------

def _as_input(X: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[1] != 4 or X.shape[0] == 0:
        hint = (" (it looks like (N, L, 4): pass X.transpose(0, 2, 1))"
                if X.ndim == 3 and X.shape[2] == 4 else "")
        raise ConfigError(f"X: expected one-hot sequences of shape (N, 4, L) with N >= 1, "
                          f"got {X.shape}{hint}")
    check_one_hot(X)
    return np.ascontiguousarray(X)


def _check_options(method: str, baseline: Any, n_steps: int, n_references: int,
                   batch_size: int, correct: bool) -> None:
    if method not in METHODS:
        raise ConfigError(f"method: unknown {method!r}; valid: {', '.join(METHODS)}")
    for key, value in (("n_steps", n_steps), ("n_references", n_references),
                       ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
    if baseline is not None and method not in DEFAULT_BASELINE:
        raise ConfigError(f"baseline: not used by {method!r}; only by "
                          f"{', '.join(DEFAULT_BASELINE)}")
    if correct and method not in GRADIENT_METHODS:
        raise ConfigError(f"correct_gradient: applies to {', '.join(GRADIENT_METHODS)}, "
                          f"not {method!r}")


def _check_baseline(method: str, baseline: Any, shape: tuple[int, ...]) -> Any:
    """The kind, or the array as (K, 4, L) shared or (N, K, 4, L) per-sequence references."""
    n, _, length = shape
    if isinstance(baseline, str):
        if baseline not in REFERENCE_KINDS:
            raise ConfigError(f"baseline: unknown kind {baseline!r}; valid: "
                              f"{', '.join(REFERENCE_KINDS)} or an array")
        return baseline
    array = np.asarray(baseline, dtype=np.float32)
    got = array.shape
    if method == "deepshap":
        expected = f"(K, 4, {length}) or ({n}, K, 4, {length})"
        ok = (len(got) == 3 and got[1:] == (4, length)) or got[:1] + got[2:] == (n, 4, length)
    else:
        expected = f"(4, {length}) or ({n}, 4, {length})"
        ok = got in ((4, length), (n, 4, length))
        array = array[None] if array.ndim == 2 else array[:, None]
    if not ok or 0 in got:
        raise ConfigError(f"baseline: expected a kind or an array of shape {expected} for "
                          f"{method!r}, got shape {got}")
    return array


def _targets(model: nn.Module, X: np.ndarray, target: int | None, device: torch.device
             ) -> list[int]:
    with torch.no_grad():
        logits = model(torch.as_tensor(X[:1], device=device))
    if logits.dim() != 2:
        raise ConfigError(f"model: expected logits of shape (N, C), got {tuple(logits.shape)}")
    n_classes = int(logits.shape[1])
    if target is None:
        return list(range(n_classes))
    if not isinstance(target, (int, np.integer)) or isinstance(target, bool) \
            or not 0 <= target < n_classes:
        raise ConfigError(f"target: expected a class index in 0..{n_classes - 1} or None, "
                          f"got {target!r}")
    return [int(target)]
