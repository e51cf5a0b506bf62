"""A user's own sequences -> a motiflens dataset: labelled FASTA, or BED intervals + genome;
optional negatives by dinucleotide shuffle (Altschul & Erickson 1985).

Labelled FASTA comes in two forms:

* one file per class (``classes={"CTCF": "ctcf.fa", "YY1": "yy1.fa"}``): each record is
  positive for its file's class;
* one file with a label field in each header (``labelled="seqs.fa"``). The header is split on
  whitespace and ``|``; ``label_field`` is either a key (``>seq1 label=CTCF,YY1`` with
  ``label_field="label"``) or a 0-based column number (``>seq1|CTCF`` with ``label_field=1``).
  Labels are comma-separated class names; ``-``, ``none`` or an empty value means no class.

Sequences are held in memory (user FASTA files are small next to a genome). Characters other
than A, C, G, T, N (either case) are a FormatError naming the file and line.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from motiflens._io import provenance
from motiflens.data.dataset import write_dataset
from motiflens.data.genome import (
    SPLITS,
    ChromSplit,
    Genome,
    SkipReport,
    check_intervals,
    check_split_counts,
    codes_to_onehot,
    read_bed,
    reverse_complement_onehot,
    sequence_codes,
)
from motiflens.errors import ConfigError, DatasetError, FormatError

log = logging.getLogger(__name__)

_N_CODE = 4


@dataclass
class FastaRecord:
    """One FASTA record: codes 0..4 (A, C, G, T, N) and where it came from."""

    name: str
    header: str
    codes: np.ndarray  # (L,) uint8
    path: str
    line: int          # line of the '>' header


def read_fasta(path: str | os.PathLike) -> Iterator[FastaRecord]:
    """Read a FASTA file strictly.

    Parameters
    ----------
    path : path-like
        Plain text (``.gz`` accepted). Lines starting with ``;`` are comments.

    Yields
    ------
    FastaRecord

    Raises
    ------
    FormatError
        Naming the file and line: sequence before the first header, an empty record, an
        empty header, or a character other than ACGTN (case-insensitive).
    """
    import gzip

    path = Path(path)
    if not path.exists():
        raise FormatError(path, "file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    header: str | None = None
    header_line = 0
    parts: list[np.ndarray] = []
    with opener(path, "rt") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith(";"):
                continue
            if line.startswith(">"):
                if header is not None:
                    yield _record(path, header, header_line, parts)
                header, header_line, parts = line[1:].strip(), lineno, []
                if not header:
                    raise FormatError(path, "empty FASTA header (expected '>name ...')",
                                      line=lineno)
                continue
            if header is None:
                raise FormatError(path, "sequence before the first '>' header", line=lineno)
            parts.append(sequence_codes(line.replace(" ", "").replace("\t", ""), where=path,
                                        line=lineno))
    if header is not None:
        yield _record(path, header, header_line, parts)


def _record(path: Path, header: str, line: int, parts: list[np.ndarray]) -> FastaRecord:
    if not parts or sum(p.size for p in parts) == 0:
        raise FormatError(path, f"record '{header.split()[0]}' has no sequence", line=line)
    return FastaRecord(header.split()[0], header, np.concatenate(parts), str(path), line)


# ---------------------------------------------------------------------------------------------
# Dinucleotide shuffle


def dinucleotide_shuffle_codes(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Altschul-Erickson dinucleotide shuffle of one sequence of integer codes.

    A uniformly random sequence with exactly the same dinucleotide (and so mononucleotide)
    counts, first and last letter: draw a random last-exit edge per letter until they form a
    tree into the final letter, shuffle every letter's other exits, and walk the Eulerian path
    (Altschul & Erickson 1985; Kandel et al. 1996).

    Parameters
    ----------
    codes : (L,) integer array
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        (L,) shuffled codes, same dtype.
    """
    codes = np.asarray(codes)
    n = codes.size
    if n < 3:
        return codes.copy()
    src, dst = codes[:-1], codes[1:]
    last = int(codes[-1])
    letters = [int(v) for v in np.unique(src)]
    exits = {v: dst[src == v] for v in letters}
    others = [v for v in letters if v != last]
    while True:
        choice = {v: int(rng.integers(exits[v].size)) for v in others}
        last_exit = {v: int(exits[v][choice[v]]) for v in others}
        if all(_reaches(v, last, last_exit) for v in others):
            break
    order: dict[int, np.ndarray] = {}
    for v in letters:
        out = exits[v]
        if v == last:
            order[v] = rng.permutation(out)
        else:
            rest = np.delete(out, choice[v])
            order[v] = np.append(rng.permutation(rest), out[choice[v]])
    result = np.empty(n, dtype=codes.dtype)
    result[0] = cur = int(codes[0])
    pos = {v: 0 for v in letters}
    lists = {v: order[v].tolist() for v in letters}
    for i in range(1, n):
        nxt = lists[cur][pos[cur]]
        pos[cur] += 1
        result[i] = cur = nxt
    return result


