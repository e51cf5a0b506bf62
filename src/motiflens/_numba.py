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

import os
import warnings
from typing import Any

import numpy as np

_kernel: Any = None
_failed = False


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


def _check(window_extrema: Any) -> None:
    """Compile the float32 variant and check it on a tiny input (fails loudly, not wrongly)."""
    x = np.array([[[[[1.0, 3.0, 3.0, 0.0]]]]], np.float32)
    out, index = np.empty((1, 1, 1, 1), np.float32), np.empty((1, 1, 1, 1), np.int64)
    window_extrema(x, np.zeros((1, 1), np.bool_), out, index)
    if out[0, 0, 0, 0] != 3.0 or index[0, 0, 0, 0] != 1:
        raise RuntimeError("window_extrema self-check failed")
