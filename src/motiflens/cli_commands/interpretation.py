"""``motiflens interpret`` and ``tomtom``: filters -> motifs, and motif comparison with Tomtom."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_interpret(args: argparse.Namespace) -> None:
    from motiflens.errors import ConfigError
    from motiflens.interpret.pipeline import interpret_run
    from motiflens.train import unfinished_reason

    run = Path(args.run_dir)
    if args.out is None and (run / "trial.json").is_file() and (run / "interpret").is_dir():
        raise ConfigError(f"{run}: a trial of a sweep, whose interpret/ folder is part of the "
                          "sweep's records; write this interpretation elsewhere with --out DIR, "
                          "or read every trial again with `motiflens reinterpret SWEEP --name "
                          "NAME`")
    reason = unfinished_reason(run)
    if reason is not None:
        print(f"warning: {run}: {reason}", file=sys.stderr)

    summaries = interpret_run(
        run, layers=tuple(args.layer), mode=args.mode, db=args.db,
        gt_list=args.gt_list, data=args.data, threshold=args.threshold,
        trim=not args.no_trim, n_sequences=args.n_sequences, out_dir=args.out, progress=True,
    )
    for layer, summary in summaries.items():
        truth = ("no ground truth for this dataset's labels" if summary["frac_match_gt"] is None
                 else f"match ground truth: {summary['frac_match_gt']:.3f}; "
                      f"TFs found: {summary['n_tfs_found']}/{summary['n_tfs']}")
        print(
            f"layer {layer}: {summary['n_filters']} filters, {summary['n_dead']} dead; "
            f"match {args.db}: {summary['frac_match_db']:.3f}; {truth}  -> {summary['out_dir']}"
        )


def cmd_tomtom(args: argparse.Namespace) -> None:
    from motiflens.interpret.tomtom import (
        TomtomConfig,
        format_tomtom_tsv,
        tomtom,
        write_tomtom_tsv,
    )
    from motiflens.jaspar import load_motif_source

    # Query and target accept the same sources: MEME or JASPAR files, JASPAR release names.
    queries = load_motif_source(args.query)
    targets = load_motif_source(args.target)
    config = TomtomConfig(
        distance=args.dist, min_overlap=args.min_overlap, thresh=args.thresh,
        evalue=not args.qvalue, pseudocount=args.pseudocount,
    )
    hits = tomtom(queries, targets, config)
    summary = f"{len(hits)} matches of {len(queries)} queries against {len(targets)} targets"
    if args.out is None:  # like MEME's `tomtom -text`: the table on stdout, the summary on stderr
        sys.stdout.write(format_tomtom_tsv(hits))
        print(summary, file=sys.stderr)
        return
    out = Path(args.out)
    write_tomtom_tsv(hits, out)
    print(f"{summary} -> {out}")


def cmd_jaspar_snapshot(args: argparse.Namespace) -> None:
    """``jaspar-snapshot``: one JASPAR release from pyjaspar into a folder, for machines
    without pyjaspar (:mod:`motiflens.jaspar_snapshot`)."""
    from motiflens.errors import ConfigError
    from motiflens.jaspar import export_snapshot
    from motiflens.jaspar_snapshot import SNAPSHOT_ENV

    try:
        manifest = export_snapshot(args.release, args.out)
    except ConfigError as exc:
        raise ConfigError(f"--release: {exc}") from None
    folder = Path(args.out).resolve()
    print(f"{args.release} -> {manifest}; on a machine without pyjaspar: "
          f"export {SNAPSHOT_ENV}={folder}")
