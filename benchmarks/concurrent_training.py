"""Training processes side by side: does a second worker slow the first one down?

Runs ``motiflens train`` (a fresh process per run, as sweep workers are) on a simulated dataset
for each setting, alone and as ``--jobs`` copies started together, and prints the median epoch
time of each run (from its ``history.tsv``, first epoch excluded: it includes compilation and
first-touch costs). Settings:

- ``threads``: torch threads per process (``--threads``; ``0`` = torch's default, one per core);
- ``malloc``: ``retain`` (what ``motiflens train``/``reproduce`` set, ``motiflens._malloc``) or
  ``default`` (``MOTIFLENS_MALLOC=default``: glibc's own settings).

Everything is measured in this one run, settings alternated per round.

Usage::

    python benchmarks/concurrent_training.py [--models CNN-25 CNN-1] [--epochs 4] [--jobs 2]
        [--threads 1 0] [--malloc retain default] [--rounds 1] [--n 25000]
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOTIFLENS = [sys.executable, "-m", "motiflens.cli"]


def simulate(path: Path, n: int) -> None:
    """Write the synthetic benchmark dataset (n sequences, seed 0) to ``path``."""
    subprocess.run(MOTIFLENS + ["simulate", "--out", str(path), "--n", str(n), "--seed", "0"],
                   check=True, capture_output=True)


def start(model: str, data: Path, out: Path, epochs: int, threads: int, malloc: str,
          extra: list[str]) -> subprocess.Popen:
    """Start one ``motiflens train`` process."""
    cmd = MOTIFLENS + ["train", "--model", model, "--data", str(data), "--out", str(out),
                       "--epochs", str(epochs), "--seed", "0", "--no-resume"] + extra
    if threads:
        cmd += ["--threads", str(threads)]
    env = dict(os.environ, MOTIFLENS_MALLOC=malloc)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def epoch_seconds(run_dir: Path) -> float:
    """Median seconds of the epochs after the first, from ``history.tsv``."""
    lines = (run_dir / "history.tsv").read_text().splitlines()
    column = lines[0].split("\t").index("seconds")
    times = [float(line.split("\t")[column]) for line in lines[1:]]
    return statistics.median(times[1:] or times)


def run_together(model: str, data: Path, scratch: Path, epochs: int, threads: int, malloc: str,
                 jobs: int, extra: list[str]) -> list[float]:
    """Start ``jobs`` trainings at once; their median epoch seconds."""
    dirs = [scratch / f"{model}-{threads}-{malloc}-{jobs}-{i}" for i in range(jobs)]
    procs = [start(model, data, d, epochs, threads, malloc, extra) for d in dirs]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"motiflens train failed:\n{err}")
    return [epoch_seconds(d) for d in dirs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["CNN-25", "CNN-1"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2, help="concurrent trainings")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 0],
                        help="torch threads per process (0 = torch's default)")
    parser.add_argument("--malloc", nargs="+", default=["retain", "default"],
                        choices=["retain", "default"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--n", type=int, default=25_000, help="simulated sequences")
    parser.add_argument("--extra", default="--precision auto --fast-dropout",
                        help="further `motiflens train` options")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)

    extra = args.extra.split()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} CPU(s); load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; train options: {args.extra}; "
          f"{args.epochs} epochs, median epoch time after the first")
    header = f"{'model':<10}{'threads':>8}{'malloc':>9}{'alone s':>9}" + \
        f"{f'{args.jobs} together s':>16}{'slow-down':>11}{'throughput':>12}"
    print(header)
    print("-" * len(header), flush=True)
    with tempfile.TemporaryDirectory(prefix="motiflens-concurrent-") as tmp:
        scratch = Path(tmp)
        data = scratch / "synthetic.h5"
        simulate(data, args.n)
        for model in args.models:
            for threads in args.threads:
                for malloc in args.malloc:
                    alone, together = [], []
                    for _ in range(args.rounds):
                        alone += run_together(model, data, scratch, args.epochs, threads, malloc,
                                              1, extra)
                        together += run_together(model, data, scratch, args.epochs, threads,
                                                 malloc, args.jobs, extra)
                    a, t = min(alone), statistics.mean(together)
                    print(f"{model:<10}{threads or 'all':>8}{malloc:>9}{a:>9.2f}{t:>16.2f}"
                          f"{t / a:>10.2f}x{args.jobs * a / t:>11.2f}x", flush=True)
    print("\nslow-down: epoch time together / alone; throughput: epochs per second of the "
          f"{args.jobs} together / of one alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
