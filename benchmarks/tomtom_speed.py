"""Speed of motiflens' in-process Tomtom against memelite's on the same inputs.

Queries: 128 random width-19 PPMs (columns ~ Dirichlet(0.5), seeded), like the first-layer
filters of the paper's CNNs. Targets: the 519 motifs of JASPAR 2016 CORE vertebrates
(``shared/reference/tomtom/jaspar2016_vertebrates.meme``). Both programs get the same PPMs
(motiflens applies Tomtom's pseudocount itself; memelite gets the raw PPMs).

Each program is timed in fresh subprocesses:
- ``cold``: wall time of a whole new Python process that imports the package, reads the
  database and compares the 128 filters once (interpreter start-up included);
- ``first call``: the first comparison inside that process (memelite: includes numba JIT
  compilation, or loading its on-disk cache);
- ``warm``: best of ``--repeats`` further calls in the same process.

Usage::

    .venv/bin/python benchmarks/tomtom_speed.py [--filters 128] [--width 19] [--seed 0]
        [--database PATH] [--repeats 3] [--jobs 1] [--no-memelite]

Prints a table of seconds (and the machine's load average, since the numbers are only
comparable on an otherwise idle machine).
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = REPO.parent / "shared" / "reference" / "tomtom" / "jaspar2016_vertebrates.meme"

# Code run in a fresh interpreter; prints one JSON line of timings.
_CHILD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    program, db_path = sys.argv[1], sys.argv[2]
    n, width, seed, repeats, jobs = map(int, sys.argv[3:8])
    import numpy as np
    from motiflens.motifs import Motif, read_meme
    if program == "motiflens":
        from motiflens.interpret.tomtom import run_tomtom, TomtomConfig
    else:
        from memelite import tomtom as memelite_tomtom
    t_import = time.perf_counter()
    targets = read_meme(db_path)
    rng = np.random.default_rng(seed)
    queries = [Motif(f"filter_{i}", rng.dirichlet(np.full(4, 0.5), size=width).T)
               for i in range(n)]
    t_read = time.perf_counter()

    def once():
        if program == "motiflens":
            res = run_tomtom(queries, targets, TomtomConfig(), n_jobs=jobs)
            return res.pvalues
        p = memelite_tomtom([q.ppm for q in queries], [t.ppm for t in targets], n_jobs=jobs)[0]
        return np.asarray(p)

    s = time.perf_counter(); pv = once(); first = time.perf_counter() - s
    warm = []
    for _ in range(repeats):
        s = time.perf_counter(); once(); warm.append(time.perf_counter() - s)
    print(json.dumps({"import": t_import - t0, "read": t_read - t_import, "first": first,
                      "warm": min(warm) if warm else None, "shape": list(pv.shape),
                      "min_p": float(np.min(pv))}))
    """
)


def run_child(program: str, args: argparse.Namespace) -> dict:
    """Run one fresh interpreter; return its timings plus the whole-process wall time."""
    env = dict(os.environ)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, program, str(args.database), str(args.filters),
         str(args.width), str(args.seed), str(args.repeats), str(args.jobs)],
        capture_output=True, text=True, env=env, check=False,
    )
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{program} benchmark failed:\n{out.stderr[-2000:]}")
    record = json.loads(out.stdout.strip().splitlines()[-1])
    # cold = whole process up to the end of the first call (the warm repeats excluded)
    record["cold"] = wall - (record["warm"] or 0.0) * args.repeats
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filters", type=int, default=128)
    parser.add_argument("--width", type=int, default=19)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", type=Path, default=DEFAULT_DB)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="threads for both programs")
    parser.add_argument("--no-memelite", action="store_true")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    if not args.database.exists():
        raise SystemExit(f"database not found: {args.database}")

    programs = ["motiflens"] + ([] if args.no_memelite else ["memelite"])
    rows = {}
    for program in programs:
        try:
            rows[program] = run_child(program, args)
        except SystemExit as exc:
            print(exc, file=sys.stderr)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"Tomtom speed: {args.filters} random width-{args.width} filters x "
          f"{args.database.name}; {args.jobs} thread(s); {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f}")
    print(f"{'program':<12} {'cold':>8} {'import':>8} {'read db':>8} {'1st call':>9} "
          f"{'warm':>8}   (seconds; cold = fresh process incl. import, up to 1st result)")
    for program, r in rows.items():
        warm = f"{r['warm']:8.3f}" if r["warm"] is not None else f"{'-':>8}"
        print(f"{program:<12} {r['cold']:8.3f} {r['import']:8.3f} {r['read']:8.3f} "
              f"{r['first']:9.3f} {warm}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
