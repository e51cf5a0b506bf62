"""Projected wall time of a sweep (default ``table1`` x 5 trials) from measured epoch times.

For every model row of the experiment the training epoch is timed here (one epoch per variant
on ``--measure-n`` random sequences, scaled linearly to the training-set size ``--n``; variants
measured in rotation as in ``train_speed.py``) together with one validation pass
(``--n-valid`` sequences, done once per epoch by the trainer). The number of epochs per trial
comes from a results directory when given - ``RESULTS/runs/<model id>/trial-*/history.tsv`` (the
epochs early stopping actually produced; a trial still running counts with its epochs so far,
marked ``*``) - and is ``--default-epochs`` (100, the paper protocol's maximum) otherwise.

projected time = sum over trials of epochs x (train epoch + validation pass) / workers

The ``floor`` line is the time the sweep's conv and linear FLOPs alone (as counted by
``train_speed.py``) would take at the bf16 matmul rate measured in the same run, with nothing
else (batch norm, pooling, dropout, optimizer, validation) costing anything: a hard lower bound
for this machine.

(``--workers``: trials run in that many single-threaded processes side by side, e.g. 2 on a
2-core machine; the division assumes they do not slow each other down - an optimistic bound.)

``vec5*`` variants use the per-trial time of a 5-trial vectorised group for every epoch (a group
shrinks as its trials stop, so the tail runs at a smaller group's per-trial speed: slightly
optimistic). Interpretation (Tomtom) and data simulation are not included.

Usage::

    python benchmarks/sweep_estimate.py [--experiment table1] [--trials 5]
        [--results results/table1 [results/table1-code ...]]
        [--variants baseline fp32 bf16 vec5 vec5-bf16] [--models CNN-1 CNN-25] [--threads 1]
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import (VARIANTS, _load, apply_malloc, matmul_flops, measure,  # noqa: E402
                         random_onehot, train_flops_per_sequence)

from motiflens.experiments.registry import load_experiment  # noqa: E402
from motiflens.experiments.sweep import build_spec  # noqa: E402
from motiflens.models import build_model  # noqa: E402
from motiflens.train import predict_logits, resolve_device  # noqa: E402


def epoch_counts(results: Path | None, model_id: str, trials: int, default: int
                 ) -> tuple[list[int], bool]:
    """Epochs per trial from ``history.tsv`` files (else ``default``); and whether any is partial."""
    counts, partial = [], False
    if results is not None:
        for k in range(trials):
            run = results / "runs" / model_id / f"trial-{k}"
            history = run / "history.tsv"
            if history.is_file():
                rows = [r for r in history.read_text().splitlines()[1:] if r.strip()]
                counts.append(len(rows))
                partial |= not (run / "metrics.json").is_file()
    if not counts:
        return [default] * trials, False
    # Trials without a history yet: the mean of those measured.
    mean = round(statistics.mean(counts))
    return counts + [mean] * (trials - len(counts)), partial


def valid_seconds(spec, n_valid: int, device: torch.device, batch_size: int = 1000) -> float:
    """Seconds of one validation pass (eval-mode forward of ``n_valid`` sequences)."""
    X, _ = random_onehot(n_valid, spec.input_length, seed=1)
    model = build_model(spec, seed=0).to(device)
    predict_logits(model, X[:batch_size], batch_size=batch_size)
    t0 = time.perf_counter()
    predict_logits(model, X, batch_size=batch_size)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="table1")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--results", type=Path, nargs="+",
                        help="sweep directories with runs/*/trial-*/history.tsv (one projection "
                             "per directory, from the same epoch-time measurements)")
    parser.add_argument("--default-epochs", type=int, default=100)
    parser.add_argument("--variants", nargs="+", default=["baseline", "fp32", "bf16", "vec5",
                                                          "vec5-bf16"], choices=VARIANTS)
    parser.add_argument("--models", nargs="+", help="subset of the experiment's model ids")
    parser.add_argument("--n", type=int, default=17_500, help="training sequences")
    parser.add_argument("--n-valid", type=int, default=2_500, help="validation sequences")
    parser.add_argument("--measure-n", type=int, default=3_500,
                        help="sequences per timed epoch (scaled to --n)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1,
                        help="trials trained side by side (the projection divides by it)")
    parser.add_argument("--malloc", choices=["default", "retain"], default="retain",
                        help="glibc malloc for the run: 'retain' (as sweep workers run) or its "
                             "defaults")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    malloc = apply_malloc(args.malloc)

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    experiment = load_experiment(args.experiment)
    entries = [e for e in experiment.models if not args.models or e.id in args.models]
    X, Y = random_onehot(args.measure_n, 200)
    scale = args.n / args.measure_n
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} thread(s)"
    print(f"{experiment.name} x {args.trials} trials; device {device} ({where}); "
          f"torch {torch.__version__}; {time.strftime('%Y-%m-%d %H:%M')}; load {_load()}")
    sources = list(args.results) if args.results else [None]
    names = [str(r) if r else f"default {args.default_epochs}" for r in sources]
    from motiflens._machine import native_bf16

    bf16_ok = device.type == "cuda" or native_bf16()
    if not bf16_ok:  # emulated bf16 would never finish: fp32 variants and fp32 floor only
        args.variants = [v for v in args.variants if "bf16" not in v]
        print("no native bf16 on this CPU: bf16 variants skipped, the floor is at the fp32 rate")
    peak_fp32 = matmul_flops(device)
    peak_bf16 = matmul_flops(device, dtype=torch.bfloat16) if bf16_ok else peak_fp32
    print(f"fp32 matmul {peak_fp32 / 1e9:.1f} GFLOP/s, bf16 {peak_bf16 / 1e9:.1f} "
          f"GFLOP/s; malloc: {malloc}; epochs from {', '.join(names)}; epoch times from "
          f"{args.measure_n} sequences x {scale:.2f}\n")
    epoch_cols = "".join(f"{f'epochs{i + 1}':>9}" for i in range(len(sources)))
    header = f"{'model':<12}{epoch_cols}{'valid s':>9}" + "".join(
        f"{v + ' s/ep':>15}" for v in args.variants)
    print(header)
    print("-" * len(header))
    totals = [{v: 0.0 for v in args.variants} for _ in sources]
    flops = [0.0 for _ in sources]  # conv + linear FLOPs of the whole sweep's training
    for entry in entries:
        spec = build_spec(entry, 200, 12)
        counts = [epoch_counts(r, entry.id, args.trials, args.default_epochs) for r in sources]
        times = measure_spec(spec, args.variants, X, Y, device, args.repeats)
        valid = valid_seconds(spec, args.n_valid, device)
        cells = ""
        for v in args.variants:
            per_epoch = times[v] * scale + valid
            for total, (trial_epochs, _) in zip(totals, counts):
                total[v] += sum(trial_epochs) * per_epoch
            cells += f"{per_epoch:>15.2f}"
        for i, (trial_epochs, _) in enumerate(counts):
            flops[i] += sum(trial_epochs) * args.n * train_flops_per_sequence(spec)
        epochs = "".join(f"{statistics.mean(c):>8.0f}{'*' if partial else ' '}"
                         for c, partial in counts)
        print(f"{entry.id:<12}{epochs}{valid:>9.2f}{cells}", flush=True)
    print("-" * len(header))
    width = 12 + 9 * len(sources) + 9
    for i, (name, total) in enumerate(zip(names, totals)):
        if len(sources) > 1:
            print(f"epochs{i + 1}: {name}")
        print(f"{'projected':<{width}}" + "".join(f"{t / 60:>13.1f} m" for t in total.values()))
        if args.workers > 1:
            print(f"{f'/ {args.workers} workers':<{width}}" + "".join(
                f"{t / 60 / args.workers:>13.1f} m" for t in total.values()))
        if "baseline" in total:
            print(f"{'vs baseline':<{width}}" + "".join(
                f"{total['baseline'] / t:>14.2f}x" for t in total.values()))
        floor = flops[i] / peak_bf16 / args.workers
        print(f"floor: {flops[i] / 1e12:.0f} TFLOP of conv/linear training at the "
              f"{'bf16' if bf16_ok else 'fp32'} matmul "
              f"rate = {floor / 60:.1f} m on {args.workers} worker(s) (no other work counted)")
    return 0


def measure_spec(spec, variants: list[str], X: np.ndarray, Y: np.ndarray, device: torch.device,
                 repeats: int) -> dict[str, float]:
    """Seconds per epoch per trial of each variant for one spec."""
    results = measure([spec], variants, X, Y, device, repeats, batch_size=100)
    return {v: results[(spec.name, v)]["seconds"] for v in variants}


if __name__ == "__main__":
    sys.exit(main())
