"""Tests for motiflens._malloc: training processes keep freed memory for reuse."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
from motiflens._malloc import retain_freed_memory
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
applied = retain_freed_memory()
before = libc.mallinfo2().hblks
block = bytearray(64 << 20)  # 64 MiB: above glibc's largest mmap threshold
during = libc.mallinfo2().hblks
del block
print(int(applied), during - before)
"""


def _probe(env_value: str | None) -> tuple[int, int]:
    env = dict(os.environ)
    env.pop("MOTIFLENS_MALLOC", None)
    if env_value is not None:
        env["MOTIFLENS_MALLOC"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), int(out[1])


def _has_mallinfo2() -> bool:
    try:
        ctypes.CDLL("libc.so.6").mallinfo2  # noqa: B018 - glibc >= 2.33
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _has_mallinfo2(),
                    reason="glibc malloc only")
def test_large_blocks_come_from_the_heap_once_applied():
    applied, mmapped = _probe(None)
    assert applied == 1
    assert mmapped == 0  # no per-block mmap: freed memory is reused, no fresh page faults


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _has_mallinfo2(),
                    reason="glibc malloc only")
def test_environment_keeps_glibc_defaults():
    applied, mmapped = _probe("default")
    assert applied == 0
    assert mmapped == 1  # glibc's default: a 64 MiB block is its own mmap


def test_worker_initializer_applies_the_setting(monkeypatch):
    from motiflens import _malloc
    from motiflens.experiments import executors

    import torch

    calls = []
    monkeypatch.setattr(_malloc, "retain_freed_memory", lambda: calls.append(1) or True)
    threads = torch.get_num_threads()
    try:
        executors._init_worker(1)
    finally:
        torch.set_num_threads(threads)
    assert calls == [1]


@pytest.mark.parametrize("command, applied", [(["train", "--data", "missing.h5", "--model", "CNN-25"], 1),
                                              (["models"], 0)])
def test_cli_applies_the_setting_to_training_commands_only(command, applied, monkeypatch,
                                                            tmp_path, capsys):
    from motiflens import _malloc
    from motiflens.cli import main

    calls = []
    monkeypatch.setattr(_malloc, "retain_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.chdir(tmp_path)
    main(command + (["--out", str(tmp_path / "run")] if command[0] == "train" else []))
    assert len(calls) == applied
