"""BED intervals (one file per class) + a genome -> a motiflens dataset, split by chromosome."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from motiflens._io import provenance
from motiflens.data.assemble import _N_CODE, _assemble, _check_common
from motiflens.data.dataset import write_dataset
from motiflens.data.genome import (
    SPLITS,
    ChromSplit,
    Genome,
    SkipReport,
    warn_held_out,
    check_intervals,
    check_split_counts,
    read_bed,
)
from motiflens.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)


@dataclass
class BedConfig:
    """How BED intervals + genome become a dataset (stored as the ``config`` attribute)."""

    genome: str
    beds: dict[str, str]
    length: int = 1000
    test_chroms: list[str] = field(default_factory=lambda: ["chr8", "chr9"])
    valid_chroms: list[str] = field(default_factory=lambda: ["chr7"])
    use_strand: bool = True
    negatives: str | None = None
    negatives_per_sequence: int = 1
    reverse_complement: bool = False
    seed: int = 0


def build_bed(genome: str | os.PathLike, beds: Mapping[str, str | os.PathLike],
              out: str | os.PathLike, *, length: int = 1000,
              test_chroms: Sequence[str] = ("chr8", "chr9"),
              valid_chroms: Sequence[str] = ("chr7",), use_strand: bool = True,
              negatives: str | None = None, negatives_per_sequence: int = 1,
              reverse_complement: bool = False, seed: int = 0,
              progress: Callable[[str], None] | None = None) -> Path:
    """Build a dataset from BED intervals (one file per class) and a genome.

    Each interval becomes a ``length``-nt window centred on its midpoint; an interval listed
    for several classes (same window and strand) is one row with several labels. Rows are split
    by chromosome (``test_chroms``, ``valid_chroms``, the rest train), in genome order.

    Parameters
    ----------
    genome : path-like
        Genome FASTA; soft-masked lower case accepted, N -> all-zero columns.
    beds : mapping
        Class name -> BED file.
    out : path-like
    length : int
    test_chroms, valid_chroms : sequence of str
    use_strand : bool
        Reverse-complement intervals whose strand (column 6) is '-'.
    negatives, negatives_per_sequence, reverse_complement, seed
        As in :func:`build_fasta`.
    progress : callable, optional

    Returns
    -------
    pathlib.Path
        ``out``; provenance holds per-split counts and the skip report (intervals on
        chromosomes absent from the genome, past a chromosome end, windows off an end).

    Raises
    ------
    FormatError
        Malformed BED (file and line) or a genome character other than ACGTN.
    DatasetError
        All intervals of a class unusable, or an empty dataset/split.
    """
    _check_common(negatives, negatives_per_sequence, length)
    if not beds:
        raise ConfigError("beds: expected at least one NAME=FILE")
    config = BedConfig(genome=str(genome), beds={k: str(v) for k, v in beds.items()},
                       length=length, test_chroms=list(test_chroms),
                       valid_chroms=list(valid_chroms), use_strand=use_strand,
                       negatives=negatives, negatives_per_sequence=negatives_per_sequence,
                       reverse_complement=reverse_complement, seed=seed)
    splitter = ChromSplit(tuple(test_chroms), tuple(valid_chroms))
    names = list(beds)
    if len(names) == 1 and negatives is None:
        raise DatasetError(f"a single class ({names[0]!r}) without negatives gives every row "
                           "label 1; add --shuffled-negatives (negatives='shuffle') or a second "
                           "--bed NAME=FILE")
    skips = SkipReport()
    with Genome(genome) as gen:
        warn_held_out(gen, genome, test_chroms, valid_chroms)
        windows: dict[tuple[str, int, str], np.ndarray] = {}
        for c, name in enumerate(names):
            path = beds[name]
            intervals = read_bed(path)
            usable = check_intervals(intervals, gen, path, skips)
            n_used = 0
            for iv in usable:
                start = (iv.start + iv.end) // 2 - length // 2
                if start < 0 or start + length > gen.sizes[iv.chrom]:
                    skips.add("windows running past a chromosome end",
                              f"{Path(path).name}:{iv.line} {iv.chrom}:{iv.start}-{iv.end}")
                    continue
                strand = iv.strand if use_strand else "+"
                key = (iv.chrom, start, "-" if strand == "-" else "+")
                windows.setdefault(key, np.zeros(len(names), np.uint8))[c] = 1
                n_used += 1
            if n_used == 0:
                raise DatasetError(
                    f"{path}: none of the {len(intervals)} intervals of class {name!r} gives a "
                    f"{length}-nt window inside the genome ({skips.summary()})")
        order = {c: i for i, c in enumerate(gen.chroms)}
        keys = sorted(windows, key=lambda k: (order[k[0]], k[1], k[2]))
        codes = []
        for chrom, start, strand in keys:
            seq = gen.fetch_codes(chrom, start, start + length)
            if strand == "-":
                seq = np.where(seq == _N_CODE, _N_CODE, 3 - seq)[::-1].astype(np.uint8)
            codes.append(seq)
    Y = np.stack([windows[k] for k in keys]) if keys else np.zeros((0, len(names)), np.uint8)
    split_idx = splitter.indices(k[0] for k in keys)
    skips.log(f"{out}: ")
    check_split_counts({s: int((split_idx == i).sum()) for i, s in enumerate(SPLITS)}, f"{out}",
                       f"test chromosomes {list(test_chroms)}, validation chromosomes "
                       f"{list(valid_chroms)}; choose held-out chromosomes that carry intervals")
    rng = np.random.default_rng(seed)
    splits = _assemble(codes, Y, split_idx, negatives, negatives_per_sequence,
                       reverse_complement, rng)
    rows = {s: int(len(splits[s][0])) for s in SPLITS}
    write_dataset(out, splits, names, config=config,
                  provenance=provenance(seed=seed, source="bed", rows_per_split=rows,
                                        skipped=skips.as_dict()))
    (progress or (lambda m: log.info("%s", m)))(
        f"{out}: rows per split {rows}; {skips.summary()}")
    return Path(out)
