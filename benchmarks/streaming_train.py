"""Benchmark: training CNN-25 on a 1000-nt HDF5 dataset streamed from disk vs held in memory.

Writes a temporary dataset in the layout of :class:`motiflens.data.dataset.DatasetWriter`,
then, in one run, times one training epoch of CNN-25 (paper protocol, batch 100, one thread)
reading the training split lazily from disk (``load_dataset(in_memory=False)``: the trainer
streams shuffled chunks) and from memory, and the raw read rate of the same streamed chunks.
Prints sequences per second read vs consumed by training.

Usage::

    python benchmarks/streaming_train.py [--rows 6000]
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from motiflens.data.dataset import load_dataset
from motiflens.models import model_spec
from motiflens.train import TrainConfig, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from streaming_read import LENGTH, make_dataset  # noqa: E402


def epoch_rate(dataset, out: Path, rows: int) -> float:
    """Sequences per second consumed by one training epoch (validation pass included)."""
    config = TrainConfig.for_protocol("paper", seed=0, max_epochs=1, num_threads=1)
    t0 = time.perf_counter()
    train(model_spec("CNN-25", input_length=LENGTH), dataset, config, out, progress=False)
    return rows / (time.perf_counter() - t0)


def read_rate(split, chunk: int = 8192) -> float:
    """Sequences per second of reading the split chunk by chunk as float32."""
    t0 = time.perf_counter()
    for lo in range(0, len(split), chunk):
        split.take(slice(lo, min(lo + chunk, len(split))))
    return len(split) / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=6000)
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="stream-train-"))
    try:
        path = root / "big.h5"
        make_dataset(path, args.rows)
        epoch_rate(load_dataset(path), root / "warm-up", args.rows)  # one-time start-up costs
        with load_dataset(path, in_memory=False) as lazy:
            read = read_rate(lazy.train)
            streamed = epoch_rate(lazy, root / "streamed", args.rows)
        in_memory = epoch_rate(load_dataset(path), root / "memory", args.rows)
        print(f"CNN-25, {args.rows:,} x {LENGTH} nt, batch 100, 1 thread")
        print(f"{'read from disk (chunks, float32)':<40} {read:>10,.0f} seq/s")
        print(f"{'training, streamed from disk':<40} {streamed:>10,.0f} seq/s")
        print(f"{'training, in memory':<40} {in_memory:>10,.0f} seq/s")
        print(f"streaming costs {in_memory / streamed:.2f}x; reading is "
              f"{read / streamed:.0f}x faster than training consumes")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
