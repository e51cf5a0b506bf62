"""Training-time kernels that do the same maths as stock PyTorch layers in fewer passes.

Two operations dominate the CPU time of the paper's small networks once the convolutions are
fast (bf16): the dropout masks and the full-length batch norm + max-pool of each conv block.

- :func:`keep_mask` draws dropout masks from 16 random bits per element, taken four at a time
  from 64-bit draws of the generator: ~4x cheaper than ``Tensor.bernoulli_`` (one Mersenne
  Twister draw and a float comparison per element). The keep probability is ``1 - p`` rounded
  to a multiple of 2**-16 (0.9 -> 0.899994). Opt-in (``TrainConfig(dropout_masks="fast")``):
  other masks mean other numbers than a run made with the default ``bernoulli_`` masks.
- :func:`batch_norm_max_pool` is batch norm (training mode, batch statistics) followed by a
  non-overlapping max-pool, computed on the pooled tensor. Batch norm is a per-channel affine
  map ``y = s_c x + t_c`` once the batch statistics are known, so ``max_window(y)`` equals
  ``s_c max_window(x) + t_c`` where ``s_c >= 0`` and ``s_c min_window(x) + t_c`` where
  ``s_c < 0`` (``s_c`` has the sign of the BN weight). The forward pass reads the conv output
  twice (statistics, window maxima) and writes only the pooled tensor; the backward pass writes
  the input gradient in one pass (its dense part is a per-channel affine function of the input,
  plus the pooled gradient added at each window's selected position). Stock PyTorch writes the
  normalised full-length tensor, a full-length zero tensor for the pooling gradient and runs
  the batch-norm backward over both. The gradient goes to the first extreme of each window, as
  ``max_pool1d`` sends it.

Both are used only in training mode (the fused batch norm + pool by default); evaluation and filter interpretation run the stock layers,
so hooks see every position.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from motiflens import _numba

_BITS = 1 << 16


def keep_threshold(keep: float) -> int:
    """The int16 threshold ``t`` such that ``P(bits < t) = round(keep * 2**16) / 2**16``."""
    return int(round(float(keep) * _BITS)) - _BITS // 2


def keep_mask(shape: tuple[int, ...] | torch.Size, keep: float,
              generator: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """A boolean dropout keep-mask of ``shape`` with ``P(True) ~= keep``.

    Parameters
    ----------
    shape : tuple of int
    keep : float
        Keep probability ``1 - p``, rounded to a multiple of 2**-16.
    generator : torch.Generator, optional
        Source of the random bits (default: the global generator of ``device``).

    Returns
    -------
    (shape) bool tensor. The same generator state gives the same mask on every dtype.
    """
    n = 1
    for size in shape:
        n *= int(size)
    words = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64,
                          generator=generator, device=device)
    return (words.view(torch.int16)[:n] < keep_threshold(keep)).view(tuple(shape))


def dropout(x: torch.Tensor, p: float, generator: torch.Generator | None = None
            ) -> torch.Tensor:
    """Inverted dropout of ``x`` (training mode) with a :func:`keep_mask` mask.

    Kept elements are multiplied by ``1 / (1 - p)`` (in ``x``'s dtype, as
    ``torch.nn.functional.dropout`` does), dropped ones are zero.
    """
    if p == 0:
        return x
    if p >= 1:
        return x * 0.0  # everything dropped (nn.Dropout's p=1), keeping the graph
    scale = torch.tensor(1.0 / (1.0 - p), dtype=x.dtype, device=x.device)
    return x * keep_mask(x.shape, 1.0 - p, generator, x.device).to(x.dtype).mul_(scale)


DROPOUT_MASKS = ("bernoulli", "fast")


class Dropout(nn.Dropout):
    """``nn.Dropout`` that can draw its CPU training masks from :func:`keep_mask` (4x cheaper).

    ``masks = "bernoulli"`` (default) is exactly ``nn.Dropout``; ``"fast"`` uses
    :func:`keep_mask` on the CPU (other devices, and eval mode, are ``nn.Dropout`` either way).
    Masks are drawn from the global CPU generator, so ``torch.manual_seed`` fixes them.
    """

    masks: str = "bernoulli"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.masks != "fast" or not self.training or self.p == 0 \
                or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        return dropout(x, self.p)


def set_dropout_masks(model: nn.Module, masks: str) -> nn.Module:
    """Set how every :class:`Dropout` of ``model`` draws its masks (see ``DROPOUT_MASKS``)."""
    if masks not in DROPOUT_MASKS:
        raise ValueError(f"dropout masks: unknown {masks!r}; valid: {', '.join(DROPOUT_MASKS)}")
    for module in model.modules():
        if isinstance(module, Dropout):
            module.masks = masks
    return model


def window_extrema(windows: torch.Tensor, minimum: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """First maximum of each window, or first minimum in the channels flagged ``minimum``.

    Parameters
    ----------
    windows : (T, N, C, W, S) tensor
        ``W`` windows of ``S`` positions per (group, sequence, channel).
    minimum : (T, C) bool tensor
        Channels whose windows take the minimum instead of the maximum.

    Returns
    -------
    extreme : (T, N, C, W) tensor
        The selected values: ``windows``' dtype, or float32 for bfloat16/float16 windows on
        the CPU with numba (the same values, exactly).
    index : (T, N, C, W) int64 tensor
        Position of the selected value in its window (the first one on ties, as
        ``Tensor.max(dim)`` and ``max_pool1d`` pick it).

    On the CPU the numba kernel of :mod:`motiflens._numba` is used when available (one pass,
    ~3x faster than PyTorch's max-with-indices); otherwise, and on other devices, PyTorch.
    """
    if windows.device.type == "cpu":
        kernel = _numba.kernel()
        if kernel is not None:
            return _window_extrema_numba(kernel, windows.detach(), minimum)
    extreme, index = windows.max(dim=-1)
    if bool(minimum.any()):
        groups, channels = minimum.nonzero(as_tuple=True)
        low, low_index = windows[groups, :, channels].min(dim=-1)
        extreme[groups, :, channels] = low
        index[groups, :, channels] = low_index
    return extreme, index


def _window_extrema_numba(kernel: Any, windows: torch.Tensor, minimum: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`window_extrema` through the compiled loop (float32/float64 arrays)."""
    if windows.dtype not in (torch.float32, torch.float64):
        windows = windows.float()  # bf16/fp16 -> fp32 is exact
    windows = windows.contiguous()
    extreme = torch.empty(windows.shape[:-1], dtype=windows.dtype)
    index = torch.empty(windows.shape[:-1], dtype=torch.int64)
    kernel(windows.numpy(), minimum.to("cpu", torch.bool).contiguous().numpy(),
           extreme.numpy(), index.numpy())
    return extreme, index


class _SlidingMaxPool(torch.autograd.Function):
    """See :func:`sliding_max_pool`."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, kernel: Any, size: int, stride: int, left: int,
                n_out: int) -> torch.Tensor:
        n, c, length = x.shape
        rows = x.detach().reshape(n * c, length)
        if rows.dtype not in (torch.float32, torch.float64):
            rows = rows.float()  # bf16/fp16 -> fp32 is exact
        rows = rows.contiguous()
        out = torch.empty(n * c, n_out, dtype=rows.dtype)
        index = torch.empty(n * c, n_out, dtype=torch.int64)
        kernel(rows.numpy(), size, stride, left, out.numpy(), index.numpy())
        ctx.save_for_backward(index)
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return out.view(n, c, n_out).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        (index,) = ctx.saved_tensors
        n, c, length = ctx.shape
        acc = torch.promote_types(grad_out.dtype, torch.float32)
        grad = torch.zeros(n * c, length, dtype=acc)
        # Overlapping windows may select the same position: their gradients add up.
        grad.scatter_add_(1, index, grad_out.reshape(n * c, -1).to(acc))
        return grad.view(n, c, length).to(ctx.dtype), None, None, None, None, None


def sliding_max_pool(x: torch.Tensor, size: int, stride: int, left: int, n_out: int
                     ) -> torch.Tensor | None:
    """Max-pool of ``x (N, C, L)`` with windows of ``size`` every ``stride`` positions over
    ``x`` padded with ``left`` ``-inf`` in front (and as many behind as the ``n_out`` windows
    need): ``(N, C, n_out)``, the values and gradient of ``F.max_pool1d`` on the padded input
    (the gradient goes to each window's first maximum; NaN is not propagated).

    Uses the numba kernel of :mod:`motiflens._numba` (prefix/suffix maxima: a few comparisons
    per position whatever the window, where ``max_pool1d`` makes ``size`` per output; bf16 is
    ~20x faster); returns None where that kernel is not available (not on the CPU, numba
    missing) so that the caller falls back to PyTorch.
    """
    if x.device.type != "cpu" or x.dim() != 3:
        return None
    kernel = _numba.pool_kernel()
    if kernel is None:
        return None
    return _SlidingMaxPool.apply(x, kernel, int(size), int(stride), int(left), int(n_out))


#: Largest pool window whose backward adds the pooled gradient with ``scatter_add_`` along the
#: windows; longer ones use gather + ``index_put_`` (pool 2: 0.5 vs 3.5 ms, pool 100: 1.2 vs
#: 0.2 ms for a (100, C, L) bf16 gradient on one core).
_SCATTER_MAX_WINDOW = 8


class _BatchNormMaxPool(torch.autograd.Function):
    """See :func:`batch_norm_max_pool`."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                running_mean: torch.Tensor | None, running_var: torch.Tensor | None,
                momentum: float, eps: float, size: int) -> torch.Tensor:
        # x: (T, N, C, L), T groups (trials) with their own statistics; parameters (T * C,).
        t, n, c, length = x.shape
        with torch.no_grad():
            # Biased batch variance; the running statistics (unbiased variance) are updated in
            # the same pass, exactly as nn.BatchNorm1d updates them.
            rm = None if running_mean is None else running_mean.view(t, c)
            rv = None if running_var is None else running_var.view(t, c)
            stats = [torch.batch_norm_update_stats(
                x[i], None if rm is None else rm[i], None if rv is None else rv[i], momentum)
                for i in range(t)]
            acc = torch.promote_types(x.dtype, torch.float32)  # fp32, or fp64 for fp64 input
            mean = torch.stack([m for m, _ in stats]).to(acc)  # (T, C)
            var = torch.stack([v for _, v in stats]).to(acc)
            invstd = torch.rsqrt(var + eps)
            scale = weight.detach().to(acc).view(t, c) * invstd
            extreme, index = window_extrema(x.view(t, n, c, length // size, size), scale < 0)
            shift = bias.detach().to(acc).view(t, c) - mean * scale
            out = torch.addcmul(shift.view(t, 1, c, 1), extreme.to(acc), scale.view(t, 1, c, 1))
        ctx.save_for_backward(x, weight, index, extreme, mean, invstd)
        ctx.size = size
        return out.to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        x, weight, index, extreme, mean, invstd = ctx.saved_tensors
        t, n, c, length = x.shape
        count = n * length
        shape = (t, 1, c, 1)
        g = grad_out.to(mean.dtype)
        xhat_selected = (extreme.to(mean.dtype) - mean.view(shape)) * invstd.view(shape)
        grad_bias = g.sum(dim=(1, 3))  # (T, C)
        grad_weight = (g * xhat_selected).sum(dim=(1, 3))
        scale = weight.to(mean.dtype).view(t, c) * invstd
        grad_x = None
        if ctx.needs_input_grad[0]:
            # dx = scale * dy - scale / M * (sum(dy) + xhat * sum(dy * xhat)), dy nonzero only
            # at the selected positions: a per-channel affine map of x plus a scatter.
            a = -scale * invstd * grad_weight / count
            b = -scale * (grad_bias - mean * invstd * grad_weight) / count
            # The affine part in one pass, in x's dtype with fp32 coefficients and arithmetic:
            # eval-mode batch norm with mean 0, variance 1, eps 0 is exactly a * x + b (3x
            # faster than converting bf16 to fp32 and back around in-place ops).
            zeros, ones = torch.zeros_like(a[0]), torch.ones_like(a[0])
            grad_x = torch.stack([F.batch_norm(x[i], zeros, ones, a[i], b[i], False, 0.0, 0.0)
                                  for i in range(t)]) if t > 1 else \
                F.batch_norm(x[0], zeros, ones, a[0], b[0], False, 0.0, 0.0).unsqueeze(0)
            # Windows do not overlap: each selected position gets exactly one addition, in
            # x's dtype (the same result either way; which is faster depends on the window).
            pooled = (g * scale.view(shape)).to(x.dtype)
            if ctx.size <= _SCATTER_MAX_WINDOW:  # many small windows: scatter along them
                grad_x.view(t, n, c, -1, ctx.size).scatter_add_(
                    4, index.unsqueeze(-1), pooled.unsqueeze(-1))
            else:  # few long windows: gather and put back the selected elements only
                flat = index.reshape(-1) + torch.arange(0, grad_x.numel(), ctx.size)
                grad_x.view(-1).index_put_((flat,), grad_x.view(-1)[flat] + pooled.reshape(-1))
        grad_weight = grad_weight.reshape(-1).to(weight.dtype) \
            if ctx.needs_input_grad[1] else None
        grad_bias = grad_bias.reshape(-1).to(weight.dtype) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias, None, None, None, None, None


def batch_norm_max_pool(x: torch.Tensor, bn: nn.BatchNorm1d | None, size: int, *,
                        weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                        running_mean: torch.Tensor | None = None,
                        running_var: torch.Tensor | None = None,
                        momentum: float = 0.1, eps: float = 1e-5) -> torch.Tensor:
    """``max_pool1d(batch_norm(x), size)`` in training mode, computed on the pooled tensor.

    Parameters
    ----------
    x : (N, C, L) or (T, N, C, L) tensor, ``L`` a multiple of ``size``
        Conv output (fp32, or bf16 under autocast). With a leading axis, each of the T groups
        (vectorised trials) has its own statistics and parameters, given flat as ``(T * C,)``.
    bn : nn.BatchNorm1d, optional
        Supplies weight, bias, running statistics, momentum and eps (and its
        ``num_batches_tracked`` is incremented); or pass them as keywords.
    size : int
        Window = stride of the non-overlapping max-pool.

    Returns
    -------
    (N, C, L / size) or (T, N, C, L / size) tensor of ``x``'s dtype. Running statistics are
    updated as
    ``nn.BatchNorm1d`` updates them in training mode.
    """
    if bn is not None:
        weight, bias = bn.weight, bn.bias
        running_mean, running_var = bn.running_mean, bn.running_var
        momentum, eps = bn.momentum, bn.eps
        if bn.num_batches_tracked is not None:
            with torch.no_grad():
                bn.num_batches_tracked.add_(1)
    if weight is None or bias is None:
        raise ValueError("batch_norm_max_pool needs an affine batch norm (weight and bias)")
    if x.dim() not in (3, 4) or x.shape[-1] % size:
        raise ValueError(f"batch_norm_max_pool: expected (N, C, L) or (T, N, C, L) with L a "
                         f"multiple of {size}, got {tuple(x.shape)}")
    grouped = x.dim() == 4
    out = _BatchNormMaxPool.apply(x.contiguous() if grouped else x.contiguous().unsqueeze(0),
                                  weight, bias, running_mean, running_var, float(momentum),
                                  float(eps), int(size))
    return out if grouped else out.squeeze(0)


def can_fuse_pool(size: int, stride: int, length: int) -> bool:
    """Whether a TF-"SAME" pool of ``size``/``stride`` on ``length`` positions is a plain
    non-overlapping reshape-max (no padding), the case :func:`batch_norm_max_pool` covers."""
    return size > 1 and size == stride and length % size == 0


__all__ = ["DROPOUT_MASKS", "Dropout", "batch_norm_max_pool", "can_fuse_pool", "dropout",
           "keep_mask", "keep_threshold", "set_dropout_masks", "sliding_max_pool",
           "window_extrema"]
