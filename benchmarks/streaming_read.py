"""Benchmark: sequences per second read lazily from a 1000-nt motiflens HDF5 dataset.

Writes a temporary dataset (``--rows`` random 1000-nt sequences in the training split, the
chunked + gzip layout of :class:`motiflens.data.dataset.DatasetWriter`), opens it with
``load_dataset(path, in_memory=False)`` and times :meth:`Split.take` for

* sequential batches (``slice`` reads, the order a streaming trainer with shuffled chunk order
  would use), and
* random batches (sorted fancy-index reads, fully random shuffling),

reporting sequences/s and MB/s of float32 delivered. Compare with the trainer's consumption
rate (sequences/s per training step) to see whether reading is the bottleneck.

Usage::

    python benchmarks/streaming_read.py [--rows 100000] [--batch 128]
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from motiflens.data.dataset import DatasetWriter, load_dataset

LENGTH = 1000


def make_dataset(path: Path, rows: int, chunk: int = 20_000) -> None:
    rng = np.random.default_rng(0)
    eye = np.eye(4, dtype=np.uint8)
    with DatasetWriter(path, [f"c{i}" for i in range(12)], length=LENGTH) as writer:
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            X = np.ascontiguousarray(eye[rng.integers(0, 4, (n, LENGTH))].transpose(0, 2, 1))
            Y = (rng.random((n, 12)) < 0.1).astype(np.uint8)
            writer.append("train", X, Y)
        for split in ("valid", "test"):
            writer.append(split, X[:100], Y[:100])


def time_reads(split, batch: int, n_batches: int, mode: str, rng) -> float:
    n = len(split)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        if mode == "sequential":
            lo = int(rng.integers(0, n - batch))
            X, Y = split.take(slice(lo, lo + batch))
        else:
            X, Y = split.take(rng.choice(n, size=batch, replace=False))
        assert X.shape == (batch, 4, LENGTH)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    root = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    try:
        path = root / "big.h5"
        t0 = time.perf_counter()
        make_dataset(path, args.rows)
        print(f"wrote {args.rows:,} x {LENGTH} nt ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.0f} s")
        rng = np.random.default_rng(1)
        results = {}
        with load_dataset(path, in_memory=False) as ds:
            for mode in ("sequential", "random"):
                time_reads(ds.train, args.batch, 5, mode, rng)  # warm up
                dt = time_reads(ds.train, args.batch, args.batches, mode, rng)
                seqs = args.batch * args.batches / dt
                results[mode] = {"sequences_per_second": round(seqs),
                                 "MB_per_second_float32": round(seqs * 4 * LENGTH * 4 / 1e6, 1)}
        print(json.dumps({"rows": args.rows, "batch": args.batch, **results}, indent=2))
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
