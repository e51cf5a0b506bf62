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

Labelled FASTA -> dataset lives here; strict FASTA reading is in
:mod:`motiflens.data.fastafile`, the dinucleotide shuffle in :mod:`motiflens.data.shuffle`,
BED + genome -> dataset in :mod:`motiflens.data.bed` and the shared per-split assembly in
:mod:`motiflens.data.assemble`. Their names stay importable from this module.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from motiflens._io import provenance
from motiflens.data.assemble import _N_CODE, _assemble, _check_common
from motiflens.data.bed import BedConfig, build_bed  # noqa: F401  (importable from here as before)
from motiflens.data.dataset import write_dataset
from motiflens.data.fastafile import FastaRecord, read_fasta
from motiflens.data.genome import SPLITS, ChromSplit, check_split_counts
from motiflens.data.shuffle import (  # noqa: F401  (importable from here as before)
    dinucleotide_shuffle,
    dinucleotide_shuffle_codes,
)
from motiflens.errors import ConfigError, DatasetError, FormatError

log = logging.getLogger(__name__)


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
    test_chroms: list[str] | None = None
    valid_chroms: list[str] | None = None


#: A record name that is a genomic interval: ``chr8:127735434-127735634`` (strand suffix allowed).
_INTERVAL = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)(\([+-.]\))?$")


def _chromosome_splits(records: Sequence[FastaRecord], test_chroms: Sequence[str],
                       valid_chroms: Sequence[str]) -> np.ndarray:
    """(n,) split indices 0/1/2 by each record's chromosome, read from its name
    (``chrom:start-end``): whole chromosomes held out, as Koo & Eddy hold out chr8 and chr9."""
    chroms = []
    for rec in records:
        match = _INTERVAL.match(rec.name)
        if match is None:
            raise FormatError(rec.path, f"record '{rec.name}': expected a name chrom:start-end "
                                        "to split by chromosome (--test-chroms/--valid-chroms); "
                                        "drop those flags for a random split", line=rec.line)
        chroms.append(match["chrom"])
    return ChromSplit(tuple(test_chroms), tuple(valid_chroms)).indices(chroms)


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
                          f"found {valid_fraction}, {test_fraction} "
                          "(--valid-fraction/--test-fraction)")
    n_valid, n_test = int(round(n * valid_fraction)), int(round(n * test_fraction))
    assign = np.zeros(n, dtype=np.int64)
    perm = rng.permutation(n)
    assign[perm[:n_valid]] = 1
    assign[perm[n_valid:n_valid + n_test]] = 2
    return assign


def build_fasta(out: str | os.PathLike, *, classes: Mapping[str, str | os.PathLike] | None = None,
                labelled: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                label_field: str | int = "label", label_names: Sequence[str] | None = None,
                length: int | None = None, negatives: str | None = None,
                negatives_per_sequence: int = 1, valid_fraction: float = 0.1,
                test_fraction: float = 0.1, reverse_complement: bool = False, seed: int = 0,
                test_chroms: Sequence[str] | None = None, valid_chroms: Sequence[str] = (),
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
        Random (seeded) split of the records (unless ``test_chroms``).
    test_chroms, valid_chroms : sequence of str, optional
        Split by chromosome instead: records whose name is ``chrom:start-end`` on these
        chromosomes form the test / validation set, the rest train.
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
    if valid_chroms and not test_chroms:
        raise ConfigError("--valid-chroms (valid_chroms=) needs --test-chroms (test_chroms=): "
                          "a chromosome split holds out a test set")
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
                         reverse_complement=reverse_complement, seed=seed,
                         test_chroms=list(test_chroms) if test_chroms else None,
                         valid_chroms=list(valid_chroms) if test_chroms else None)
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
    if test_chroms:
        split_idx = _chromosome_splits([rec for rec, _ in records], test_chroms, valid_chroms)
        hint = (f"{len(records)} records split by chromosome: test {list(test_chroms)}, "
                f"validation {list(valid_chroms)}; choose chromosomes that carry records "
                "(--test-chroms/--valid-chroms)")
    else:
        split_idx = _random_splits(len(records), valid_fraction, test_fraction, rng)
        hint = (f"{len(records)} records with valid_fraction={valid_fraction}, "
                f"test_fraction={test_fraction}; add records or raise the fractions "
                "(--valid-fraction/--test-fraction)")
    check_split_counts({s: int((split_idx == i).sum()) for i, s in enumerate(SPLITS)},
                       f"{out}", hint)
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
