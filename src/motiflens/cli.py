"""Command-line interface: ``motiflens simulate | models | train | evaluate | interpret | tomtom |
data | reproduce | reinterpret | records | report``.

Each subcommand is a thin layer over a library function; every result directory receives the
full configuration and provenance of what produced it. User errors (``MotiflensError``) are
printed as one line on stderr with exit status 2, never as a traceback.

This module is the parser and the dispatch; the subcommands are in :mod:`motiflens.cli_commands`,
one module per area.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

from motiflens.cli_commands.data import cmd_data, cmd_simulate
from motiflens.cli_commands.experiments import (
    cmd_analyze,
    cmd_compare,
    cmd_records,
    cmd_reinterpret,
    cmd_report,
)
from motiflens.cli_commands.experiments import cmd_reproduce as _run_reproduce
from motiflens.cli_commands.interpretation import (
    cmd_interpret,
    cmd_jaspar_snapshot,
    cmd_tomtom,
)
# _print_metrics and dataset_size_gb are re-exported: this module was their home.
from motiflens.cli_commands.training import (  # noqa: F401
    _print_metrics,
    cmd_evaluate,
    cmd_models,
    cmd_train,
    dataset_size_gb,
)
from motiflens.errors import ConfigError
from motiflens.experiments.registry import list_experiments
from motiflens.errors import MotiflensError

# ----------------------------------------------------------------------------- reproduce's hint


def cmd_reproduce(args: argparse.Namespace) -> None:
    """``reproduce`` (:func:`motiflens.cli_commands.experiments.cmd_reproduce`), with a hint at
    ``--workers`` once the sweep is validated."""
    cores = os.cpu_count() or 1

    def hint() -> None:
        if args.workers == 1 and not args.ray and cores > 1 and not _cuda_available():
            print(f"hint: --workers {cores} trains {cores} trials side by side, one core each "
                  f"(faster on a CPU than one trial on {cores} threads, and one thread per "
                  "trial as the committed records: the thread count changes a trial's numbers)",
                  file=sys.stderr)

    _run_reproduce(args, on_start=hint)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# ----------------------------------------------------------------------------- parser, dispatch


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output place that cannot be written before any work starts."""
    from motiflens._io import check_writable

    if getattr(args, "out", None):
        _check_out_kind(args)
        check_writable(args.out, "--out")
    if getattr(args, "to", None):
        check_writable(args.to, "--to")
    if args.command in ("interpret", "reinterpret") and not getattr(args, "out", None):
        target = Path(args.run_dir if args.command == "interpret" else args.results_dir)
        if target.is_dir():  # else the command says what RUN_DIR is not
            check_writable(target / "interpret", "RUN_DIR (copy the run to a folder you can "
                           "write to)" + (" or --out DIR" if args.command == "interpret" else ""))


#: Commands whose ``--out`` is a folder; every other ``--out`` is a file.
_OUT_FOLDERS = ("train", "interpret", "reproduce", "jaspar-snapshot")