def _reaches(v: int, last: int, last_exit: dict[int, int]) -> bool:
    seen = set()
    while v != last:
        if v in seen:
            return False
        seen.add(v)
        v = last_exit[v]
    return True


def dinucleotide_shuffle(seq: str, rng: np.random.Generator | int | None = None) -> str:
    """Dinucleotide-preserving shuffle of a DNA string (upper-cased first).

    Parameters
    ----------
    seq : str
        Over A, C, G, T, N (any case).
    rng : numpy.random.Generator or int seed

    Returns
    -------
    str
        Same length, same dinucleotide counts, same first and last letter.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    codes = sequence_codes(seq)
    return "".join("ACGTN"[c] for c in dinucleotide_shuffle_codes(codes, rng))


# ---------------------------------------------------------------------------------------------
# Building datasets


@dataclass
class FastaConfig:
    """How labelled FASTA becomes a dataset (stored as the ``config`` attribute)."""

    classes: dict[str, str] | None = None
    labelled: list[str] | None = None
    label_field: str | int = "label"
    label_names: list[str] | None = None
    length: int | None = None
    negatives: str | None = None
    negatives_per_sequence: int = 1
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    reverse_complement: bool = False
    seed: int = 0


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


def _check_common(negatives: str | None, per: int, length: int | None) -> None:
    if negatives not in (None, "shuffle"):
        raise ConfigError(f"negatives: expected None or 'shuffle', found {negatives!r}")
    if per < 1:
        raise ConfigError(f"negatives_per_sequence: expected >= 1, found {per}")
    if length is not None and length < 1:
        raise ConfigError(f"length: expected >= 1, found {length}")


def _parse_labels(rec: FastaRecord, label_field: str | int) -> list[str]:
    fields = [f for f in re.split(r"[\s|]+", rec.header) if f]
    value: str | None = None
    if isinstance(label_field, int) or (isinstance(label_field, str) and label_field.isdigit()):
        idx = int(label_field)
        if idx >= len(fields):
            raise FormatError(rec.path, f"header has {len(fields)} fields, expected a label in "
                                        f"field {idx} (0-based; fields split on whitespace and "
                                        f"'|')", line=rec.line)
        value = fields[idx]
    else:
        prefix = f"{label_field}="
        for f in fields[1:]:
            if f.startswith(prefix):
                value = f[len(prefix):]
                break
        if value is None:
            raise FormatError(rec.path, f"header has no '{label_field}=...' field (expected e.g. "
                                        f"'>{rec.name} {label_field}=CLASS1,CLASS2')",
                              line=rec.line)
    if value.lower() in ("", "-", "none", "."):
        return []
    return [v for v in value.split(",") if v]


def _fit_length(codes: np.ndarray, length: int) -> tuple[np.ndarray, str]:
    """Centre-crop or N-pad ``codes`` to ``length``; returns (codes, "cropped"|"padded"|"")."""
    n = codes.size
    if n == length:
        return codes, ""
    if n > length:
        lo = (n - length) // 2
        return codes[lo:lo + length], "cropped"
    out = np.full(length, _N_CODE, dtype=np.uint8)
    lo = (length - n) // 2
    out[lo:lo + n] = codes
    return out, "padded"


def _random_splits(n: int, valid_fraction: float, test_fraction: float,
                   rng: np.random.Generator) -> np.ndarray:
    """(n,) array of split indices 0/1/2 (train/valid/test), sizes by rounding fractions."""
    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1
            and valid_fraction + test_fraction < 1):
        raise ConfigError(f"valid_fraction/test_fraction: expected fractions summing to < 1, "
                          f"found {valid_fraction}, {test_fraction}")
    n_valid, n_test = int(round(n * valid_fraction)), int(round(n * test_fraction))
    assign = np.zeros(n, dtype=np.int64)
    perm = rng.permutation(n)
    assign[perm[:n_valid]] = 1
    assign[perm[n_valid:n_valid + n_test]] = 2
    return assign


def _assemble(codes: list[np.ndarray], Y: np.ndarray, split_idx: np.ndarray,
              negatives: str | None, per: int, reverse_complement: bool,
              rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split: positives, then shuffled negatives (same split as their source), then (if
    asked) reverse complements of all of them in the same order."""
    out = {}
    n_classes = Y.shape[1]
    for s, name in enumerate(SPLITS):
        rows = np.flatnonzero(split_idx == s)
        seqs = [codes[i] for i in rows]
        labels = [Y[rows]]
        if negatives == "shuffle":
            for i in rows:
                for _ in range(per):
                    seqs.append(dinucleotide_shuffle_codes(codes[i], rng))
            labels.append(np.zeros((rows.size * per, n_classes), dtype=np.uint8))
        X = codes_to_onehot(np.stack(seqs)) if seqs else np.zeros((0, 4, 0), np.uint8)
        Yall = np.vstack(labels)
        if reverse_complement and len(X):
            X = np.concatenate([X, reverse_complement_onehot(X)])
            Yall = np.vstack([Yall, Yall])
        out[name] = (X, Yall)
    return out


