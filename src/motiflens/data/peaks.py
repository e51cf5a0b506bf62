"""Genome + peak files -> a motiflens dataset, the DeepSEA way (docs/PAPER.md §6).

The genome is cut into ``bin_size`` (200 nt) bins. A bin is labelled 1 for a peak set when more
than ``min_overlap`` (half) of it is covered by that set's peaks (merged first, so overlapping
peaks are not counted twice). Each bin positive for at least ``min_positive`` labels becomes one
row: the bin widened symmetrically to ``length`` (1000 nt). Chromosomes in ``test_chroms``
(chr8, chr9) form the test set; the validation set is ``valid_chroms`` (chr7 by default) or, with
``valid_fraction``, a seeded random choice of 1-Mb blocks of the training chromosomes (blocks,
not rows: neighbouring windows overlap by 800 nt, so a per-row split would leak).

Soft-masked lower case is read as upper case; N becomes an all-zero column; any other character
is a FormatError naming the genome and position. Peaks on chromosomes absent from the genome,
peaks past a chromosome end and windows that would run off a chromosome end are skipped,
counted and reported (in the log and in the output's provenance); a label with no usable peak,
or an empty result, is an error. Every row is positive for some label, so a single peak set needs
negatives (``negatives="shuffle"``, ``--shuffled-negatives``: a dinucleotide shuffle of every
window, labelled 0) or it is refused, as by the FASTA and BED makers.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from motiflens._io import provenance
from motiflens.data.dataset import DatasetWriter
from motiflens.data.genome import (
    SPLITS,
    ChromSplit,
    Genome,
    SkipReport,
    warn_held_out,
    check_intervals,
    check_split_counts,
    read_bed,
    reverse_complement_onehot,
)
from motiflens.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

VALID_BLOCK = 1_000_000


@dataclass
class PeaksConfig:
    """How genome + peaks become a dataset (stored as the output's ``config`` attribute).

    Attributes
    ----------
    genome : str
        FASTA path (indexed with pyfaidx).
    peaks : dict
        Label name -> BED/narrowPeak path, in label order.
    bin_size : int
        Bin width (200 nt).
    length : int
        Sequence length after widening (1000 nt); >= bin_size.
    min_overlap : float
        A bin is positive when the covered fraction is strictly greater than this (0.5).
    min_positive : int
        Keep bins positive for at least this many labels.
    test_chroms, valid_chroms : list of str
        Held-out chromosomes.
    valid_fraction : float or None
        If set, ignore ``valid_chroms`` and hold out this fraction of 1-Mb blocks of the
        non-test chromosomes (seeded).
    chroms : list of str or None
        Restrict to these chromosomes (peaks elsewhere are counted as skipped).
    reverse_complement : bool
        Also write each window's reverse complement: per split, all forward rows first, then
        their reverse complements in the same order (the DeepSEA arrangement).
    negatives : {None, "shuffle"}
        "shuffle": after each chunk of windows, their dinucleotide shuffles (seeded per
        split, chromosome and chunk), labelled 0. Required with a single peak set.
    chunk_rows : int
        Rows encoded and written at a time.
    seed : int
    """

    genome: str
    peaks: dict[str, str]
    bin_size: int = 200
    length: int = 1000
    min_overlap: float = 0.5
    min_positive: int = 1
    test_chroms: list[str] = field(default_factory=lambda: ["chr8", "chr9"])
    valid_chroms: list[str] = field(default_factory=lambda: ["chr7"])
    valid_fraction: float | None = None
    chroms: list[str] | None = None
    reverse_complement: bool = False
    negatives: str | None = None
    chunk_rows: int = 20_000
    seed: int = 0

    def validate(self) -> None:
        """Raise ConfigError for inconsistent settings."""
        if not self.peaks:
            raise ConfigError("peaks: expected at least one NAME=FILE peak set")
        if self.negatives not in (None, "shuffle"):
            raise ConfigError(f"negatives: expected None or 'shuffle', found {self.negatives!r}")
        if self.bin_size < 1 or self.length < self.bin_size:
            raise ConfigError(f"bin_size/length (--length): expected 1 <= bin_size <= length, "
                              f"found bin_size={self.bin_size}, length={self.length}")
        if not 0 <= self.min_overlap < 1:
            raise ConfigError(f"min_overlap: expected a fraction in [0, 1), found {self.min_overlap}")
        if self.min_positive < 1:
            raise ConfigError(f"min_positive: expected >= 1, found {self.min_positive}")
        if self.valid_fraction is not None and not 0 < self.valid_fraction < 1:
            raise ConfigError(f"valid_fraction: expected a fraction in (0, 1), found "
                              f"{self.valid_fraction}")
        if self.chunk_rows < 1:
            raise ConfigError(f"chunk_rows: expected >= 1, found {self.chunk_rows}")
        ChromSplit(tuple(self.test_chroms), () if self.valid_fraction else tuple(self.valid_chroms))


def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of half-open intervals.

    Parameters
    ----------
    starts, ends : (n,) int64

    Returns
    -------
    (starts, ends)
        (m,) sorted, disjoint, non-touching intervals covering the same bases.
    """
    if len(starts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(starts, kind="stable")
    s, e = np.asarray(starts, np.int64)[order], np.asarray(ends, np.int64)[order]
    run_end = np.maximum.accumulate(e)
    new = np.empty(len(s), dtype=bool)
    new[0] = True
    new[1:] = s[1:] > run_end[:-1]
    idx = np.flatnonzero(new)
    last = np.append(idx[1:], len(s)) - 1
    return s[idx], run_end[last]


def bin_coverage(starts: np.ndarray, ends: np.ndarray, bin_size: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Bases of each bin covered by the union of the intervals.

    Parameters
    ----------
    starts, ends : (n,) int64
        Half-open intervals (any order, may overlap).
    bin_size : int

    Returns
    -------
    bins : (k,) int64
        Indices of bins touched by an interval (bin b spans [b*bin_size, (b+1)*bin_size)).
    covered : (k,) int64
        Covered bases of each bin.
    """
    s, e = merge_intervals(starts, ends)
    if s.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first, last = s // bin_size, (e - 1) // bin_size
    counts = last - first + 1
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    bins = np.repeat(first, counts) + offsets
    seg_s, seg_e = np.repeat(s, counts), np.repeat(e, counts)
    overlap = np.minimum(seg_e, (bins + 1) * bin_size) - np.maximum(seg_s, bins * bin_size)
    uniq, inverse = np.unique(bins, return_inverse=True)
    covered = np.bincount(inverse, weights=overlap).astype(np.int64)
    return uniq, covered


def label_bins(peaks_by_label: Sequence[tuple[np.ndarray, np.ndarray]], bin_size: int,
               min_overlap: float = 0.5, min_positive: int = 1
               ) -> tuple[np.ndarray, np.ndarray]:
    """Positive bins of one chromosome and their labels.

    Parameters
    ----------
    peaks_by_label : sequence of (starts, ends)
        One pair of (n_c,) arrays per label.
    bin_size : int
    min_overlap : float
        Bin positive when covered bases > ``min_overlap * bin_size``.
    min_positive : int

    Returns
    -------
    bins : (k,) int64 sorted bin indices positive for >= ``min_positive`` labels
    Y : (k, C) uint8
    """
    positive = []
    for starts, ends in peaks_by_label:
        b, cov = bin_coverage(starts, ends, bin_size)
        positive.append(b[cov > min_overlap * bin_size])
    allbins = np.unique(np.concatenate(positive)) if positive else np.zeros(0, np.int64)
    Y = np.zeros((allbins.size, len(positive)), dtype=np.uint8)
    for c, b in enumerate(positive):
        Y[np.searchsorted(allbins, b), c] = 1
    keep = Y.sum(axis=1) >= min_positive
    return allbins[keep], Y[keep]


def _valid_blocks(chrom: str, starts: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Seeded per-1-Mb-block validation membership of windows starting at ``starts``."""
    blocks = starts // VALID_BLOCK
    n_blocks = int(blocks.max()) + 1 if blocks.size else 0
    rng = np.random.default_rng([seed, zlib.crc32(chrom.encode())])
    chosen = rng.random(n_blocks) < fraction
    return chosen[blocks]


def build_peaks(genome: str | os.PathLike, peaks: Mapping[str, str | os.PathLike],
                out: str | os.PathLike, *, bin_size: int = 200, length: int = 1000,
                min_overlap: float = 0.5, min_positive: int = 1,
                test_chroms: Sequence[str] = ("chr8", "chr9"),
                valid_chroms: Sequence[str] = ("chr7",), valid_fraction: float | None = None,
                chroms: Sequence[str] | None = None, reverse_complement: bool = False,
                negatives: str | None = None, chunk_rows: int = 20_000, seed: int = 0,
                progress: Callable[[str], None] | None = None) -> Path:
    """Build a dataset from a genome FASTA and one peak file per label.

    Parameters
    ----------
    genome : path-like
        Genome FASTA (plain or bgzip), soft-masked lower case accepted.
    peaks : mapping
        Label name -> BED / narrowPeak path (``NAME=FILE`` on the command line), label order.
    out : path-like
        Output HDF5 (motiflens layout, written atomically).
    bin_size, length, min_overlap, min_positive, test_chroms, valid_chroms, valid_fraction,
    chroms, reverse_complement, negatives, chunk_rows, seed
        See :class:`PeaksConfig`.
    progress : callable, optional
        Called with one-line progress messages.

    Returns
    -------
    pathlib.Path
        ``out``; its provenance holds rows per split, positives per label and the skip report.

    Raises
    ------
    FormatError
        Malformed peak file (file and line named) or a genome character other than ACGTN.
    DatasetError
        A label with no usable peak, no bin positive for a label, an empty dataset/split, or a
        single peak set without negatives (every row would be labelled 1).
    """
    config = PeaksConfig(genome=str(genome), peaks={k: str(v) for k, v in peaks.items()},
                         bin_size=bin_size, length=length, min_overlap=min_overlap,
                         min_positive=min_positive, test_chroms=list(test_chroms),
                         valid_chroms=list(valid_chroms), valid_fraction=valid_fraction,
                         chroms=list(chroms) if chroms is not None else None,
                         reverse_complement=reverse_complement, negatives=negatives,
                         chunk_rows=chunk_rows, seed=seed)
    config.validate()
    if len(config.peaks) == 1 and config.negatives is None:
        raise DatasetError(
            f"a single peak set ({next(iter(config.peaks))!r}) without negatives gives every row "
            "label 1; add --shuffled-negatives (negatives='shuffle') or a second --peaks "
            "NAME=FILE")
    say = progress or (lambda msg: log.info("%s", msg))
    splitter = ChromSplit(tuple(config.test_chroms),
                          () if valid_fraction else tuple(config.valid_chroms))
    skips = SkipReport()
    t0 = time.perf_counter()
    with Genome(genome) as gen:
        warn_held_out(gen, genome, config.test_chroms,
                       () if valid_fraction else config.valid_chroms)
        allowed = set(config.chroms) if config.chroms is not None else None
        if allowed is not None:
            missing = sorted(allowed - set(gen.sizes))
            if missing:
                raise DatasetError(f"{genome}: chromosomes {missing} (option chroms) are not in "
                                   f"the genome (it has {', '.join(gen.chroms[:10])}...)")
        names = list(config.peaks)
        per_chrom: dict[str, list[tuple[list[int], list[int]]]] = {}
        for c, name in enumerate(names):
            path = config.peaks[name]
            intervals = read_bed(path)
            if not intervals:
                raise DatasetError(f"{path}: no peaks (label {name!r})")
            usable = check_intervals(intervals, gen, path, skips)
            if allowed is not None:
                excluded = [iv for iv in usable if iv.chrom not in allowed]
                for iv in excluded:
                    skips.add("peaks on chromosomes excluded by option chroms",
                              f"{Path(path).name}:{iv.line} {iv.chrom}")
                usable = [iv for iv in usable if iv.chrom in allowed]
            if not usable:
                raise DatasetError(
                    f"{path}: none of the {len(intervals)} peaks of label {name!r} lies on a "
                    f"genome chromosome within bounds ({skips.summary()}); check that the peak "
                    f"file and {genome} use the same assembly and chromosome names")
            for iv in usable:
                lists = per_chrom.setdefault(iv.chrom, [([], []) for _ in names])
                lists[c][0].append(iv.start)
                lists[c][1].append(iv.end)

        # Positive bins per chromosome -> window starts, labels, split.
        half = (config.length - config.bin_size) // 2
        plan: list[tuple[str, str, np.ndarray, np.ndarray]] = []
        counts = {s: 0 for s in SPLITS}
        positives = np.zeros(len(names), dtype=np.int64)
        for chrom in gen.chroms:  # genome order
            if chrom not in per_chrom:
                continue
            arrays = [(np.asarray(s, np.int64), np.asarray(e, np.int64))
                      for s, e in per_chrom[chrom]]
            bins, Y = label_bins(arrays, config.bin_size, config.min_overlap,
                                 config.min_positive)
            starts = bins * config.bin_size - half
            inside = (starts >= 0) & (starts + config.length <= gen.sizes[chrom])
            if not inside.all():
                bad = np.flatnonzero(~inside)
                skips.add("windows running past a chromosome end", f"{chrom}:{int(starts[bad[0]])}",
                          n=int(bad.size))
                bins, Y, starts = bins[inside], Y[inside], starts[inside]
            if starts.size == 0:
                continue
            positives += Y.sum(axis=0, dtype=np.int64)
            if valid_fraction and splitter.split_of(chrom) == "train":
                in_valid = _valid_blocks(chrom, starts, valid_fraction, seed)
                for split, mask in (("train", ~in_valid), ("valid", in_valid)):
                    if mask.any():
                        plan.append((split, chrom, starts[mask], Y[mask]))
                        counts[split] += int(mask.sum())
            else:
                split = splitter.split_of(chrom)
                plan.append((split, chrom, starts, Y))
                counts[split] += int(starts.size)

        empty_labels = [n for n, p in zip(names, positives) if p == 0]
        if empty_labels:
            raise DatasetError(
                f"labels {empty_labels}: no {config.bin_size}-nt bin is more than "
                f"{config.min_overlap:g} covered by their peaks (peaks narrower than "
                f"{config.min_overlap * config.bin_size:g} nt, or all near chromosome ends)")
        peaks_in = {split: sum(len(starts) for chrom, lists in per_chrom.items()
                               if splitter.split_of(chrom) == split for starts, _ in lists)
                    for split in SPLITS}
        hint = (f"test chromosomes {list(config.test_chroms)} ({peaks_in['test']} peak(s)), "
                "validation " + (f"fraction {valid_fraction} of 1-Mb blocks" if valid_fraction
                                 else f"chromosomes {list(config.valid_chroms)} "
                                      f"({peaks_in['valid']} peak(s))")
                + f"; a {config.bin_size}-nt bin counts when more than {config.min_overlap:g} "
                "of it is covered by a label's peaks: choose held-out chromosomes with such "
                "peaks (--test-chroms/--valid-chroms)")
        check_split_counts(counts, f"{out}", hint)
        skips.log(f"{out}: ")

        strands = (1, -1) if config.reverse_complement else (1,)
        with DatasetWriter(out, names, length=config.length, config=config) as writer:
            for split in SPLITS:
                for strand in strands:
                    for s, chrom, starts, Y in plan:
                        if s != split:
                            continue
                        _write_windows(writer, gen, split, chrom, starts, Y, config, strand)
            written = writer.counts()
            writer.provenance = provenance(
                seed=seed, source="peaks", genome=str(genome),
                peaks={k: str(v) for k, v in config.peaks.items()},
                rows_per_split=written, positives_per_label=dict(zip(names, positives.tolist())),
                skipped=skips.as_dict())
    say(f"{out}: wrote {written} rows ({'both strands' if reverse_complement else 'forward'}) "
        f"in {time.perf_counter() - t0:.1f} s; {skips.summary()}")
    return Path(out)


def _write_windows(writer: DatasetWriter, gen: Genome, split: str, chrom: str,
                   starts: np.ndarray, Y: np.ndarray, config: PeaksConfig, strand: int) -> None:
    """Encode the windows at ``starts`` on ``chrom`` and append them, ``chunk_rows`` at a time."""
    for lo in range(0, starts.size, config.chunk_rows):
        part = starts[lo:lo + config.chunk_rows]
        X = np.empty((part.size, 4, config.length), dtype=np.uint8)
        for index, onehot in gen.windows(chrom, part, config.length):
            X[index] = onehot
        negatives = _shuffled(X, config.seed, split, chrom, lo) if config.negatives else None
        if strand < 0:
            X = reverse_complement_onehot(X)
        writer.append(split, X, Y[lo:lo + config.chunk_rows])
        if negatives is not None:  # the reverse pass writes the same shuffles, complemented
            if strand < 0:
                negatives = reverse_complement_onehot(negatives)
            writer.append(split, negatives, np.zeros((part.size, Y.shape[1]), dtype=np.uint8))


def _shuffled(X: np.ndarray, seed: int, split: str, chrom: str, lo: int) -> np.ndarray:
    """Dinucleotide shuffles of the one-hot windows ``X`` (N columns stay N), seeded by
    ``seed``, the split, the chromosome and the chunk so that both strand passes draw the
    same ones."""
    from motiflens.data.fasta import dinucleotide_shuffle_codes
    from motiflens.data.genome import codes_to_onehot

    rng = np.random.default_rng([seed, SPLITS.index(split), zlib.crc32(chrom.encode()), lo])
    codes = np.where(X.any(axis=1), X.argmax(axis=1), 4).astype(np.uint8)
    return codes_to_onehot(np.stack([dinucleotide_shuffle_codes(c, rng) for c in codes]))
