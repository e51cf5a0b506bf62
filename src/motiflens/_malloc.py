"""glibc malloc settings for the processes that train (the CLI and sweep workers).

A training step allocates and frees the same large activation tensors (megabytes each) again
and again. With glibc's defaults, blocks above the mmap threshold are fresh ``mmap`` pages each
time and freed memory at the top of the heap goes back to the system, so every step pays page
faults on first touch: measured here, converting a (100, 128, 200) bf16 tensor to fp32 took
4-5 ms on fresh pages and 0.3-0.5 ms on reused ones; a fresh ``motiflens train`` process
trained CNN-1 5-13 % faster per epoch (1 / 2 threads, bf16) with freed memory kept for reuse
(``benchmarks/concurrent_training.py``; small models within noise).

:func:`retain_freed_memory` makes malloc serve every block from the heap (no per-block
``mmap``) and keep freed memory for reuse (trim only above 2 GiB free at the top). The process
then holds on to its peak heap, which is what a training process needs anyway. Numbers do not
change, only where memory comes from. It is applied by ``motiflens train`` /
``motiflens reproduce`` and in sweep worker processes, never on import: a library user's own
process keeps its settings unless they call this function. ``MOTIFLENS_MALLOC=default`` in the
environment turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # bytes free at the heap top before malloc returns them

_applied = False


def wanted() -> bool:
    """Whether the environment allows the setting (``MOTIFLENS_MALLOC`` is not ``default``)."""
    value = os.environ.get("MOTIFLENS_MALLOC", "retain").strip().lower()
    return value not in ("default", "0", "off", "no", "false")


def retain_freed_memory() -> bool:
    """Set glibc malloc to keep freed memory for reuse (see the module docstring).

    Returns
    -------
    bool
        True if the settings are in effect (glibc on Linux, not turned off by
        ``MOTIFLENS_MALLOC=default``); False otherwise (nothing changed).
    """
    global _applied
    if _applied:
        return True
    if not wanted() or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: musl's mallopt is a no-op stub
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _applied
