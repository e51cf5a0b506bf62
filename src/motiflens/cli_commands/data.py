"""``motiflens simulate`` and ``motiflens data``: build HDF5 datasets (synthetic or real)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from motiflens.errors import ConfigError


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


def cmd_data(args: argparse.Namespace) -> None:
    if args.source == "deepsea":
        from motiflens.data.deepsea import build_deepsea

        path = build_deepsea(args.bundle, args.out, strands=args.strands, progress=_say)
    elif args.source == "peaks":
        from motiflens.data.peaks import build_peaks

        path = build_peaks(
            args.genome, _named_files(args.peaks, "--peaks"), args.out, length=args.length,
            test_chroms=tuple(args.test_chroms), valid_chroms=tuple(args.valid_chroms),
            reverse_complement=args.reverse_complement, seed=args.seed,
            negatives="shuffle" if args.shuffled_negatives else None, progress=_say,
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
            test_chroms=args.test_chroms, valid_chroms=args.valid_chroms,
            valid_fraction=args.valid_fraction, test_fraction=args.test_fraction, progress=_say,
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
            reverse_complement=args.reverse_complement, seed=args.seed, progress=_say,
        )
    print(f"wrote {path}")


def _say(message: str) -> None:
    """A builder's progress line (rows per split, time, each DeepSEA file) on stderr."""
    print(message, file=sys.stderr, flush=True)


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
