"""Shared helpers for the real-data builders: strict DNA encoding, a genome reader, BED/narrowPeak
parsing, chromosome split assignment and skip accounting.

Conventions (see docs/DESIGN.md): one-hot rows A, C, G, T; N = all-zero column; stored uint8.
Coordinates are 0-based, half-open (BED).
"""

from __future__ import annotations

import gzip
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from motiflens.data.encoding import INVALID, byte_codes, codes_to_onehot
from motiflens.errors import ConfigError, DatasetError, FormatError
from motiflens.motifs import ALPHABET  # noqa: F401  (importable from here as before)

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def sequence_codes(seq: str | bytes, *, where: str | os.PathLike = "<sequence>",
                   line: int | None = None, offset: int = 0, context: str = "") -> np.ndarray:
    """Map a DNA string to codes 0..4 (A, C, G, T, N), rejecting any other character.

    Parameters
    ----------
    seq : str or bytes
        Upper- or lower-case (soft-masked) DNA over A, C, G, T, N.
    where : path-like
        File named in the error message.
    line : int, optional
        Line number named in the error message.
    offset : int
        Added to the index of a bad character in the message (e.g. a chromosome start).
    context : str
        Extra words for the message, e.g. ``"chr1:"``.

    Returns
    -------
    numpy.ndarray
        (L,) uint8 codes.

    Raises
    ------
    FormatError
        When a character is not one of ACGTN (case-insensitive).
    """
    raw = seq.encode("latin-1", errors="replace") if isinstance(seq, str) else bytes(seq)
    codes = byte_codes(raw)
    bad = np.flatnonzero(codes == INVALID)
    if bad.size:
        pos = int(bad[0])
        char = raw[pos:pos + 1].decode("latin-1")
        raise FormatError(
            where,
            f"invalid character {char!r} at {context}position {pos + offset + 1} "
            f"({bad.size} invalid in total); expected only A, C, G, T or N (any case)",
            line=line,
        )
    return codes


def reverse_complement_onehot(X: np.ndarray) -> np.ndarray:
    """Reverse complement one-hot sequences (rows A, C, G, T).

    Parameters
    ----------
    X : numpy.ndarray
        (N, 4, L) one-hot.

    Returns
    -------
    numpy.ndarray
        (N, 4, L) copy: positions reversed and A<->T, C<->G (the channel axis flipped).
    """
    return np.ascontiguousarray(X[:, ::-1, ::-1])


# ---------------------------------------------------------------------------------------------
# Skip accounting


