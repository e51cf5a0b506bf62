"""Benchmark: ingest a DeepSEA-layout bundle of >= 1M rows x 1000 nt; rows/s and peak RSS.

Generates, in a temporary directory, a bundle in the real layout:

* ``train.mat``: MATLAB 7.3 (HDF5 after a 512-byte MATLAB user block), h5py view
  ``trainxdata`` (1000, 4, N) uint8 and ``traindata`` (919, N) uint8; forward strands first,
  then their reverse complements (as DeepSEA); about 6 % of rows positive for >= 1 of the 12
  paper columns (270,382 / 4.4M in the real file), 2 % density in the other columns.
* ``valid.mat`` / ``test.mat``: MATLAB 5 via scipy.io.savemat (8,000 and ``--test-rows``).

Then runs :func:`motiflens.data.deepsea.build_deepsea` in a child process and reports rows
read per second and the child's peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), which
must stay under 4 GB. Everything is deleted at the end.

Usage::

    nice python benchmarks/deepsea_ingest.py [--rows 1000000] [--chunk-rows 50000] [--keep DIR]
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LENGTH = 1000
N_LABELS = 919
PAPER_COLUMNS = (592, 602, 344, 345, 635, 636, 349, 642, 359, 361, 661, 369)
RSS_LIMIT_GB = 4.0
MATLAB_HEADER = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan 1 00:00:00 2015 "
                 b"HDF5 schema 1.00 .")


def forward_block(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n random sequences as (n, 4, L) uint8 one-hot in A, G, C, T order, plus (n, 919) labels."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, LENGTH), dtype=np.uint8)
    codes[rng.random((n, LENGTH)) < 0.002] = 4  # a few N
    eye = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), np.uint8)])
    X = np.ascontiguousarray(eye[codes].transpose(0, 2, 1))
    Y = (rng.random((n, N_LABELS)) < 0.02).astype(np.uint8)
    Y[:, PAPER_COLUMNS] = 0
    positive = np.flatnonzero(rng.random(n) < 0.06)
    k = rng.integers(1, 4, size=positive.size)
    for j in range(3):
        rows = positive[k > j]
        Y[rows, np.asarray(PAPER_COLUMNS)[rng.integers(0, 12, size=rows.size)]] = 1
    return X, Y


def write_train(path: Path, n_rows: int, chunk: int) -> None:
    """train.mat in MATLAB 7.3 layout, written chunk by chunk (never whole in memory)."""
    import h5py

    half = n_rows // 2
    with h5py.File(path, "w", userblock_size=512) as f:
        dx = f.create_dataset("trainxdata", shape=(LENGTH, 4, n_rows), dtype=np.uint8)
        dy = f.create_dataset("traindata", shape=(N_LABELS, n_rows), dtype=np.uint8)
        for key in ("trainxdata", "traindata"):
            f[key].attrs["MATLAB_class"] = np.bytes_("uint8")
        for k, lo in enumerate(range(0, half, chunk)):
            hi = min(half, lo + chunk)
            X, Y = forward_block(k, hi - lo)
            dx[:, :, lo:hi] = X.T
            dy[:, lo:hi] = Y.T
            rc = X[:, ::-1, ::-1]  # reverse complement (A,G,C,T reversed is T,C,G,A)
            dx[:, :, half + lo:half + hi] = rc.T
            dy[:, half + lo:half + hi] = Y.T
            print(f"  generated {2 * hi:,} / {n_rows:,} rows", flush=True)
    with open(path, "r+b") as f:
        f.write(MATLAB_HEADER.ljust(512, b" "))


def write_mat5(path: Path, prefix: str, n_rows: int, seed: int) -> None:
    import scipy.io

    X, Y = forward_block(seed, n_rows // 2)
    X = np.concatenate([X, X[:, ::-1, ::-1]])
    Y = np.concatenate([Y, Y])
    scipy.io.savemat(path, {f"{prefix}xdata": X, f"{prefix}data": Y})


CHILD = """
import json, resource, sys, time
from motiflens.data.deepsea import build_deepsea
t0 = time.perf_counter()
build_deepsea(sys.argv[1], sys.argv[2], chunk_rows=int(sys.argv[3]))
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="train.mat rows (both strands)")
    parser.add_argument("--test-rows", type=int, default=40_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--tmp", default=None, help="directory for the temporary bundle")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    print(describe_machine(), flush=True)

    n_train, n_valid, n_test = args.rows, 8_000, args.test_rows
    need = (n_train + n_valid + n_test) * (4 * LENGTH + N_LABELS) * 1.1 + 1e9
    root = Path(tempfile.mkdtemp(prefix="deepsea-bench-", dir=args.tmp))
    free = shutil.disk_usage(root).free
    print(f"bundle dir {root}: {free / 1e9:.1f} GB free, need about {need / 1e9:.1f} GB")
    if free < need:
        shutil.rmtree(root)
        print("not enough free disk space; use --tmp or fewer --rows", file=sys.stderr)
        return 1
    try:
        bundle = root / "deepsea_train"
        bundle.mkdir()
        t0 = time.perf_counter()
        write_train(bundle / "train.mat", n_train, min(args.chunk_rows, 50_000))
        write_mat5(bundle / "valid.mat", "valid", n_valid, seed=10_001)
        write_mat5(bundle / "test.mat", "test", n_test, seed=10_002)
        gen_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in bundle.iterdir())
        print(f"generated bundle: {size / 1e9:.2f} GB in {gen_s:.0f} s")

        out = root / "invivo.h5"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, str(bundle), str(out),
                               str(args.chunk_rows)], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return 1
        rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9
        seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
        import h5py

        with h5py.File(out, "r") as f:
            kept = {s: int(f[f"X_{s}"].shape[0]) for s in ("train", "valid", "test")}
            prov = json.loads(f.attrs["provenance"])
        rows_read = n_train + n_valid + n_test
        result = {
            "rows_read": rows_read,
            "rows_kept": kept,
            "train_fraction_kept": round(kept["train"] / n_train, 4),
            "ingest_seconds": round(seconds, 1),
            "rows_per_second": round(rows_read / seconds),
            "train_rows_per_second": round(n_train / prov["splits"]["train"]["seconds"]),
            "peak_rss_gb": round(rss_gb, 2),
            "output_gb": round(out.stat().st_size / 1e9, 3),
            "chunk_rows": args.chunk_rows,
            "child_wall_seconds": round(wall, 1),
        }
        print(json.dumps(result, indent=2))
        ok = rss_gb < RSS_LIMIT_GB
        print(f"peak RSS {rss_gb:.2f} GB {'<' if ok else '>='} {RSS_LIMIT_GB} GB: "
              f"{'OK' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
