"""Command-line interface: ``motiflens simulate | models | train | evaluate | interpret | tomtom |
data | reproduce | reinterpret | records | report``.

Each subcommand is a thin layer over a library function; every result directory receives the
full configuration and provenance of what produced it. User errors (``MotiflensError``) are
printed as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from motiflens.errors import ConfigError, MotiflensError

# ----------------------------------------------------------------------------- subcommands


def cmd_simulate(args: argparse.Namespace) -> None:
    from motiflens.simulate import SimulationConfig, simulate_to_hdf5

    kwargs = dict(n_sequences=args.n, length=args.length, spacing=args.spacing, seed=args.seed)
    if args.motifs:  # one file / release name, or JASPAR IDs split by commas and/or spaces
        kwargs["motifs"] = args.motifs[0] if len(args.motifs) == 1 else ",".join(args.motifs)
    if args.split:
        kwargs["split"] = tuple(args.split)
    config = SimulationConfig(**kwargs)
    path = simulate_to_hdf5(config, args.out)
    print(f"wrote {path}")


def cmd_models(args: argparse.Namespace) -> None:
    from motiflens.models import MODEL_NAMES, build_model, count_parameters, model_spec

    print(f"{'name':<14} {'conv layers (filters x width / pool, stride)':<52} "
          f"{'params @200':>12} {'params @1000':>13}")
    for name in MODEL_NAMES:
        spec = model_spec(name, input_length=200)
        layers = "; ".join(
            f"{b.filters}x{b.width}/{b.pool_size},{b.pool_stride or b.pool_size}" for b in spec.conv
        )
        n200 = count_parameters(build_model(spec))
        n1000 = count_parameters(build_model(model_spec(name, input_length=1000)))
        print(f"{name:<14} {layers:<52} {n200:>12,} {n1000:>13,}")


def cmd_train(args: argparse.Namespace) -> None:
    from motiflens.data.dataset import load_dataset
    from motiflens.models import model_spec
    from motiflens.train import TrainConfig, train

    dataset = load_dataset(args.data, in_memory=False)
    size_gb = dataset_size_gb(dataset)
    if args.stream or size_gb > args.memory_budget:
        print(f"streaming batches from {args.data} ({size_gb:.1f} GB as float32; "
              f"memory budget {args.memory_budget:g} GB)", file=sys.stderr)
    else:
        dataset.close()
        dataset = load_dataset(args.data, in_memory=True)
    n_outputs = dataset.train.Y.shape[1]
    length = dataset.train.X.shape[2]
    spec = model_spec(args.model, input_length=length, n_outputs=n_outputs)
    if args.activation:
        from motiflens.models import parse_activations, with_activations

        spec = with_activations(spec, parse_activations(args.activation))
    overrides = {k: v for k, v in dict(
        seed=args.seed, max_epochs=args.epochs, patience=args.patience,
        batch_size=args.batch_size, device=args.device, lr=args.lr,
        precision=args.precision, compile=args.compile or None,
        dropout_masks="fast" if args.fast_dropout else None, num_threads=args.threads,
    ).items() if v is not None}
    config = TrainConfig.for_protocol(args.protocol, **overrides)
    result = train(spec, dataset, config, args.out, resume=not args.no_resume)
    _print_metrics(args.model, result)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from motiflens._io import read_json

    from motiflens.train import unfinished_reason

    for run_dir in args.run_dirs:
        reason = unfinished_reason(run_dir)
        if reason is not None:
            print(f"warning: {run_dir}: {reason}", file=sys.stderr)
        metrics_path = Path(run_dir) / "metrics.json"
        if args.recompute or not metrics_path.exists():
            from motiflens.data.dataset import load_dataset
            from motiflens.train import evaluate, load_run

            model, spec, config = load_run(run_dir)
            data_path = args.data or read_json(Path(run_dir) / "config.json").get("dataset", {}).get("path")
            if not data_path:
                raise ConfigError(f"{run_dir}: no dataset path recorded; pass --data")
            metrics = evaluate(model, load_dataset(data_path).test, device=args.device or "cpu")
        else:
            metrics = read_json(metrics_path)
        _print_metrics(str(run_dir), metrics)


def cmd_interpret(args: argparse.Namespace) -> None:
    from motiflens.interpret.pipeline import interpret_run
    from motiflens.train import unfinished_reason

    reason = unfinished_reason(args.run_dir)
    if reason is not None:
        print(f"warning: {args.run_dir}: {reason}", file=sys.stderr)

    summaries = interpret_run(
        args.run_dir, layers=tuple(args.layer), mode=args.mode, db=args.db,
        gt_list=args.gt_list, data=args.data, threshold=args.threshold,
        trim=not args.no_trim, n_sequences=args.n_sequences, progress=True,
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


def cmd_data(args: argparse.Namespace) -> None:
    if args.source == "deepsea":
        from motiflens.data.deepsea import build_deepsea

        path = build_deepsea(args.bundle, args.out, strands=args.strands)
    elif args.source == "peaks":
        from motiflens.data.peaks import build_peaks

        path = build_peaks(
            args.genome, _named_files(args.peaks, "--peaks"), args.out, length=args.length,
            test_chroms=tuple(args.test_chroms), valid_chroms=tuple(args.valid_chroms),
            reverse_complement=args.reverse_complement, seed=args.seed,
            negatives="shuffle" if args.shuffled_negatives else None,
        )
    elif args.source == "fasta":
        from motiflens.data.fasta import build_fasta

        if bool(args.classes) == bool(args.labelled):
            raise ConfigError("data fasta: give either --classes NAME=FILE ... or --labelled FILE")
        path = build_fasta(
            args.out, classes=_named_files(args.classes, "--classes") if args.classes else None,
            labelled=args.labelled or None, length=args.length,
            negatives="shuffle" if args.shuffled_negatives else None,
            reverse_complement=args.reverse_complement, seed=args.seed,
        )
    elif args.source == "example":
        from motiflens.data.example import build_example

        path = build_example(
            args.out, cache=args.cache, wheel=args.wheel, design=args.design, seed=args.seed,
            test_chroms=tuple(args.test_chroms), valid_chroms=tuple(args.valid_chroms),
            progress=print,
        ).path
    else:
        from motiflens.data.fasta import build_bed

        path = build_bed(
            args.genome, _named_files(args.bed, "--bed"), args.out, length=args.length,
            test_chroms=tuple(args.test_chroms), valid_chroms=tuple(args.valid_chroms),
            negatives="shuffle" if args.shuffled_negatives else None,
            reverse_complement=args.reverse_complement, seed=args.seed,
        )
    print(f"wrote {path}")


def _reproduce_train_overrides(args: argparse.Namespace) -> dict[str, str]:
    """TrainConfig overrides given on the ``reproduce`` command line."""
    overrides = {}
    if args.precision:
        overrides["precision"] = args.precision
    if args.fast_dropout:
        overrides["dropout_masks"] = "fast"
    return overrides


def cmd_reproduce(args: argparse.Namespace) -> None:
    from motiflens.experiments.sweep import run_experiment

    if not args.ray and (args.cpus_per_trial is not None or args.gpus_per_trial is not None):
        raise ConfigError("--cpus-per-trial/--gpus-per-trial: Ray resources; they need --ray "
                          "(local sweeps place trials with --workers)")
    resources = {k: v for k, v in dict(cpus_per_trial=args.cpus_per_trial,
                                       gpus_per_trial=args.gpus_per_trial).items()
                 if v is not None}
    cores = os.cpu_count() or 1

    def hint() -> None:
        if args.workers == 1 and not args.ray and cores > 1 and not _cuda_available():
            print(f"hint: --workers {cores} trains {cores} trials side by side, one core each "
                  f"(faster on a CPU than one trial on {cores} threads)", file=sys.stderr)

    out = run_experiment(
        args.experiment, args.out, trials=args.trials, workers=args.workers, ray=args.ray,
        epochs=args.epochs, sweep_seed=args.seed, data=args.data,
        vectorize=args.vectorize, train=_reproduce_train_overrides(args),
        models=args.models, n_sequences=args.n_sequences, on_start=hint, **resources,
    )
    print(f"results in {out}")
    if not args.no_report:
        from motiflens.report.html import write_report

        print(f"report: {write_report(out)}")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


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
    from motiflens._io import read_json

    data = args.data or read_json(target / "config.json").get("dataset", {}).get("path")
    if not data:
        raise ConfigError(f"{target}: no dataset path recorded; pass --data")
    for layer in args.layer:
        summary = analyze_trial(target, layer, data, analyses, args.variant, args.n_sequences)
        shown = {k: v for k, v in summary.items() if k != "completeness_values"}
        print(f"layer {layer}: " + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()))


def cmd_compare(args: argparse.Namespace) -> None:
    from motiflens.experiments.reinterpret import compare_sweeps, write_comparison_table

    rows = compare_sweeps(args.left, args.right, args.left_variant, args.right_variant)
    if not rows:
        raise ConfigError(f"{args.left} and {args.right}: no row and trial with the same seed in "
                          "both (same model ids and sweep seed are needed to pair trials)")
    names = [f"{Path(d).name}{'/' + v if v else ''}" for d, v in
             ((args.left, args.left_variant), (args.right, args.right_variant))]
    path = write_comparison_table(rows, Path(args.out), names[0], names[1])
    print(Path(path).read_text())


def cmd_records(args: argparse.Namespace) -> None:
    from motiflens.experiments.records import export_records

    written = export_records(args.results_dir, args.to)
    size = sum(p.stat().st_size for p in written) / 1e6
    print(f"records: {len(written)} files, {size:.1f} MB in {args.to}")


def cmd_report(args: argparse.Namespace) -> None:
    from motiflens.report.html import write_report

    print(f"report: {write_report(args.results_dir)}")


# ----------------------------------------------------------------------------- helpers


def dataset_size_gb(dataset) -> float:
    """Size of all splits' sequences as float32 in GB: ``sum(N) * 4 * L * 4`` bytes."""
    rows = sum(len(dataset.split(name)) for name in ("train", "valid", "test"))
    return rows * 4 * dataset.length * 4 / 1e9


