"""Optional numba kernels for :mod:`motiflens.ops` (CPU training).

PyTorch's max-with-indices over a short trailing window (``x.view(..., L // s, s).max(-1)``) is
not vectorised on the CPU: ~2 ns per element, the single largest cost of the fused batch norm +
max-pool of a conv block once the convolutions run in bf16. A plain compiled loop does the same
in ~0.6 ns per element. numba is used when it can be imported; ``MOTIFLENS_NUMBA=0`` in the
environment turns it off (then :func:`motiflens.ops.window_extrema` uses PyTorch), and so does
any failure to compile, with a warning.

Kernels are compiled on first use (about a second per dtype) and cached on disk beside this
file when the directory is writable (numba's ``cache=True``).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Iterator

import numpy as np

_kernel: Any = None
_pool_kernel: Any = None
_failed = False


def _compile_pool() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True, boundscheck=False)
    def sliding_max(x, size, stride, left, out, index):  # pragma: no cover - compiled
        # x: (R, L) float; out, index: (R, n_out). Window j covers padded positions
        # [j * stride, j * stride + size) of x padded with `left` -inf values in front (and
        # -inf behind). First maximum of each window (van Herk / Gil-Werman: prefix maxima
        # and suffix maxima within blocks of `size` positions, ~3 comparisons per position
        # whatever the window size); index is the position in x (unpadded).
        rows, length = x.shape
        n_out = out.shape[1]
        padded = (n_out - 1) * stride + size
        row = np.full(padded, -np.inf, x.dtype)
        pre_v = np.empty(padded, x.dtype)
        suf_v = np.empty(padded, x.dtype)
        pre_i = np.empty(padded, np.int64)
        suf_i = np.empty(padded, np.int64)
        real = min(length, padded - left)
        for r in range(rows):
            for q in range(real):
                row[left + q] = x[r, q]
            for b in range(0, padded, size):
                end = min(b + size, padded)
                best, at = row[b], b
                for p in range(b, end):
                    if row[p] > best:
                        best, at = row[p], p
                    pre_v[p] = best
                    pre_i[p] = at
                best, at = row[end - 1], end - 1
                for p in range(end - 1, b - 1, -1):
                    if row[p] >= best:
                        best, at = row[p], p
                    suf_v[p] = best
                    suf_i[p] = at
            for j in range(n_out):
                a = j * stride
                e = a + size - 1
                if suf_v[a] >= pre_v[e]:  # the earlier part wins ties
                    out[r, j] = suf_v[a]
                    index[r, j] = suf_i[a] - left
                else:
                    out[r, j] = pre_v[e]
                    index[r, j] = pre_i[e] - left

    return sliding_max


def _compile() -> Any:
    from numba import njit

    @njit(cache=True, nogil=True, boundscheck=False)
    def window_extrema(x, flip, out, index):  # pragma: no cover - compiled
        # x: (T, N, C, W, S) float; flip: (T, C) bool; out: (T, N, C, W) x's dtype;
        # index: (T, N, C, W) int64. First maximum (first minimum where flip) of each window.
        t_, n_, c_, w_, s_ = x.shape
        for t in range(t_):
            for n in range(n_):
                for c in range(c_):
                    if flip[t, c]:
                        for w in range(w_):
                            best = x[t, n, c, w, 0]
                            at = 0
                            for s in range(1, s_):
                                v = x[t, n, c, w, s]
                                if v < best:
                                    best = v
                                    at = s
                            out[t, n, c, w] = best
                            index[t, n, c, w] = at
                    else:
                        for w in range(w_):
                            best = x[t, n, c, w, 0]
                            at = 0
                            for s in range(1, s_):
                                v = x[t, n, c, w, s]
                                if v > best:
                                    best = v
                                    at = s
                            out[t, n, c, w] = best
                            index[t, n, c, w] = at

    return window_extrema


def enabled() -> bool:
    """Whether the numba kernels are in use (numba importable, not turned off, compiled)."""
    return kernel() is not None


def kernel() -> Any:
    """The compiled ``window_extrema`` kernel, or None (numba missing, off, or failed)."""
    global _kernel, _failed
    if _off:
        return None
    if _kernel is not None or _failed:
        return _kernel
    if os.environ.get("MOTIFLENS_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
        _failed = True
        return None
    try:
        _kernel = _compile()
        _check(_kernel)
    except Exception as exc:  # ImportError, or a numba/LLVM failure on an unusual platform
        _failed, _kernel = True, None
        if not isinstance(exc, ImportError):
            warnings.warn(f"motiflens: numba kernels unavailable ({exc}); using PyTorch",
                          RuntimeWarning, stacklevel=2)
    return _kernel


_off = False


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within the block, :func:`kernel` and :func:`pool_kernel` return None (PyTorch paths):
    for benchmarks and tests that compare the two."""
    global _off
    before, _off = _off, True
    try:
        yield
    finally:
        _off = before


def pool_kernel() -> Any:
    """The compiled ``sliding_max`` kernel (overlapping max-pool), or None."""
    global _pool_kernel
    if _off:
        return None
    if _pool_kernel is None and kernel() is not None:
        try:
            _pool_kernel = _compile_pool()
            x = np.array([[1.0, 3.0, 3.0, 0.0]], np.float32)
            out, index = np.empty((1, 2), np.float32), np.empty((1, 2), np.int64)
            _pool_kernel(x, 3, 2, 1, out, index)  # windows [-inf, 1, 3], [3, 3, 0]
            if list(out[0]) != [3.0, 3.0] or list(index[0]) != [1, 1]:
                raise RuntimeError("sliding_max self-check failed")
        except Exception as exc:
            warnings.warn(f"motiflens: numba pool kernel unavailable ({exc}); using PyTorch",
                          RuntimeWarning, stacklevel=2)
            _pool_kernel = False
    return _pool_kernel or None


def _check(window_extrema: Any) -> None:
    """Compile the float32 variant and check it on a tiny input (fails loudly, not wrongly)."""
    x = np.array([[[[[1.0, 3.0, 3.0, 0.0]]]]], np.float32)
    out, index = np.empty((1, 1, 1, 1), np.float32), np.empty((1, 1, 1, 1), np.int64)
    window_extrema(x, np.zeros((1, 1), np.bool_), out, index)
    if out[0, 0, 0, 0] != 3.0 or index[0, 0, 0, 0] != 1:
        raise RuntimeError("window_extrema self-check failed")
