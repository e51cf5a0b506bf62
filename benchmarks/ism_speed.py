"""Throughput of exact ISM (and of saliency, for comparison) on CNN-25 with 200-nt sequences.

The model is ``build_model(model_spec("CNN-25"))`` (random He weights; speed does not depend on
them), in eval mode. ISM runs ``3 * L`` single mutants per sequence plus one reference pass,
``--batch-size`` mutants per forward; saliency is one forward and one backward per batch and
class. Each setting is timed ``--repeats`` times after a warm-up call; the best time is shown.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ism_speed.py [--sequences 32] [--length 200]
        [--threads 1 2] [--batch-size 256] [--repeats 3] [--seed 0]

The thread count is set with ``torch.set_num_threads`` per row. Prints the CPU model and flags,
the load average (the numbers are only comparable on an otherwise idle machine) and one row per
method and thread count: seconds, sequences per second, and rows per second through the model
(ISM: mutants + the reference, ``3 L + 1`` per sequence; saliency: sequences).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from motiflens._machine import describe_machine
from motiflens.interpret.attribution import attribute
from motiflens.models import build_model, model_spec


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=32, help="sequences per ISM timing")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def random_one_hot(n: int, length: int, seed: int) -> np.ndarray:
    """(n, 4, length) float32 uniform random one-hot sequences."""
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    return np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()


def best_time(model: torch.nn.Module, X: np.ndarray, method: str, target: int | None,
              batch_size: int, repeats: int) -> float:
    """Best wall time in seconds of ``repeats`` calls, after one warm-up call on 2 sequences."""
    attribute(model, X[:2], method, target, batch_size=batch_size)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        attribute(model, X, method, target, batch_size=batch_size)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    args = parse_args()
    spec = model_spec("CNN-25", input_length=args.length)
    model = build_model(spec, seed=args.seed).eval()
    X_ism = random_one_hot(args.sequences, args.length, args.seed)
    X_grad = random_one_hot(max(args.sequences, 256), args.length, args.seed + 1)
    print(describe_machine())
    print(f"torch {torch.__version__} | load average {os.getloadavg()[0]:.2f} | model CNN-25 "
          f"({spec.n_outputs} classes) | L = {args.length} | batch {args.batch_size} | "
          f"best of {args.repeats}")
    header = f"{'method':<22}{'threads':>8}{'sequences':>11}{'seconds':>9}{'seq/s':>10}" \
             f"{'rows/s':>12}"
    print(header)
    print("-" * len(header))
    rows = [("ism (all classes)", X_ism, "ism", None, 3 * args.length + 1),
            ("saliency (1 class)", X_grad, "saliency", 0, 1),
            ("saliency (all classes)", X_grad, "saliency", None, 1)]
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, X, method, target, forwards in rows:
            seconds = best_time(model, X, method, target, args.batch_size, args.repeats)
            rate = len(X) / seconds
            print(f"{name:<22}{threads:>8}{len(X):>11}{seconds:>9.3f}{rate:>10.1f}"
                  f"{rate * forwards:>12.0f}")


if __name__ == "__main__":
    main()