def _named_files(items: Sequence[str], option: str) -> dict[str, str]:
    """Parse ``NAME=FILE`` items into an ordered dict (label order = command-line order)."""
    named: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"{option} {item!r}: expected NAME=FILE (e.g. CTCF=ctcf.narrowPeak)")
        if name in named:
            raise ConfigError(f"{option}: label {name!r} given twice")
        named[name] = path
    return named


def _print_metrics(title: str, metrics: dict) -> None:
    """One line of test means; classes whose labels are constant (no defined AU-ROC/AU-PR,
    NaN in memory, null in metrics.json) are left out of the means and named with the reason."""
    test = metrics if "mean_auroc" in metrics else (metrics.get("test") or {})

    def value(key: str) -> str:
        v = test.get(key)
        return "undefined" if v is None or v != v else f"{v:.4f}"

    per_class = test.get("auroc") or {}
    undefined = list(test.get("undefined_classes")
                     or [k for k, v in per_class.items() if v is None or v != v])
    note = ""
    if undefined:
        reasons = dict(test.get("undefined_reasons") or {})
        positives, n = test.get("positives") or {}, test.get("n")
        for name in undefined:  # metrics.json written before undefined_reasons existed
            if name not in reasons and name in positives and n is not None:
                reasons[name] = "all positive" if positives[name] == n else "all negative"
        total = len(per_class) or len(undefined) + int(test.get("n_defined") or 0)
        names = ", ".join(f"{u} ({reasons[u]})" if u in reasons else str(u) for u in undefined)
        note = f" ({total - len(undefined)} of {total} classes; undefined for: {names})"
    print(f"{title}: test AU-ROC {value('mean_auroc')}{note}  AU-PR {value('mean_aupr')}")


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output place that cannot be written before any work starts."""
    from motiflens._io import check_writable

    if getattr(args, "out", None):
        check_writable(args.out, "--out")
    if getattr(args, "to", None):
        check_writable(args.to, "--to")
    if args.command in ("interpret", "reinterpret"):
        target = args.run_dir if args.command == "interpret" else args.results_dir
        check_writable(Path(target) / "interpret", "RUN_DIR (copy the run to a folder you can "
                       "write to)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motiflens", description="Which sequence motifs has my CNN learned?"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="make the paper's synthetic benchmark (HDF5)")
    p.add_argument("--out", required=True, help="output HDF5 file (required)")
    p.add_argument("--n", type=int, default=25000,
                   help="number of sequences (default: %(default)s)")
    p.add_argument("--length", type=int, default=200,
                   help="sequence length (default: %(default)s)")
    p.add_argument("--motifs", nargs="+", default=None, metavar="ID|FILE",
                   help="JASPAR matrix IDs (comma and/or space separated, e.g. "
                        "MA0151.1,MA0466.2), a MEME/JASPAR file or a JASPAR release name (its "
                        "12 paper motifs); one class per motif (default: the paper's 12 "
                        "JASPAR2016 motifs)")
    p.add_argument("--spacing", choices=["code", "buffer"], default="buffer",
                   help="gap rule between motifs: buffer (the paper's text) or code (the "
                        "authors' code) (default: %(default)s)")
    p.add_argument("--split", type=float, nargs=3, metavar=("TRAIN", "VALID", "TEST"),
                   help="split fractions, summing to 1 (default: 0.7 0.1 0.2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("models", help="list the paper's architectures with parameter counts")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a named architecture on an HDF5 dataset")
    p.add_argument("--model", required=True, help="architecture name (see `motiflens models`)")
    p.add_argument("--data", required=True, help="HDF5 dataset")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--activation", nargs="+", metavar="[LAYER=]NAME",
                   help="activation of a conv layer instead of the architecture's: "
                        "'exponential' (layer 1) or '2=relu'; names: relu, exponential, sigmoid, "
                        "tanh, softplus, elu, linear, gelu")
    p.add_argument("--protocol", choices=["paper", "code"], default="paper")
    p.add_argument("--seed", type=int)
    p.add_argument("--epochs", type=int, help="maximum epochs")
    p.add_argument("--patience", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: auto)")
    p.add_argument("--threads", type=int,
                   help="torch CPU threads (default: torch's, one per core). When several "
                        "trainings share the CPU give each at most its share: oversubscribed "
                        "threads made two concurrent CNN-25 runs 6-25x slower per epoch")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16", "auto"],
                   help="training arithmetic (default fp32; auto: the fastest this hardware runs "
                        "natively, bf16 on GPUs and on CPUs with AVX512-BF16/AMX, else fp32; an "
                        "explicit bf16 is refused where the CPU would emulate it; fp16: CUDA)")
    p.add_argument("--compile", action="store_true",
                   help="train through torch.compile (pays off for long runs only)")
    p.add_argument("--fast-dropout", action="store_true",
                   help="CPU dropout masks from 16-bit random words (~4x cheaper than "
                        "bernoulli_; other masks, so other numbers than the default)")
    p.add_argument("--stream", action="store_true", help="always stream batches from disk")
    p.add_argument("--memory-budget", type=float, default=4.0, metavar="GB",
                   help="stream from disk when the sequences (float32) exceed this (default 4)")
    p.add_argument("--no-resume", action="store_true", help="start over even if last.pt exists")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print test metrics of run directories")
    p.add_argument("run_dirs", nargs="+", help="run directories (from `motiflens train`)")
    p.add_argument("--recompute", action="store_true", help="re-evaluate the checkpoint "
                   "(default: read metrics.json when the run has one)")
    p.add_argument("--data", help="dataset (default: the one recorded in the run)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … for --recompute (default: cpu)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("interpret", help="filters -> motifs -> Tomtom -> scores and logos")
    p.add_argument("run_dir", help="run directory (from `motiflens train`)")
    p.add_argument("--layer", type=int, nargs="+", default=[1],
                   help="conv layer(s), 1-based (default: %(default)s)")
    p.add_argument("--mode", choices=["paper", "code"], default="paper",
                   help="filter -> PPM alignment: the paper's text or the authors' code "
                        "(default: %(default)s)")
    p.add_argument("--db", default="JASPAR2016", help="motif database: a JASPAR release name, "
                   "'paper' or a MEME/JASPAR file (default: %(default)s)")
    p.add_argument("--gt-list", default="paper",
                   help="ground-truth ID list, paper or code (default: %(default)s)")
    p.add_argument("--data", help="dataset whose test set is scanned (default: the run's)")
    p.add_argument("--threshold", type=float, help="activation threshold as a fraction "
                   "(default: the mode's, 0.7 paper / 0.5 code)")
    p.add_argument("--n-sequences", type=int, help="scan only the first N test sequences "
                   "(default: all)")
    p.add_argument("--no-trim", action="store_true", help="compare untrimmed filter PPMs "
                   "(default: trim to IC > 0.5 bits +- 3 columns)")
    p.set_defaults(func=cmd_interpret)

    p = sub.add_parser("tomtom", help="compare query motifs with a database (in-process Tomtom)")
    p.add_argument("query", help="query motifs: a MEME or JASPAR (.jaspar/.pfm) file, or a "
                   "JASPAR release name")
    p.add_argument("target", help="target motifs: a MEME or JASPAR file, a JASPAR release name "
                   "(JASPAR2016[:COLLECTION[:TAX_GROUP]]) or 'paper'")
    p.add_argument("--out", default=None, help="write the TSV table to this file (default: "
                   "print it on stdout)")
    p.add_argument("--dist", choices=["ed", "pearson"], default="ed",
                   help="column distance: ed (Euclidean) or pearson (default: %(default)s)")
    p.add_argument("--min-overlap", type=int, default=1,
                   help="minimum overlap of query and target in columns (default: %(default)s)")
    p.add_argument("--thresh", type=float, default=0.1,
                   help="report matches with E-value (q-value with --qvalue) <= this "
                        "(default: %(default)s)")
    p.add_argument("--qvalue", action="store_true",
                   help="threshold on q-value, not E-value (default: E-value)")
    p.add_argument("--pseudocount", type=float, default=0.1,
                   help="motif pseudocount (Tomtom -motif-pseudo), weighted by nsites "
                        "(default: %(default)s)")
    p.set_defaults(func=cmd_tomtom)

    p = sub.add_parser("data", help="build an HDF5 dataset from real data")
    dsub = p.add_subparsers(dest="source", required=True, metavar="SOURCE")
    d = dsub.add_parser("deepsea", help="the paper's DeepSEA subset (12 K562 labels)")
    d.add_argument("--bundle", required=True, help="deepsea_train/ directory (required)")
    d.add_argument("--out", required=True, help="output HDF5 file (required)")
    d.add_argument("--strands", choices=["both", "forward"], default="both",
                   help="keep both strands or forward strands only (default: %(default)s)")
    for name, text in (("peaks", "genome FASTA + peak files: 1000-nt windows (--length) "
                        "centred on 200-nt bins more than half covered by a peak"),
                       ("fasta", "labelled FASTA: one file per class or labels in headers"),
                       ("bed", "BED intervals per class + genome FASTA")):
        d = dsub.add_parser(name, help=text)
        d.add_argument("--out", required=True, help="output HDF5 file (required)")
        d.add_argument("--length", type=int, default=None if name == "fasta" else 1000,
                       help={"fasta": "sequence length: centre-crop / N-pad every record to "
                                      "this (default: keep lengths, which must then be equal)",
                             "peaks": "window length, centred on each 200-nt bin "
                                      "(default: %(default)s)",
                             "bed": "window length, centred on each interval's midpoint "
                                    "(default: %(default)s)"}[name])
        d.add_argument("--reverse-complement", action="store_true",
                       help="add reverse strands (default: forward only)")
        d.add_argument("--seed", type=int, default=0,
                       help="seed of splits and shuffles (default: %(default)s)")
        if name in ("peaks", "bed"):
            d.add_argument("--genome", required=True,
                           help="FASTA (indexed with pyfaidx) (required)")
            d.add_argument("--test-chroms", nargs="+", default=["chr8", "chr9"],
                           help="test-set chromosomes (default: %(default)s)")
            d.add_argument("--valid-chroms", nargs="+", default=["chr7"],
                           help="validation-set chromosomes (default: %(default)s)")
        if name == "peaks":
            d.add_argument("--peaks", nargs="+", required=True, metavar="NAME=FILE",
                           help="one BED/narrowPeak file per label, in label order (required; "
                                "a single one needs --shuffled-negatives)")
        if name == "fasta":
            d.add_argument("--classes", nargs="+", default=[], metavar="NAME=FILE",
                           help="one FASTA per class (default: none; or --labelled)")
            d.add_argument("--labelled", nargs="+", default=[], metavar="FILE",
                           help="FASTA with labels in headers (>id label=A,B) (default: none; "
                                "or --classes)")
        if name == "bed":
            d.add_argument("--bed", nargs="+", required=True, metavar="NAME=FILE",
                           help="one BED file per class, in label order (required; a single "
                                "one needs --shuffled-negatives)")
        if name in ("fasta", "bed", "peaks"):
            d.add_argument("--shuffled-negatives", action="store_true",
                           help="add dinucleotide-shuffled negatives, labelled 0 (default: "
                                "none; required with a single class)")
    d = dsub.add_parser("example", help="MafK + Oct4 ChIP-seq peaks from the janggu 0.10.2 wheel "
                        "on PyPI (GPL-3.0; downloaded with pip only by this command, cached)")
    d.add_argument("--out", required=True, help="output HDF5 file (required)")
    d.add_argument("--design", choices=["shuffled", "tf-vs-tf"], default="shuffled",
                   help="shuffled: peaks vs their dinucleotide shuffles (default); tf-vs-tf: "
                        "MafK peaks vs Oct4 peaks")
    d.add_argument("--cache", help="download cache (default $MOTIFLENS_CACHE, else "
                                   "~/.cache/motiflens)")
    d.add_argument("--wheel", help="an already downloaded janggu-0.10.2-py2.py3-none-any.whl "
                                   "(nothing is downloaded; default: download it with pip "
                                   "into --cache)")
    d.add_argument("--seed", type=int, default=0,
                   help="seed of the shuffles (default: %(default)s)")
    d.add_argument("--test-chroms", nargs="+", default=["chr8", "chr9"],
                   help="test-set chromosomes (default: %(default)s)")
    d.add_argument("--valid-chroms", nargs="+", default=["chr7"],
                   help="validation-set chromosomes (default: %(default)s)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("reproduce", help="run a named paper experiment as a multi-trial sweep")
    p.add_argument("experiment", help="a built-in experiment (table1-authors-code, table1-paper-text, "
                   "table1-code-protocol, deeper-layers-authors-code, deeper-layers-paper-text, "
                   "table2) or a YAML file")
    p.add_argument("--out", required=True, help="sweep directory (an existing one is resumed; "
                   "committed records count as finished trials)")
    p.add_argument("--trials", type=int, default=5, help="trials per model (default: %(default)s)")
    p.add_argument("--models", nargs="+", metavar="ID",
                   help="run only these rows of the experiment (a small sweep; default: all)")
    p.add_argument("--n-sequences", type=int, metavar="N",
                   help="simulate N sequences instead of the experiment's (synthetic "
                        "experiments; default: the experiment's, 25,000 for the paper's)")
    p.add_argument("--workers", type=int, default=1,
                   help="local worker processes, each with cores / N torch threads (default 1). "
                        "On a CPU, N = cores is fastest: single-threaded workers side by side "
                        "do not slow each other down")
    p.add_argument("--ray", help="auto or a Ray cluster address")
    p.add_argument("--cpus-per-trial", type=float,
                   help="with --ray: CPUs Ray reserves per trial (default 1)")
    p.add_argument("--gpus-per-trial", type=float,
                   help="with --ray: GPUs per trial; a fraction (0.25) places several trials "
                        "per GPU (default: 1 if the cluster has GPUs, else 0)")
    p.add_argument("--epochs", type=int, help="override the maximum epochs (default: the "
                   "protocol's, 100)")
    p.add_argument("--seed", type=int, default=0, help="sweep seed; every trial seed derives "
                   "from it, the row id and the trial number (default: %(default)s)")
    p.add_argument("--data", help="dataset file (required for table2; default for synthetic "
                   "experiments: simulated into OUT/data)")
    p.add_argument("--vectorize", action="store_true",
                   help="train the trials of each model together as one vectorised model "
                        "(same trial directories; faster on a GPU, several trials per GPU)")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16", "auto"],
                   help="training precision of every trial (default: the experiment's, fp32; "
                        "auto: bf16 where native, else fp32, resolved per trial and recorded "
                        "in its result.json); part of the sweep settings")
    p.add_argument("--fast-dropout", action="store_true",
                   help="CPU dropout masks from 16-bit random words (cheaper; other masks than "
                        "the default, so other numbers); recorded in the sweep settings")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("reinterpret", help="re-interpret a finished sweep's checkpoints under other "
                       "settings, side by side with the original (no retraining)")
    p.add_argument("results_dir", help="sweep directory or its committed records")
    p.add_argument("--name", required=True, help="name of this variant (a folder name), e.g. "
                   "paper-alignment")
    p.add_argument("--mode", choices=["paper", "code"], help="filter -> PPM alignment "
                   "(default: the sweep's)")
    p.add_argument("--threshold", type=float, help="activation threshold as a fraction "
                   "(default: the mode's, 0.7 paper / 0.5 code)")
    p.add_argument("--trim", choices=["yes", "no"], help="trim PPMs to IC > 0.5 bits +- 3 "
                   "columns before Tomtom (default: the sweep's)")
    p.add_argument("--db", help="motif database: JASPAR2016 (519), paper (518) or a MEME/JASPAR "
                   "file (default: the sweep's)")
    p.add_argument("--gt-list", choices=["paper", "code"], help="ground-truth ID lists "
                   "(default: the sweep's)")
    p.add_argument("--data", help="the sweep's dataset (default: its own, simulated again if "
                   "absent and checked against the recorded digest)")
    p.set_defaults(func=cmd_reinterpret)

    p = sub.add_parser("analyze", help="filter importance, motif completeness and null match "
                       "rates of a run or of every trial of a sweep")
    p.add_argument("path", help="a run directory or a sweep directory (or its records)")
    p.add_argument("--analyses", nargs="+", default=["importance", "completeness", "nulls"],
                   choices=["importance", "completeness", "nulls", "attribution"],
                   help="which analyses (default: importance completeness nulls; attribution "
                        "scores saliency, corrected saliency, gradient x input, integrated "
                        "gradients, DeepSHAP and ISM against the planted motifs)")
    p.add_argument("--layer", type=int, nargs="+", default=[1],
                   help="conv layers of a run directory (a sweep uses its own; default: 1)")
    p.add_argument("--variant", help="analyse re-interpretation VARIANT instead of the original "
                   "interpretation")
    p.add_argument("--models", nargs="+", metavar="ID", help="sweep rows to analyse (default: all)")
    p.add_argument("--n-sequences", type=int, metavar="N",
                   help="use the first N test sequences (default: all)")
    p.add_argument("--data", help="dataset of a run directory (default: the recorded one)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("compare", help="two sweeps (or re-interpretations) side by side, paired "
                       "by row and trial seed, with paired t-tests")
    p.add_argument("left", help="sweep directory (or records)")
    p.add_argument("right", help="sweep directory (or records)")
    p.add_argument("--left-variant", help="a re-interpretation of LEFT instead of its original")
    p.add_argument("--right-variant", help="a re-interpretation of RIGHT instead of its original")
    p.add_argument("--out", required=True, help="Markdown table to write (a .tsv beside it)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("records", help="copy a sweep's committable records (checkpoints, "
                       "metrics, motifs, Tomtom hits; no last.pt, data or logos)")
    p.add_argument("results_dir", help="sweep directory")
    p.add_argument("--to", required=True, help="destination folder (e.g. docs/results/NAME)")
    p.set_defaults(func=cmd_records)

    p = sub.add_parser("report", help="write the HTML report of a sweep directory")
    p.add_argument("results_dir")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``motiflens`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], None] = args.func
    if args.command in ("train", "reproduce"):
        from motiflens._malloc import retain_freed_memory

        retain_freed_memory()  # training processes reuse freed memory (fewer page faults)
    try:
        _check_outputs(args)
        func(args)
    except MotiflensError as exc:
        print(f"motiflens {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `motiflens models | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file system refusal the checks above could not foresee
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"motiflens {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"motiflens {args.command}: interrupted (finished work is kept; rerun to resume)",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
