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
:func:`_separate_inputs` works around it. Nonlinearities called as functions
(``torch.relu(h)``) stay out of reach: every batch is checked for summation-to-delta and a
``RuntimeWarning`` says when it fails.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from motiflens.data.encoding import codes_to_onehot
from motiflens.data.fasta import dinucleotide_shuffle_codes
from motiflens.errors import ConfigError
from motiflens.interpret.batching import eval_mode, model_device
from motiflens.models import SamePadMaxPool1d, _Exp

__all__ = ["METHODS", "GRADIENT_METHODS", "REFERENCE_KINDS", "attribute", "correct_gradients",
           "reference_sequences"]

METHODS = ("saliency", "grad_x_input", "integrated_gradients", "deeplift", "deepshap", "ism")
#: Methods built on gradients (``correct_gradient`` applies to them).
GRADIENT_METHODS = METHODS[:5]
REFERENCE_KINDS = ("zeros", "uniform", "shuffle", "random")
DEFAULT_BASELINE = {"integrated_gradients": "zeros", "deeplift": "uniform", "deepshap": "shuffle"}
#: Relative tolerance of the summation-to-delta check of DeepLIFT / DeepSHAP.
DELTA_RTOL = 1e-3


# --------------------------------------------------------------------------------------------
# Public helpers
# --------------------------------------------------------------------------------------------

def correct_gradients(G: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Majdandzic et al. (2023) correction: subtract at each position the mean over the bases.

    Parameters
    ----------
    G : (..., 4, L) array or tensor
        Gradients (or DeepLIFT multipliers).

    Returns
    -------
    Same type and shape; every column sums to 0.
    """
    if isinstance(G, torch.Tensor):
        return G - G.mean(dim=-2, keepdim=True)
    return G - np.mean(G, axis=-2, keepdims=True)


def reference_sequences(X: np.ndarray, kind: str = "shuffle", n_references: int = 20,
                        seed: int = 0, offset: int = 0) -> np.ndarray:
    """DeepLIFT / DeepSHAP / IG references for each sequence.

    Parameters
    ----------
    X : (N, 4, L) float32 one-hot
    kind : {"zeros", "uniform", "shuffle", "random"}
        All-zero; 0.25 everywhere; dinucleotide shuffles of each sequence; i.i.d. uniform bases.
    n_references : int
        K references per sequence ("zeros" and "uniform" give K = 1: they would all be equal).
    seed, offset : int
        Sequence ``i`` of ``X`` draws from ``numpy.random.default_rng([seed, offset + i])``.

    Returns
    -------
    (N, K, 4, L) float32
    """
    n, _, length = X.shape
    if kind in ("zeros", "uniform"):
        return np.full((n, 1, 4, length), 0.0 if kind == "zeros" else 0.25, np.float32)
    if kind not in REFERENCE_KINDS:
        raise ConfigError(f"baseline: unknown kind {kind!r}; valid: {', '.join(REFERENCE_KINDS)}")
    codes = np.where(X.any(axis=1), X.argmax(axis=1), 4)                       # (N, L)
    out = np.empty((n, n_references, 4, length), np.float32)
    for i in range(n):
        rng = np.random.default_rng([int(seed), int(offset) + i])
        for k in range(n_references):
            drawn = (dinucleotide_shuffle_codes(codes[i], rng) if kind == "shuffle"
                     else rng.integers(0, 4, length))
            out[i, k] = codes_to_onehot(drawn)
    return out


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


@dataclass
class _Context:
    """What the per-chunk functions need."""

    model: nn.Module
    baseline: Any            # a kind, (K, 4, L) shared or (N, K, 4, L) per-sequence references
    n_steps: int
    n_references: int
    batch_size: int
    correct: bool
    seed: int
    device: torch.device

    def references(self, x: np.ndarray, lo: int) -> np.ndarray:
        """(n, K, 4, L) references of rows ``lo .. lo + n`` of X."""
        if isinstance(self.baseline, str):
            return reference_sequences(x, self.baseline, self.n_references, self.seed, lo)
        if self.baseline.ndim == 3:
            return np.broadcast_to(self.baseline, (len(x),) + self.baseline.shape)
        return self.baseline[lo:lo + len(x)]


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


# --------------------------------------------------------------------------------------------
# Gradient methods: each maps a chunk (n, 4, L) to (n, T, 4, L)
# --------------------------------------------------------------------------------------------

def _saliency(ctx: _Context, x: np.ndarray, lo: int, targets: list[int]) -> torch.Tensor:
    xt = torch.as_tensor(x, device=ctx.device).requires_grad_(True)
    logits = ctx.model(xt)
    g = torch.stack([torch.autograd.grad(logits[:, t].sum(), xt,
                                         retain_graph=i + 1 < len(targets))[0]
                     for i, t in enumerate(targets)], dim=1)
    return correct_gradients(g) if ctx.correct else g


def _grad_x_input(ctx: _Context, x: np.ndarray, lo: int, targets: list[int]) -> torch.Tensor:
    return _saliency(ctx, x, lo, targets) * torch.as_tensor(x, device=ctx.device)[:, None]


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


_ROWS: dict[str, Callable[..., torch.Tensor]] = {
    "saliency": _saliency, "grad_x_input": _grad_x_input,
    "integrated_gradients": _integrated_gradients, "deeplift": _deeplift, "deepshap": _deeplift,
}


# --------------------------------------------------------------------------------------------
# ISM
# --------------------------------------------------------------------------------------------

def _ism(ctx: _Context, X: np.ndarray, targets: list[int], bar: tqdm) -> np.ndarray:
    """(N, T, 4, L) exact single-mutant effects, ``batch_size`` mutants per forward."""
    model, size, device = ctx.model, ctx.batch_size, ctx.device
    out = np.zeros((X.shape[0], len(targets)) + X.shape[1:], np.float32)
    with torch.no_grad():
        ref = np.concatenate([model(torch.as_tensor(X[lo:lo + size], device=device))[:, targets]
                              .float().cpu().numpy() for lo in range(0, len(X), size)])
    seq, base, pos = np.nonzero(X == 0)                                        # one per mutant
    done = 0
    for lo in range(0, seq.size, size):
        i, b, p = (a[lo:lo + size] for a in (seq, base, pos))
        mutants = torch.as_tensor(X[i], device=device)
        rows, bt, pt = (torch.as_tensor(a, device=device) for a in (np.arange(i.size), b, p))
        mutants[rows, :, pt] = 0.0
        mutants[rows, bt, pt] = 1.0
        with torch.no_grad():
            out[i, :, b, p] = model(mutants)[:, targets].float().cpu().numpy() - ref[i]
        finished = X.shape[0] if lo + size >= seq.size else int(i[-1])          # sequences done
        bar.update(finished - done)
        done = finished
    return out


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
