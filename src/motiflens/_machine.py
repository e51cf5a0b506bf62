"""What CPU this is, and which arithmetic it runs natively (base layer: no motiflens imports).

Every result records :func:`machine_info`; the precision choice of training (``auto``) and every
benchmark ask :func:`native_bf16` instead of assuming a feature. bf16 matrix products are only
fast on CPUs with AVX512-BF16 or AMX; elsewhere PyTorch emulates them, thousands of times slower.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from typing import Any

#: CPU flags that decide which arithmetic is fast (as /proc/cpuinfo spells them).
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")

#: Set to ``0`` to behave as if the CPU had no native bf16 (tests; cross-host comparisons).
NATIVE_BF16_ENV = "MOTIFLENS_NATIVE_BF16"

#: Environment variables that restrict the instructions PyTorch, oneDNN and MKL use (e.g. to
#: run this CPU as an AVX2-only one); recorded with the machine when set.
ISA_LIMIT_ENVS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
                  "MKL_ENABLE_INSTRUCTIONS", NATIVE_BF16_ENV)


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = frozenset(value.split())
    except OSError:
        pass
    return model or "unknown", flags


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    return _cpuinfo()[0]


def cpu_flags() -> list[str]:
    """Those of :data:`RELEVANT_FLAGS` this CPU has, sorted."""
    return sorted(set(RELEVANT_FLAGS) & _cpuinfo()[1])


#: oneDNN instruction-set limits (``ONEDNN_MAX_CPU_ISA``) under which it has no bf16 products.
_ONEDNN_WITHOUT_BF16 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2",
                                  "AVX512_CORE", "AVX512_CORE_VNNI"})


def _onednn_limit() -> str:
    return (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
            or "").strip().upper()


def native_bf16() -> bool:
    """True when this CPU computes bf16 products natively (AVX512-BF16 or AMX-BF16).

    ``MOTIFLENS_NATIVE_BF16=0`` (or ``1``) overrides the detection; ``ONEDNN_MAX_CPU_ISA``
    below ``AVX512_CORE_BF16`` (e.g. ``AVX2``) means no.
    """
    forced = os.environ.get(NATIVE_BF16_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    if _onednn_limit() in _ONEDNN_WITHOUT_BF16:
        return False  # oneDNN told to stay below AVX512-BF16: bf16 products would be emulated
    flags = _cpuinfo()[1]
    return "avx512_bf16" in flags or "amx_bf16" in flags


def isa_limits() -> dict[str, str]:
    """Those of :data:`ISA_LIMIT_ENVS` set in the environment (name -> value)."""
    return {name: os.environ[name] for name in ISA_LIMIT_ENVS if os.environ.get(name)}


def machine_info() -> dict[str, Any]:
    """CPU model, the flags that matter, logical CPUs, instruction-set limits set in the
    environment (only when any is), and torch's thread count when loaded."""
    import sys

    info: dict[str, Any] = {
        "cpu_model": cpu_model(), "cpu_flags": cpu_flags(), "native_bf16": native_bf16(),
        "logical_cpus": os.cpu_count(),
    }
    limits = isa_limits()
    if limits:
        info["isa_limits"] = limits
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = int(torch.get_num_threads())
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def describe_machine() -> str:
    """One line for benchmark headers: model, flags, CPUs (and instruction-set limits if set)."""
    info = machine_info()
    flags = " ".join(info["cpu_flags"]) or "none of " + " ".join(RELEVANT_FLAGS)
    line = f"CPU: {info['cpu_model']} | flags: {flags} | logical CPUs: {info['logical_cpus']}"
    limits = info.get("isa_limits")
    if limits:
        line += " | limited by " + " ".join(f"{k}={v}" for k, v in limits.items())
    return line
