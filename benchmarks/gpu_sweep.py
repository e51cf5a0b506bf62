"""A committed sweep again, vectorised on a GPU: wall time, GPU model, and per-trial agreement
with the committed CPU records of the same seeds.

Made to run as one prepared command on a lent GPU machine (issue #18, target 4), where
pyjaspar is not installed: write a JASPAR snapshot here first and carry it
(``motiflens jaspar-snapshot --out .jaspar``, ``MOTIFLENS_JASPAR_SNAPSHOT=.jaspar`` there).

    PYTHONPATH=src python benchmarks/gpu_sweep.py --out /tmp/gpu-sweep --summary $OUT/gpu.json

The sweep runs as a child process (``motiflens reproduce EXPERIMENT --vectorize --workers N``,
with the records' training settings) until it ends or ``--budget-s`` passes; then every
finished trial is compared with its record: test AU-ROC (target: within 0.005), epochs and the
first-layer ground-truth match fraction. The dataset's digest must equal the records' (same
simulation, same JASPAR matrices). Trials still running at the budget are reported as missing,
never as agreeing. ``--allow-cpu`` rehearses the same path on a CPU (small ``--models`` /
``--n-sequences`` / ``--epochs``; the dataset then differs from the records').
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 0.005


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", default="table1-authors-code")
    p.add_argument("--records", type=Path, default=None,
                   help="committed records to compare with (default docs/results/EXPERIMENT)")
    p.add_argument("--out", type=Path, required=True, help="sweep directory (resumed if present)")
    p.add_argument("--summary", type=Path, default=None, help="write the comparison as JSON here")
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) // 2)))
    p.add_argument("--models", nargs="+", default=None)
    p.add_argument("--n-sequences", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--precision", default=None, help="default: the records' setting")
    p.add_argument("--budget-s", type=float, default=480.0,
                   help="stop the sweep after this many seconds and compare what finished")
    p.add_argument("--allow-cpu", action="store_true", help="rehearse without a GPU")
    return p.parse_args(argv)


def describe_gpu() -> dict:
    import torch

    info = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "available": torch.cuda.is_available()}
    if info["available"]:
        props = torch.cuda.get_device_properties(0)
        info.update(name=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, count=torch.cuda.device_count())
    return info


def reproduce_command(args: argparse.Namespace, train: dict) -> list[str]:
    """The ``motiflens reproduce`` child command with the records' training settings."""
    cmd = [sys.executable, "-c", "import sys; from motiflens.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "reproduce", args.experiment, "--out", str(args.out),
           "--trials", str(args.trials), "--workers", str(args.workers), "--vectorize",
           "--no-report", "--precision", args.precision or train.get("precision", "fp32")]
    if train.get("dropout_masks") == "fast":
        cmd.append("--fast-dropout")
    for flag, value in (("--n-sequences", args.n_sequences), ("--epochs", args.epochs)):
        if value is not None:
            cmd += [flag, str(value)]
    if args.models:
        cmd += ["--models", *args.models]
    return cmd


