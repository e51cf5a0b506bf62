"""``motiflens reproduce``, ``reinterpret``, ``analyze``, ``compare``, ``records`` and
``report``: paper experiments as multi-trial sweeps, and what is done with their results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from motiflens.errors import ConfigError


def _reproduce_train_overrides(args: argparse.Namespace) -> dict[str, str]:
    """TrainConfig overrides given on the ``reproduce`` command line."""
    overrides = {}
    if args.precision:
        overrides["precision"] = args.precision
    if args.fast_dropout:
        overrides["dropout_masks"] = "fast"
    return overrides


def cmd_reproduce(args: argparse.Namespace, on_start: Callable[[], None] | None = None) -> None:
    """Run the sweep; ``on_start`` is called once it is validated, before the first trial
    (:mod:`motiflens.cli` passes its ``--workers`` hint)."""
    from motiflens.experiments.sweep import run_experiment

    if not args.ray and (args.cpus_per_trial is not None or args.gpus_per_trial is not None):
        raise ConfigError("--cpus-per-trial/--gpus-per-trial: Ray resources; they need --ray "
                          "(local sweeps place trials with --workers)")
    resources = {k: v for k, v in dict(cpus_per_trial=args.cpus_per_trial,
                                       gpus_per_trial=args.gpus_per_trial).items()
                 if v is not None}
    out = run_experiment(
        args.experiment, args.out, trials=args.trials, workers=args.workers, ray=args.ray,
        epochs=args.epochs, sweep_seed=args.seed, data=args.data,
        vectorize=args.vectorize, train=_reproduce_train_overrides(args),
        models=args.models, n_sequences=args.n_sequences, on_start=on_start, **resources,
    )
    print(f"results in {out}")
    if not args.no_report:
        from motiflens.report.html import write_report

        print(f"report: {write_report(out)}")


def cmd_reinterpret(args: argparse.Namespace) -> None:
    from motiflens.experiments.reinterpret import reinterpret_sweep

    trim = None if args.trim is None else args.trim == "yes"
    path = reinterpret_sweep(args.results_dir, args.name, data=args.data, mode=args.mode,
                             threshold=args.threshold, trim=trim, db=args.db,
                             gt_list=args.gt_list, progress=print)
    print(f"re-interpreted as {args.name!r}: {path} (side by side: {path / 'compare.md'})")


def cmd_analyze(args: argparse.Namespace) -> None:
    from motiflens.experiments.analyses import analyze_sweep, analyze_trial

    target = Path(args.path)
    analyses = tuple(args.analyses)
    if (target / "sweep.json").is_file():
        table = analyze_sweep(target, models=args.models, analyses=analyses, variant=args.variant,
                              n_sequences=args.n_sequences, progress=print)
        print(f"analyses: {table}")
        return
    if not (target / "config.json").is_file():
        raise ConfigError(f"{target}: neither a sweep (sweep.json) nor a run directory "
                          "(config.json)")
    from motiflens.train import run_dataset

    data = run_dataset(target, args.data)
    for layer in args.layer:
        summary = analyze_trial(target, layer, data, analyses, args.variant, args.n_sequences)
        print("\n".join(analysis_lines(summary, target / "analysis" / summary["interpretation"]
                                       / f"layer{layer}")))


def analysis_lines(summary: dict, out: Path) -> list[str]:
    """What ``analyze`` found for one run's layer, as a person reads it (numbers in
    ``out/summary.json``; ``–`` where there is nothing to average, e.g. no matched filter)."""
    def num(key: str) -> str:
        value = summary.get(key)
        return "–" if value is None else f"{value:.3f}"

    lines = [f"layer {summary['layer']} ({summary['n_sequences']} test sequences) -> {out}"]
    if "importance_delta_loss_unmatched" in summary:
        lines.append(
            "  importance, mean rise in test loss when a filter is silenced: ground-truth "
            f"matches {num('importance_delta_loss_gt')} ({summary['importance_gt_filters']} "
            f"filters), JASPAR-only {num('importance_delta_loss_db_only')} "
            f"({summary['importance_db_only_filters']}), unmatched "
            f"{num('importance_delta_loss_unmatched')}")
    if "completeness_n" in summary:
        lines.append(f"  completeness of {summary['completeness_n']} matched filter(s): mean "
                     f"{num('completeness_mean')}, whole motifs "
                     f"{num('completeness_whole_fraction')}")
    nulls = sorted({k.rsplit("_", 1)[0] for k in summary if k.startswith("null_")})
    if nulls:
        lines.append("  match rates under the nulls, JASPAR / ground truth: " + "; ".join(
            "{} ({} alignment) {} / {}".format(*key.split("_")[1:3], num(key + "_db"),
                                              num(key + "_gt")) for key in nulls))
    methods = sorted({k[len("attr_"):].rsplit("_", 2)[0] for k in summary if k.startswith("attr_")})
    if methods:
        lines.append("  attribution AU-ROC vs ground truth (IC 0.1): " + ", ".join(
            f"{m} {num(f'attr_{m}_auroc_ic0.1')}" for m in methods))
    return lines


def cmd_compare(args: argparse.Namespace) -> None:
    from motiflens.experiments.reinterpret import compare_sweeps, write_comparison_table

    rows = compare_sweeps(args.left, args.right, args.left_variant, args.right_variant)
    if not rows:
        raise ConfigError(f"{args.left} and {args.right}: no row and trial with the same seed in "
                          "both (same model ids and sweep seed are needed to pair trials)")
    names = [f"{Path(d).name}{'/' + v if v else ''}" for d, v in
             ((args.left, args.left_variant), (args.right, args.right_variant))]
    sources = {name: str(Path(d).expanduser().resolve()) + (f" (re-interpretation {v})" if v
                                                             else "")
               for name, (d, v) in zip(names, ((args.left, args.left_variant),
                                               (args.right, args.right_variant)))}
    path = write_comparison_table(rows, Path(args.out), names[0], names[1], sources=sources)
    print(Path(path).read_text())


def cmd_records(args: argparse.Namespace) -> None:
    from motiflens.experiments.records import export_records

    written = export_records(args.results_dir, args.to)
    size = sum(p.stat().st_size for p in written) / 1e6
    print(f"records: {len(written)} files, {size:.1f} MB in {args.to}")
    stale = _newer_than_report(Path(args.results_dir))
    if stale:
        print(f"warning: {Path(args.results_dir) / 'report.html'} predates {stale} (a later "
              f"reinterpret or analyze): rebuild it with `motiflens report {args.to}`",
              file=sys.stderr)


def _newer_than_report(root: Path) -> str | None:
    """A summary file written after the sweep's report.html (which then misses it), or None."""
    report = root / "report.html"
    if not report.is_file():
        return None
    built = report.stat().st_mtime
    newer = [p for p in (root / "summary").rglob("*") if p.is_file() and p.stat().st_mtime > built]
    return str(max(newer, key=lambda p: p.stat().st_mtime).relative_to(root)) if newer else None


def cmd_report(args: argparse.Namespace) -> None:
    from motiflens.report.html import write_report

    print(f"report: {write_report(args.results_dir)}")
