"""Equivalence check: vectorised trials and bf16 training vs single fp32 runs (same seeds).

Trains the trials of one model (default CNN-25, seeds of ``table1`` trials 0-4 for sweep seed 0)
on a dataset four ways - single fp32 runs (``motiflens.train.train``), one vectorised fp32 group
(``motiflens.vectorized.train_trials``), single bf16 runs and one vectorised bf16 group - then
interprets first-layer filters of every run (Tomtom vs JASPAR) and prints per trial the test
AU-ROC, the fraction of filters matching a ground-truth motif, epochs and wall time, and the
largest AU-ROC difference of each variant from the single fp32 runs.

Usage::

    python benchmarks/vectorized_equivalence.py --data data/synthetic.h5 --out /tmp/equiv \
        [--model CNN-25] [--trials 5] [--threads 1] [--max-epochs 100] [--variants ...]
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import sys
import time
from pathlib import Path

import torch

from motiflens.data.dataset import load_dataset
from motiflens.experiments.sweep import trial_seed
from motiflens.interpret.pipeline import interpret_run
from motiflens.models import model_spec
from motiflens.train import TrainConfig, train
from motiflens.vectorized import train_trials

VARIANTS = ("single-fp32", "vec-fp32", "single-bf16", "vec-bf16")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="CNN-25")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--no-interpret", action="store_true")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)

    torch.set_num_threads(args.threads)
    dataset = load_dataset(args.data, in_memory=True)
    spec = model_spec(args.model, input_length=int(dataset.train.X.shape[-1]),
                      n_outputs=int(dataset.train.Y.shape[1]))
    seeds = [trial_seed(0, args.model, k) for k in range(args.trials)]
    out = Path(args.out)
    rows: dict[str, list[dict]] = {}
    walls: dict[str, float] = {}
    from motiflens._machine import native_bf16

    if not native_bf16() and not torch.cuda.is_available():
        skipped = [v for v in args.variants if "bf16" in v]
        args.variants = [v for v in args.variants if "bf16" not in v]
        if skipped:
            print(f"no native bf16 on this CPU: skipping {', '.join(skipped)}")
    for variant in args.variants:
        precision = variant.split("-")[1]
        configs = [TrainConfig.for_protocol("paper", seed=s, precision=precision, device="cpu",
                                            num_threads=args.threads,
                                            max_epochs=args.max_epochs) for s in seeds]
        dirs = [out / variant / f"trial-{k}" for k in range(args.trials)]
        if variant.startswith("vec"):
            results = train_trials(spec, dataset, configs, dirs, resume=True)
        else:
            results = [train(spec, dataset, c, d, resume=True, progress=False)
                       for c, d in zip(configs, dirs)]
        # Training time summed over the trials' metrics (correct when runs were resumed).
        walls[variant] = sum(float(r["wall_time_s"]) for r in results)
        rows[variant] = []
        for d, r in zip(dirs, results):
            match = float("nan")
            if not args.no_interpret:
                summary = interpret_run(d, layers=(1,), data=args.data)[1]
                match = summary["frac_match_gt"]
            rows[variant].append({"auroc": r["test"]["mean_auroc"], "match": match,
                                  "epochs": r["epochs_run"], "wall": r["wall_time_s"]})
        print(f"{variant}: {walls[variant]:.0f} s of training for {args.trials} trials", flush=True)

    print(f"\n{args.model}, {args.trials} trials, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    header = f"{'trial':<6}{'seed':>11}" + "".join(f"{v:>26}" for v in args.variants)
    print(header + "\n" + " " * 17 + "".join(f"{'AU-ROC  match  ep  wall':>26}"
                                             for _ in args.variants))
    for k, seed in enumerate(seeds):
        cells = "".join(
            f"{r['auroc']:>12.4f}{r['match']:>7.2f}{r['epochs']:>4d}{r['wall']:>6.0f}s".rjust(26)
            for r in (rows[v][k] for v in args.variants))
        print(f"{k:<6}{seed:>11}{cells}")
    ref = rows.get("single-fp32")
    if ref:
        for v in args.variants[1:] if args.variants[0] == "single-fp32" else args.variants:
            d_auc = max(abs(a["auroc"] - b["auroc"]) for a, b in zip(ref, rows[v]))
            mean = lambda rs, key: sum(r[key] for r in rs) / len(rs)  # noqa: E731
            print(f"{v}: max |AU-ROC - single-fp32| = {d_auc:.4f}; mean AU-ROC "
                  f"{mean(rows[v], 'auroc'):.4f} vs {mean(ref, 'auroc'):.4f}; mean match "
                  f"{mean(rows[v], 'match'):.3f} vs {mean(ref, 'match'):.3f}; wall "
                  f"{walls[v]:.0f} s vs {walls['single-fp32']:.0f} s "
                  f"({walls['single-fp32'] / walls[v]:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