def run_with_budget(cmd: list[str], budget_s: float) -> tuple[float, int | None]:
    """Run ``cmd`` in its own process group; kill the group at the budget.

    Returns (wall seconds, exit code or None when stopped at the budget)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    child = subprocess.Popen(cmd, start_new_session=True, env=env)
    try:
        code: int | None = child.wait(timeout=budget_s)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        code = None
    return time.perf_counter() - start, code


def trial_rows(records: Path, out: Path, models: list[str], trials: int) -> list[dict]:
    """One row per (model, trial) of the records: CPU vs GPU figures, GPU None if unfinished."""
    rows = []
    for model in models:
        for k in range(trials):
            cpu = json.loads((records / "runs" / model / f"trial-{k}" / "result.json").read_text())
            path = out / "runs" / model / f"trial-{k}" / "result.json"
            gpu = json.loads(path.read_text()) if path.is_file() else None
            row = {"model": model, "trial": k, "seed": cpu["seed"], "cpu_auroc": cpu["auroc"],
                   "cpu_epochs": cpu["metrics"]["epochs_run"],
                   "cpu_match_gt": cpu["layers"]["1"]["frac_match_gt"],
                   "gpu_auroc": None, "gpu_epochs": None, "gpu_match_gt": None, "delta": None}
            if gpu is not None:
                if gpu["seed"] != cpu["seed"]:
                    raise SystemExit(f"{path}: seed {gpu['seed']} differs from the record's "
                                     f"{cpu['seed']}; use the records' --experiment and sweep seed")
                row.update(gpu_auroc=gpu["auroc"], gpu_epochs=gpu["metrics"]["epochs_run"],
                           gpu_match_gt=gpu["layers"]["1"]["frac_match_gt"],
                           delta=gpu["auroc"] - cpu["auroc"], device=gpu["metrics"].get("device"))
            rows.append(row)
    return rows


def print_rows(rows: list[dict]) -> None:
    def cell(value, fmt):
        return "-" if value is None else format(value, fmt)

    print(f"{'model':<11} {'trial':>5} {'AU-ROC cpu':>10} {'gpu':>7} {'delta':>8} "
          f"{'epochs cpu/gpu':>14} {'GT match cpu/gpu':>17}")
    for r in rows:
        print(f"{r['model']:<11} {r['trial']:>5} {r['cpu_auroc']:>10.4f} "
              f"{cell(r['gpu_auroc'], '.4f'):>7} {cell(r['delta'], '+.4f'):>8} "
              f"{r['cpu_epochs']:>6} / {cell(r['gpu_epochs'], 'd'):<6} "
              f"{r['cpu_match_gt']:>8.3f} / {cell(r['gpu_match_gt'], '.3f')}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from motiflens import jaspar
    from motiflens._io import write_json
    from motiflens._machine import describe_machine

    records = args.records or ROOT / "docs" / "results" / args.experiment
    settings = json.loads((records / "sweep.json").read_text())
    gpu = describe_gpu()
    print(describe_machine())
    print("GPU:", json.dumps(gpu))
    if not gpu["available"] and not args.allow_cpu:
        print("no CUDA device: run on a GPU machine, or rehearse with --allow-cpu",
              file=sys.stderr)
        return 2
    snapshot = os.environ.get("MOTIFLENS_JASPAR_SNAPSHOT")
    print(f"JASPAR: {'snapshot ' + snapshot if snapshot else 'pyjaspar'}; releases "
          f"{', '.join(jaspar.available_releases())}")
    models = args.models or list(settings["models"])
    cmd = reproduce_command(args, settings["settings"]["train"])
    print("running:", " ".join(cmd[3:]), f"(budget {args.budget_s:.0f} s)", flush=True)
    wall, code = run_with_budget(cmd, args.budget_s)
    rows = trial_rows(records, args.out, models, args.trials)
    print_rows(rows)
    done = [r for r in rows if r["delta"] is not None]
    within = [r for r in done if abs(r["delta"]) <= TOLERANCE]
    digest = (json.loads((args.out / "sweep.json").read_text()).get("dataset_digest")
              if (args.out / "sweep.json").is_file() else None)
    status = ("finished" if code == 0 else f"stopped at the {args.budget_s:.0f} s budget"
              if code is None else f"failed (exit code {code})")
    summary = {
        "experiment": args.experiment, "gpu": gpu, "sweep": status, "wall_s": round(wall, 1),
        "workers": args.workers, "command": cmd[3:], "trials_finished": len(done),
        "trials_expected": len(rows), "within_tolerance": len(within), "tolerance": TOLERANCE,
        "max_abs_delta": max((abs(r["delta"]) for r in done), default=None),
        "dataset_digest": digest, "records_digest": settings.get("dataset_digest"),
        "same_dataset": digest == settings.get("dataset_digest"), "rows": rows,
    }
    print(f"\nsweep {status}: {wall:.1f} s wall ({wall / 60:.1f} min), {args.workers} workers; "
          f"{len(done)} of {len(rows)} trials finished; AU-ROC within {TOLERANCE} of the CPU "
          f"record: {len(within)} of {len(done)}; max |delta| {summary['max_abs_delta']}")
    print(f"dataset digest {'equals' if summary['same_dataset'] else 'DIFFERS FROM'} the "
          f"records' ({digest} vs {settings.get('dataset_digest')})")
    if args.summary:
        write_json(args.summary, summary)
        print(f"summary -> {args.summary}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