def build_fasta(out: str | os.PathLike, *, classes: Mapping[str, str | os.PathLike] | None = None,
                labelled: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                label_field: str | int = "label", label_names: Sequence[str] | None = None,
                length: int | None = None, negatives: str | None = None,
                negatives_per_sequence: int = 1, valid_fraction: float = 0.1,
                test_fraction: float = 0.1, reverse_complement: bool = False, seed: int = 0,
                progress: Callable[[str], None] | None = None) -> Path:
    """Build a dataset from labelled FASTA.

    Parameters
    ----------
    out : path-like
        Output HDF5 (written atomically).
    classes : mapping, optional
        Class name -> FASTA file; every record is positive for its file's class.
    labelled : path-like or list, optional
        FASTA file(s) whose headers carry the labels (see module docstring). Exactly one of
        ``classes`` / ``labelled`` is required.
    label_field : str or int
        Header key (``label=A,B``) or 0-based field number.
    label_names : sequence of str, optional
        Class order (and the allowed names) for ``labelled``; default: sorted names seen.
    length : int, optional
        Output length L. None: every sequence must have the same length (error otherwise);
        an int: longer sequences are centre-cropped, shorter ones N-padded (counted).
    negatives : {None, "shuffle"}
        Add ``negatives_per_sequence`` dinucleotide-shuffled copies of each sequence, labelled
        all zeros and put in their source's split.
    valid_fraction, test_fraction : float
        Random (seeded) split of the records.
    reverse_complement : bool
        Append every row's reverse complement after the forward rows of its split.
    seed : int
    progress : callable, optional

    Returns
    -------
    pathlib.Path
        ``out``; provenance records per-split counts and crop/pad counts.

    Raises
    ------
    FormatError
        Bad FASTA (file and line), unknown label, unequal lengths with ``length=None``.
    DatasetError
        No records, a split left empty, or a single class with no negatives (every label 1).
    """
    _check_common(negatives, negatives_per_sequence, length)
    if (classes is None) == (labelled is None):
        raise ConfigError("build_fasta: give exactly one of classes (one FASTA per class) or "
                          "labelled (labels in the headers)")
    if isinstance(labelled, (str, os.PathLike)):
        labelled = [labelled]
    config = FastaConfig(classes={k: str(v) for k, v in classes.items()} if classes else None,
                         labelled=[str(p) for p in labelled] if labelled else None,
                         label_field=label_field,
                         label_names=list(label_names) if label_names else None, length=length,
                         negatives=negatives, negatives_per_sequence=negatives_per_sequence,
                         valid_fraction=valid_fraction, test_fraction=test_fraction,
                         reverse_complement=reverse_complement, seed=seed)
    records: list[tuple[FastaRecord, list[str]]] = []
    if classes is not None:
        if not classes:
            raise ConfigError("classes: expected at least one NAME=FILE")
        names = list(classes)
        for name, path in classes.items():
            n_before = len(records)
            records.extend((rec, [name]) for rec in read_fasta(path))
            if len(records) == n_before:
                raise DatasetError(f"{path}: no FASTA records (class {name!r})")
    else:
        for path in labelled:
            n_before = len(records)
            records.extend((rec, _parse_labels(rec, label_field)) for rec in read_fasta(path))
            if len(records) == n_before:
                raise DatasetError(f"{path}: no FASTA records")
        seen = sorted({lab for _, labs in records for lab in labs})
        names = list(label_names) if label_names else seen
        unknown = [(rec, lab) for rec, labs in records for lab in labs if lab not in names]
        if unknown:
            rec, lab = unknown[0]
            raise FormatError(rec.path, f"record '{rec.name}': unknown label {lab!r} (expected "
                                        f"one of {names})", line=rec.line)
        if not names:
            raise DatasetError(f"{labelled}: no record carries a label; nothing to learn")
    if len(names) == 1 and negatives is None:
        raise DatasetError(f"a single class ({names[0]!r}) without negatives gives every row "
                           "label 1; add --shuffled-negatives (negatives='shuffle') or a second "
                           "class (--classes NAME=FILE ... / labels in --labelled headers)")

    # Lengths
    counts = {"cropped": 0, "padded": 0}
    codes: list[np.ndarray] = []
    ref_len = records[0][0].codes.size
    for rec, _ in records:
        if length is None:
            if rec.codes.size != ref_len:
                first = records[0][0]
                raise FormatError(rec.path, f"record '{rec.name}' has length {rec.codes.size}, "
                                            f"expected {ref_len} like '{first.name}' "
                                            f"({first.path}:{first.line}); pass --length (length=) to "
                                            "crop/pad",
                                  line=rec.line)
            codes.append(rec.codes)
        else:
            fitted, what = _fit_length(rec.codes, length)
            if what:
                counts[what] += 1
            codes.append(fitted)
    Y = np.zeros((len(records), len(names)), dtype=np.uint8)
    index = {n: i for i, n in enumerate(names)}
    for r, (_, labs) in enumerate(records):
        Y[r, [index[lab] for lab in labs]] = 1

    rng = np.random.default_rng(seed)
    split_idx = _random_splits(len(records), valid_fraction, test_fraction, rng)
    check_split_counts({s: int((split_idx == i).sum()) for i, s in enumerate(SPLITS)},
                       f"{out}", f"{len(records)} records with valid_fraction={valid_fraction}, "
                                 f"test_fraction={test_fraction}; add records or raise the fractions")
    splits = _assemble(codes, Y, split_idx, negatives, negatives_per_sequence,
                       reverse_complement, rng)
    rows = {s: int(len(splits[s][0])) for s in SPLITS}
    write_dataset(out, splits, names, config=config,
                  provenance=provenance(seed=seed, source="fasta", rows_per_split=rows,
                                        records=len(records), length_fixes=counts))
    (progress or (lambda m: log.info("%s", m)))(
        f"{out}: {len(records)} records -> rows per split {rows}"
        + (f"; {counts['cropped']} cropped, {counts['padded']} padded" if length else ""))
    return Path(out)


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
    split_idx = np.array([SPLITS.index(splitter.split_of(k[0])) for k in keys], dtype=np.int64)
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
