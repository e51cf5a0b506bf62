"""Speed of motiflens' in-process Tomtom, and its agreement with the real MEME Tomtom.

One run prints:

1. the CPU (``describe_machine``) and the load average (timings are only comparable on an
   otherwise idle machine);
2. timings for 128 random width-19 PPMs (columns ~ Dirichlet(0.5), seeded; like first-layer
   filters) and 128 random 143-column PPMs (like near-flat deeper-layer filters kept whole)
   against a database (default: JASPAR 2016 CORE vertebrates, 519 motifs, from pyjaspar);
3. the agreement table with the MEME Tomtom 4.12.0 tables in ``tests/data/tomtom_reference``
   (docs/TOMTOM.md, "Agreement with MEME Tomtom").

Each program is timed in a fresh interpreter: ``import`` (the package), ``read db``, the ``1st
call`` (what a user waits for), ``import+1st`` (the fresh-process figure, database reading
excluded), ``cold`` (the whole process up to the first result, interpreter start-up
included) and ``warm`` (best of ``--repeats`` further calls, width 19 only).

``--baseline FILE`` times another implementation in the same run, e.g. the code before a
change::

    git show <rev>:src/motiflens/interpret/tomtom.py > /tmp/tomtom_before.py
    .venv/bin/python benchmarks/tomtom_speed.py --baseline /tmp/tomtom_before.py

(any module file with ``run_tomtom`` and ``TomtomConfig`` works). memelite, if installed (the
``bench`` extra), is timed on the width-19 set too.

Usage::

    .venv/bin/python benchmarks/tomtom_speed.py [--filters 128] [--width 19] [--wide 143]
        [--database JASPAR2016|FILE] [--repeats 3] [--jobs N] [--baseline FILE]
        [--no-memelite] [--no-wide] [--no-compare]
    .venv/bin/python benchmarks/tomtom_speed.py --compare   # only the agreement table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from motiflens._machine import describe_machine

# Code run in a fresh interpreter; prints one JSON line of timings.
_CHILD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    program, db_spec, baseline = sys.argv[1], sys.argv[2], sys.argv[8]
    n, width, seed, repeats, jobs = map(int, sys.argv[3:8])
    import numpy as np
    from motiflens.motifs import Motif
    if program == "memelite":
        from memelite import tomtom as memelite_tomtom
    elif program == "baseline":
        import importlib.util
        spec = importlib.util.spec_from_file_location("tomtom_baseline", baseline)
        tt = importlib.util.module_from_spec(spec)
        sys.modules["tomtom_baseline"] = tt
        spec.loader.exec_module(tt)
    else:
        from motiflens.interpret import tomtom as tt
    t_import = time.perf_counter()
    from motiflens.jaspar import load_motif_source
    targets = load_motif_source(db_spec)
    rng = np.random.default_rng(seed)
    queries = [Motif(f"filter_{i}", rng.dirichlet(np.full(4, 0.5), size=width).T)
               for i in range(n)]
    t_read = time.perf_counter()

    def once():
        if program == "memelite":
            p = memelite_tomtom([q.ppm for q in queries], [t.ppm for t in targets],
                                n_jobs=jobs or -1)[0]
            return np.asarray(p)
        kwargs = {"n_jobs": jobs} if jobs else {}
        return tt.run_tomtom(queries, targets, tt.TomtomConfig(), **kwargs).pvalues

    s = time.perf_counter(); pv = once(); first = time.perf_counter() - s
    warm = []
    for _ in range(repeats):
        s = time.perf_counter(); once(); warm.append(time.perf_counter() - s)
    print(json.dumps({"import": t_import - t0, "read": t_read - t_import, "first": first,
                      "warm": min(warm) if warm else None, "shape": list(pv.shape),
                      "min_p": float(np.min(pv))}))
    """
)


def run_child(program: str, width: int, repeats: int, args: argparse.Namespace) -> dict:
    """Run one fresh interpreter; return its timings plus the whole-process wall time."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, program, str(args.database), str(args.filters),
         str(width), str(args.seed), str(repeats), str(args.jobs or 0), str(args.baseline)],
        capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{program} (width {width}) failed:\n{out.stderr[-2000:]}")
    record = json.loads(out.stdout.strip().splitlines()[-1])
    # cold = whole process up to the end of the first call (the warm repeats excluded)
    record["cold"] = wall - (record["warm"] or 0.0) * repeats
    return record


def _table(title: str, rows: dict[str, dict]) -> None:
    print(title)
    print(f"  {'program':<22} {'import':>7} {'read db':>8} {'1st call':>9} {'import+1st':>11} "
          f"{'cold':>7} {'warm':>7}   (seconds)")
    for program, r in rows.items():
        warm = f"{r['warm']:7.3f}" if r["warm"] is not None else f"{'-':>7}"
        print(f"  {program:<22} {r['import']:7.3f} {r['read']:8.3f} {r['first']:9.3f} "
              f"{r['import'] + r['first']:11.3f} {r['cold']:7.3f} {warm}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filters", type=int, default=128)
    parser.add_argument("--width", type=int, default=19)
    parser.add_argument("--wide", type=int, default=143, help="width of the wide query set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="JASPAR2016",
                        help="JASPAR release name or motif file (default JASPAR2016: 519 motifs)")
    parser.add_argument("--repeats", type=int, default=3, help="warm calls (width-19 set)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="threads (default: each program's own default)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another tomtom module file to time in the same run")
    parser.add_argument("--no-memelite", action="store_true")
    parser.add_argument("--no-wide", action="store_true")
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--compare", action="store_true",
                        help="print only the agreement table with MEME Tomtom")
    args = parser.parse_args(argv)
    if args.baseline is not None and not args.baseline.is_file():
        raise SystemExit(f"--baseline: no such file: {args.baseline}")
    print(describe_machine(), flush=True)

    if not args.compare:
        load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
        print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f}; database {args.database}; "
              f"threads: {args.jobs or 'default'}", flush=True)
        sets = [(args.width, args.repeats)] + ([] if args.no_wide else [(args.wide, 0)])
        for width, repeats in sets:
            programs = ["motiflens"] + (["baseline"] if args.baseline else [])
            if width == args.width and not args.no_memelite:
                programs.append("memelite")
            rows = {}
            for program in programs:
                label = {"baseline": f"before ({args.baseline.name})" if args.baseline else "",
                         "motiflens": "motiflens"}.get(program, program)
                try:
                    rows[label] = run_child(program, width, repeats, args)
                except RuntimeError as exc:
                    if program == "memelite" and "No module named 'memelite'" in str(exc):
                        continue
                    print(exc, file=sys.stderr)
            _table(f"\n{args.filters} random width-{width} queries vs {args.database}:", rows)
            sys.stdout.flush()

    if args.compare or not args.no_compare:
        from motiflens.interpret.tomtom_reference import REFERENCE_DIR, agreement_table

        start = time.perf_counter()
        table = agreement_table()
        print(f"\nAgreement with MEME Tomtom 4.12.0 ({REFERENCE_DIR}; % of reference rows; "
              f"{time.perf_counter() - start:.1f} s):")
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