def _check_out_kind(args: argparse.Namespace) -> None:
    """Refuse a folder where ``--out`` names a file to write, and a file where it names a
    folder (before any work, in words rather than the file system's)."""
    out = Path(args.out)
    if args.command in _OUT_FOLDERS and out.is_file():
        raise ConfigError(f"{out}: a file; --out takes a folder (new, or one this command "
                          "wrote)")
    if args.command not in _OUT_FOLDERS and out.is_dir():
        raise ConfigError(f"{out}: a folder; --out takes the file to write")


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
    p.add_argument("--model", required=True, help="architecture name (see `motiflens models`) "
                   "or a spec string: filters x width p pool per conv layer, then d + dense "
                   "units, e.g. 30x19p25-128x5p4-d512")
    p.add_argument("--data", required=True, help="HDF5 dataset")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--activation", nargs="+", metavar="[LAYER=]NAME",
                   help="activation of a conv layer instead of the architecture's: "
                        "'exponential' (layer 1) or '2=relu'; names: relu, exponential, sigmoid, "
                        "tanh, softplus, elu, linear, gelu")
    p.add_argument("--protocol", choices=["paper", "code"], default="paper",
                   help="training defaults: paper (the text: Adam lr 3e-4, He init, "
                        "batch-norm eps 1e-3, momentum 0.1) or code (the authors' code: lr "
                        "1e-3, betas 0.95/0.999, Glorot init, batch-norm eps 1e-8, momentum "
                        "0.01) (default: %(default)s)")
    p.add_argument("--seed", type=int, help="seed of initialisation, batch order and dropout "
                   "(default: 0)")
    p.add_argument("--epochs", type=int, help="maximum epochs (default: 100)")
    p.add_argument("--patience", type=int, help="stop after this many epochs without a lower "
                   "validation loss (default: 20)")
    p.add_argument("--batch-size", type=int, help="mini-batch size (default: 100)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: the protocol's)")
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
    p.add_argument("--gt-list", choices=["paper", "code"], default="paper",
                   help="ground-truth ID list, paper or code (default: %(default)s)")
    p.add_argument("--data", help="dataset whose test set is scanned (default: the run's)")
    p.add_argument("--threshold", type=float, help="activation threshold as a fraction "
                   "(default: the mode's, 0.7 paper / 0.5 code)")
    p.add_argument("--n-sequences", type=int, help="scan only the first N test sequences "
                   "(default: all)")
    p.add_argument("--no-trim", action="store_true", help="compare untrimmed filter PPMs "
                   "(default: trim to IC > 0.5 bits +- 3 columns)")
    p.add_argument("--out", metavar="DIR", help="write the layer<N>/ folders here (default: "
                   "RUN_DIR/interpret; needed for a sweep's trial, whose interpret/ belongs to "
                   "the sweep's records)")
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

    p = sub.add_parser("jaspar-snapshot", help="copy a JASPAR release out of pyjaspar for "
                       "machines without it (read through MOTIFLENS_JASPAR_SNAPSHOT)")
    p.add_argument("--release", default="JASPAR2016", help="default: %(default)s")
    p.add_argument("--out", required=True, help="folder for the snapshot files")
    p.set_defaults(func=cmd_jaspar_snapshot)

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
                           help="test-set chromosomes (default: chr8 chr9)")
            d.add_argument("--valid-chroms", nargs="+", default=["chr7"],
                           help="validation-set chromosomes (default: chr7)")
        if name == "fasta":
            d.add_argument("--test-chroms", nargs="+", default=None,
                           help="split by chromosome, read from record names chrom:start-end: "
                                "these form the test set, e.g. chr8 chr9 (default: a random "
                                "80/10/10 split)")
            d.add_argument("--valid-chroms", nargs="+", default=[],
                           help="with --test-chroms: validation-set chromosomes, e.g. chr7 "
                                "(default: none)")
            d.add_argument("--valid-fraction", type=float, default=0.1,
                           help="without --test-chroms: fraction of records drawn at random "
                                "for validation (default: %(default)s)")
            d.add_argument("--test-fraction", type=float, default=0.1,
                           help="without --test-chroms: fraction of records drawn at random "
                                "for the test set (default: %(default)s)")
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
    p.add_argument("experiment", help="a built-in experiment (" + ", ".join(list_experiments())
                   + ") or a YAML file of your own")
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
    p.add_argument("results_dir", help="a sweep directory (from `motiflens reproduce`) or its "
                   "records (`motiflens records --to`)")
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
    plain = warnings.formatwarning
    warnings.formatwarning = _format_warning
    try:
        _check_outputs(args)
        func(args)
    except MotiflensError as exc:
        message = _name_the_flag(str(exc), _leaf_parser(parser, args))
        print(f"motiflens {args.command}: error: {message}", file=sys.stderr)
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
    finally:
        warnings.formatwarning = plain
    return 0


#: Settings whose command-line flag is not simply ``--`` + the key with ``-`` for ``_``.
_FLAG_OF_KEY = {"simulate": {"n_sequences": "--n"}, "train": {"max_epochs": "--epochs"},
                "reproduce": {"max_epochs": "--epochs"}, "interpret": {"layers": "--layer"}}


def _leaf_parser(parser: argparse.ArgumentParser, args: argparse.Namespace
                 ) -> argparse.ArgumentParser:
    """The (sub)parser that read ``args``: ``motiflens data fasta``'s, not ``motiflens``'s."""
    for dest in ("command", "source"):
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or getattr(args, dest, None) is None:
            break
        parser = subparsers[0].choices[getattr(args, dest)]
    return parser


def _name_the_flag(message: str, parser: argparse.ArgumentParser) -> str:
    """Append the flag that sets the setting an error begins with (``max_epochs: expected a
    positive integer, got 0`` -> ``... (--epochs)``), unless the message names one already."""
    found = re.match(r"(?:[\w .-]+ config: )?(?:key )?'?([a-z][a-z_]*)'?: ", message)
    if not found:
        return message
    key = found.group(1)
    command = parser.prog.split()[1] if len(parser.prog.split()) > 1 else ""
    flag = _FLAG_OF_KEY.get(command, {}).get(key)
    if flag is None:
        options = {o for a in parser._actions for o in a.option_strings}
        flag = "--" + key.replace("_", "-")
        flag = flag if flag in options else None
    if flag is None or re.search(re.escape(flag) + r"\b", message):
        return message
    return f"{message} ({flag})"


def _format_warning(message: Warning | str, category: type[Warning], filename: str,
                    lineno: int, line: str | None = None) -> str:
    """A warning as users of the command line read it: ``warning: message`` (not the source
    file and line of the library that raised it)."""
    return f"warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