@dataclass
class SkipReport:
    """Counted, reported skips: reason -> count, plus a few examples per reason."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, example: str = "", n: int = 1) -> None:
        """Count ``n`` skipped items for ``reason``; keep up to 5 examples."""
        self.counts[reason] += n
        if example:
            ex = self.examples.setdefault(reason, [])
            if len(ex) < 5:
                ex.append(example)

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    def as_dict(self) -> dict:
        return {"counts": dict(self.counts), "examples": self.examples}

    def summary(self) -> str:
        if not self.counts:
            return "no items skipped"
        parts = []
        for reason, n in self.counts.items():
            ex = self.examples.get(reason)
            parts.append(f"{n} {reason}" + (f" (e.g. {', '.join(ex[:3])})" if ex else ""))
        return "skipped: " + "; ".join(parts)

    def log(self, prefix: str = "") -> None:
        if self.counts:
            log.warning("%s%s", prefix, self.summary())


# ---------------------------------------------------------------------------------------------
# Genome


class Genome:
    """An indexed FASTA genome (pyfaidx), read lazily, soft-masked lower case accepted.

    Parameters
    ----------
    path : path-like
        FASTA file (plain or bgzip); pyfaidx writes ``path.fai`` next to it if missing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import pyfaidx

        self.path = Path(path)
        if not self.path.exists():
            raise FormatError(self.path, "genome FASTA not found")
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False,
                                        read_long_names=False)
        except (pyfaidx.FastaIndexingError, ValueError, OSError) as exc:
            raise FormatError(self.path, f"cannot index genome FASTA: {exc}") from None
        self.sizes: dict[str, int] = {name: len(rec) for name, rec in self._fasta.records.items()}
        if not self.sizes:
            raise FormatError(self.path, "genome FASTA has no sequences")

    @property
    def chroms(self) -> list[str]:
        """Chromosome names in file order."""
        return list(self.sizes)

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom[start:end]`` (0-based, half-open), as stored (case kept)."""
        if chrom not in self.sizes:
            raise DatasetError(f"{self.path}: chromosome {chrom!r} is not in the genome")
        if start < 0 or end > self.sizes[chrom] or start > end:
            raise DatasetError(f"{self.path}: interval {chrom}:{start}-{end} lies outside "
                               f"{chrom} (length {self.sizes[chrom]})")
        return self._fasta[chrom][start:end]

    def fetch_codes(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes 0..4 of ``chrom[start:end]``; a character other than ACGTN is a FormatError."""
        seq = self.fetch(chrom, start, end)
        return sequence_codes(seq, where=self.path, offset=start, context=f"{chrom}:")

    def windows(self, chrom: str, starts: np.ndarray, length: int, max_span: int = 4_000_000
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One-hot windows of ``length`` nt at sorted ``starts`` on ``chrom``, fetched in spans.

        Nearby windows are read together (one FASTA read per run of windows within
        ``max_span`` nt), so tiling a peak costs one read.

        Parameters
        ----------
        chrom : str
        starts : numpy.ndarray
            (n,) int64 window starts, sorted ascending, each within the chromosome.
        length : int
        max_span : int
            Largest genome span read at once.

        Yields
        ------
        (index, X)
            ``index`` (k,) positions into ``starts``; ``X`` (k, 4, length) uint8 one-hot.
        """
        starts = np.asarray(starts, dtype=np.int64)
        i = 0
        n = starts.size
        while i < n:
            j = i + 1
            # extend the run while the next window stays within max_span of the first
            # and overlaps or nearly touches the previous one.
            while (j < n and starts[j] + length - starts[i] <= max_span
                   and starts[j] - starts[j - 1] <= length):
                j += 1
            lo, hi = int(starts[i]), int(starts[j - 1]) + length
            codes = self.fetch_codes(chrom, lo, hi)
            view = np.lib.stride_tricks.sliding_window_view(codes, length)
            rows = view[starts[i:j] - lo]
            yield np.arange(i, j), codes_to_onehot(rows)
            i = j

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# BED / narrowPeak


@dataclass
class Interval:
    """One BED record (0-based, half-open) with its source line."""

    chrom: str
    start: int
    end: int
    name: str = ""
    strand: str = "."
    line: int = 0


def _open_text(path: Path):
    """A text file, gzipped or not (told by its first bytes, whatever its name). Bytes that
    are not UTF-8 (e.g. in a name column) are read as U+FFFD rather than stopping the read."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_bed(path: str | os.PathLike) -> list[Interval]:
    """Read a BED / narrowPeak file (BED3 or more columns; track/browser/# lines ignored).

    Parameters
    ----------
    path : path-like
        Plain or gzipped text; columns chrom, start, end[, name, score, strand, ...].

    Returns
    -------
    list of Interval

    Raises
    ------
    FormatError
        Naming the file and line, for fewer than 3 columns, non-integer or negative
        coordinates, or end <= start.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(path, "file not found")
    out: list[Interval] = []
    with _open_text(path) as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            if len(cols) < 3:
                raise FormatError(path, f"expected at least 3 columns (chrom, start, end), "
                                        f"found {len(cols)}", line=lineno)
            try:
                start, end = int(cols[1]), int(cols[2])
            except ValueError:
                raise FormatError(path, f"start/end must be integers, found {cols[1]!r}, "
                                        f"{cols[2]!r}", line=lineno) from None
            if start < 0 or end <= start:
                raise FormatError(path, f"expected 0 <= start < end, found start={start}, "
                                        f"end={end}", line=lineno)
            strand = cols[5] if len(cols) > 5 else "."
            if strand not in ("+", "-", "."):
                raise FormatError(path, f"strand (column 6) must be +, - or ., found {strand!r}",
                                  line=lineno)
            out.append(Interval(cols[0], start, end, cols[3] if len(cols) > 3 else "",
                                strand, lineno))
    return out


def check_intervals(intervals: Iterable[Interval], genome: Genome, path: str | os.PathLike,
                    skips: SkipReport) -> list[Interval]:
    """Drop (and count) intervals on chromosomes absent from the genome or past a chromosome end.

    Returns
    -------
    list of Interval
        The intervals that lie entirely within a genome chromosome.
    """
    kept = []
    for iv in intervals:
        size = genome.sizes.get(iv.chrom)
        if size is None:
            skips.add("intervals on chromosomes absent from the genome",
                      f"{Path(path).name}:{iv.line} {iv.chrom}")
        elif iv.end > size:
            skips.add("intervals past a chromosome end",
                      f"{Path(path).name}:{iv.line} {iv.chrom}:{iv.start}-{iv.end} (length {size})")
        else:
            kept.append(iv)
    return kept


# ---------------------------------------------------------------------------------------------
# Splits


@dataclass
class ChromSplit:
    """Which chromosomes go to the test and validation sets (the rest train)."""

    test_chroms: tuple[str, ...] = ("chr8", "chr9")
    valid_chroms: tuple[str, ...] = ("chr7",)

    def __post_init__(self) -> None:
        self.test_chroms = tuple(self.test_chroms)
        self.valid_chroms = tuple(self.valid_chroms)
        both = set(self.test_chroms) & set(self.valid_chroms)
        if both:
            raise ConfigError(f"chromosomes {sorted(both)} are in both test_chroms and "
                              "valid_chroms; a chromosome can be held out for one split only")

    def split_of(self, chrom: str) -> str:
        if chrom in self.test_chroms:
            return "test"
        if chrom in self.valid_chroms:
            return "valid"
        return "train"

    def indices(self, chroms: Iterable[str]) -> np.ndarray:
        """(n,) int64 index into :data:`SPLITS` of each chromosome's split."""
        return np.array([SPLITS.index(self.split_of(c)) for c in chroms], dtype=np.int64)


def warn_held_out(genome: "Genome", path: str | os.PathLike, test_chroms: Sequence[str],
                   valid_chroms: Sequence[str]) -> None:
    """Warn about held-out chromosomes the genome does not have: a typo, or chr-less names
    such as Ensembl's, would silently leave a split smaller (an empty one is an error later)."""
    import warnings

    missing = [c for c in (*test_chroms, *valid_chroms) if c not in genome.sizes]
    if missing:
        more = " ..." if len(genome.chroms) > 8 else ""
        warnings.warn(f"{path}: held-out chromosome(s) {missing} are not in the genome (it has "
                      f"{', '.join(genome.chroms[:8])}{more}); their split holds the others only "
                      "(--test-chroms/--valid-chroms)", stacklevel=3)


def check_split_counts(counts: dict[str, int], what: str, hint: str) -> None:
    """Raise DatasetError when the dataset or any split would be empty."""
    if sum(counts.values()) == 0:
        raise DatasetError(f"{what}: no sequences left to write (empty result). {hint}")
    empty = [s for s in SPLITS if counts.get(s, 0) == 0]
    if empty:
        raise DatasetError(f"{what}: split(s) {empty} would be empty (rows per split: "
                           f"{counts}). {hint}")
