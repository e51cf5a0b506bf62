"""Position probability matrices (PPMs): the ``Motif`` type, information content, and MEME /
JASPAR file input and output.

Conventions
-----------
A PPM is a ``(4, w)`` float64 array with rows A, C, G, T; every column sums to 1. MEME files
store the transpose (one row per position); the readers and writers here convert.

MEME reader rules (``read_meme``)
---------------------------------
- Line endings ``\\n`` and ``\\r\\n`` are both accepted; blank lines are ignored except that a
  blank line ends a matrix whose ``w=`` was not given.
- ``ALPHABET=`` must be ``ACGT`` (any case); anything else is a ``FormatError``. A missing
  alphabet, ``strands:`` or background section is accepted (DNA is assumed).
- ``MOTIF id [alt]``: any amount of whitespace; ``Motif.name`` is the rest of the line.
- ``letter-probability matrix:`` may carry ``alength=`` (must be 4), ``w=``, ``nsites=`` and
  ``E=`` in any order, all optional. With ``w=`` exactly ``w`` rows must follow; without it the
  rows run up to the next blank or non-numeric line. ``URL`` lines and ``log-odds matrix:``
  blocks are skipped. The last motif may end the file without a trailing newline.
- Every row must hold 4 non-negative numbers. A row whose sum is within ``SUM_TOLERANCE``
  (1e-2) of 1 is renormalised silently (files written with 6 decimals rarely sum to exactly 1).
  If *every* row of a matrix sums to more than 1.5 the matrix is taken as counts written in
  place of probabilities: rows are divided by their sums, ``nsites`` is set from the largest
  row sum when absent, and a ``UserWarning`` is issued. Any other row sum is an error.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from motiflens._io import atomic_open
from motiflens.errors import FormatError

ALPHABET = "ACGT"
SUM_TOLERANCE = 1e-2
_COUNTS_ROW_SUM = 1.5
_DEFAULT_NSITES = 20
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_KEY_VALUE = re.compile(r"([A-Za-z]+)\s*=\s*(\S+)")

__all__ = [
    "ALPHABET",
    "Motif",
    "consensus",
    "information_content",
    "read_jaspar",
    "read_meme",
    "reverse_complement",
    "trim_motif",
    "trim_ppm",
    "write_jaspar",
    "write_meme",
]


# --------------------------------------------------------------------------------------------
# PPM operations
# --------------------------------------------------------------------------------------------
def _as_ppm(ppm: object) -> np.ndarray:
    """Return ``ppm`` as a float64 ``(4, w)`` array or raise ``ValueError``."""
    arr = np.array(ppm, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 4 or arr.shape[1] < 1:
        raise ValueError(f"a PPM must have shape (4, w) with w >= 1, got {arr.shape}")
    return arr


def reverse_complement(ppm: np.ndarray) -> np.ndarray:
    """Reverse complement of a PPM: flip both axes (A<->T, C<->G, positions reversed).

    Parameters
    ----------
    ppm : (4, w) array

    Returns
    -------
    (4, w) float64 array
    """
    return _as_ppm(ppm)[::-1, ::-1].copy()


def information_content(ppm: np.ndarray, pseudocount: float = 0.0) -> np.ndarray:
    """Information content of each column, in bits: ``log2(4) + sum_b p_b log2 p_b``.

    Parameters
    ----------
    ppm : (4, w) array
        Columns should sum to 1.
    pseudocount : float
        Added to every probability before the columns are renormalised
        (``p' = (p + c) / (1 + 4c)``). With 0 (default), ``0 log 0`` is taken as 0.

    Returns
    -------
    (w,) float64 array, each value in [0, 2].
    """
    p = _as_ppm(ppm)
    if pseudocount < 0:
        raise ValueError(f"pseudocount must be >= 0, got {pseudocount}")
    if pseudocount:
        p = (p + pseudocount) / (p.sum(axis=0, keepdims=True) + 4 * pseudocount)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return np.log2(4.0) + plogp.sum(axis=0)


def consensus(ppm: np.ndarray) -> str:
    """Most probable letter of each column (ties go to the first of A, C, G, T).

    Parameters
    ----------
    ppm : (4, w) array

    Returns
    -------
    str of length w
    """
    idx = np.argmax(_as_ppm(ppm), axis=0)
    return "".join(ALPHABET[i] for i in idx)


def trim_ppm(ppm: np.ndarray, ic_threshold: float = 0.5, pad: int = 3) -> tuple[int, int]:
    """Column range to keep when trimming a PPM before comparison (docs/PAPER.md §4, authors' code).

    Keeps the columns from the first to the last one whose information content exceeds
    ``ic_threshold`` bits, plus ``pad`` columns on each side, clipped to the motif. If no
    column exceeds the threshold the whole motif is kept (as the authors' code does).

    Parameters
    ----------
    ppm : (4, w) array
    ic_threshold : float
        Bits; columns with IC strictly above it are informative.
    pad : int
        Columns added on each side of the informative span.

    Returns
    -------
    (start, stop) : tuple of int
        Slice bounds, ``0 <= start < stop <= w``; trimmed PPM is ``ppm[:, start:stop]``.
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    ic = information_content(ppm)
    informative = np.flatnonzero(ic > ic_threshold)
    if informative.size == 0:
        return 0, ic.size
    start = max(int(informative[0]) - pad, 0)
    stop = min(int(informative[-1]) + pad + 1, ic.size)
    return start, stop


def trim_motif(motif: "Motif", ic_threshold: float = 0.5, pad: int = 3) -> "Motif":
    """A copy of ``motif`` cut to the columns chosen by :func:`trim_ppm`."""
    start, stop = trim_ppm(motif.ppm, ic_threshold=ic_threshold, pad=pad)
    return Motif(motif.id, motif.ppm[:, start:stop], name=motif.name, nsites=motif.nsites)


# --------------------------------------------------------------------------------------------
# Motif
# --------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Motif:
    """A DNA motif as a position probability matrix.

    Attributes
    ----------
    id : str
        Identifier, e.g. ``"MA0151.1"`` or ``"filter_3"``.
    ppm : (4, w) float64 array
        Rows A, C, G, T; every column sums to 1 (checked to 1e-3).
    name : str
        Human-readable name, e.g. ``"Arid3a"``.
    nsites : int or None
        Number of sites the matrix was built from, if known.
    """

    id: str
    ppm: np.ndarray
    name: str = ""
    nsites: int | None = field(default=None)

    def __post_init__(self) -> None:
        self.ppm = _as_ppm(self.ppm)
        if not np.all(np.isfinite(self.ppm)) or np.any(self.ppm < 0):
            raise ValueError(f"motif {self.id!r}: PPM values must be finite and >= 0")
        sums = self.ppm.sum(axis=0)
        bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
        if bad.size:
            raise ValueError(
                f"motif {self.id!r}: PPM column {int(bad[0])} sums to {sums[bad[0]]:.6g}, "
                "expected 1"
            )
        if self.nsites is not None:
            self.nsites = int(self.nsites)

    @property
    def width(self) -> int:
        """Number of columns ``w``."""
        return int(self.ppm.shape[1])

    def reverse_complement(self) -> "Motif":
        """The motif on the other strand (same id, name and nsites)."""
        return Motif(self.id, reverse_complement(self.ppm), name=self.name, nsites=self.nsites)

    def information_content(self, pseudocount: float = 0.0) -> np.ndarray:
        """(w,) information content of each column in bits."""
        return information_content(self.ppm, pseudocount=pseudocount)

    def consensus(self) -> str:
        """Most probable letter of each column."""
        return consensus(self.ppm)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Motif):
            return NotImplemented
        return (
            self.id == other.id
            and self.name == other.name
            and self.nsites == other.nsites
            and self.ppm.shape == other.ppm.shape
            and bool(np.array_equal(self.ppm, other.ppm))
        )

    def __repr__(self) -> str:
        return (
            f"Motif(id={self.id!r}, name={self.name!r}, width={self.width}, "
            f"nsites={self.nsites}, consensus={self.consensus()!r})"
        )


# --------------------------------------------------------------------------------------------
# MEME minimal format
# --------------------------------------------------------------------------------------------
def _read_lines(path: str | os.PathLike) -> list[str]:
    """Lines of a text file without line terminators (\\n, \\r\\n or \\r)."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline=None) as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except IsADirectoryError:
        raise FormatError(path, "is a directory, expected a motif file") from None


def _is_number(token: str) -> bool:
    return bool(_NUMBER.match(token)) or token.lower() in {"nan", "inf", "-inf", "+inf"}


def _parse_row(tokens: list[str], path: object, lineno: int, ncol: int = 4) -> list[float]:
    """Parse one matrix row of exactly ``ncol`` non-negative numbers."""
    if len(tokens) != ncol:
        raise FormatError(
            path, f"matrix row has {len(tokens)} values, expected {ncol} (A C G T)", line=lineno
        )
    values = []
    for tok in tokens:
        try:
            val = float(tok)
        except ValueError:
            raise FormatError(path, f"matrix value {tok!r} is not a number", line=lineno) from None
        if not np.isfinite(val) or val < 0:
            raise FormatError(
                path, f"matrix value {tok!r} must be a finite number >= 0", line=lineno
            )
        values.append(val)
    return values


def _normalise_meme_rows(
    rows: np.ndarray, linenos: list[int], motif_id: str, path: object
) -> tuple[np.ndarray, float | None]:
    """Rows (w, 4) -> PPM (4, w); returns the PPM and the largest row sum if rows were counts."""
    sums = rows.sum(axis=1)
    if np.all(sums > _COUNTS_ROW_SUM):
        warnings.warn(
            f"{path}:{linenos[0]}: motif {motif_id} holds counts, not probabilities; "
            "rows were divided by their sums",
            UserWarning,
            stacklevel=4,
        )
        return (rows / sums[:, None]).T, float(sums.max())
    for total, lineno in zip(sums, linenos):
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise FormatError(
                path,
                f"probabilities of motif {motif_id} sum to {total:.6g}, expected 1 "
                f"(within {SUM_TOLERANCE})",
                line=lineno,
            )
    return (rows / sums[:, None]).T, None


def _matrix_header(text: str, path: object, lineno: int) -> dict[str, str]:
    """Key=value pairs after ``letter-probability matrix:``; checks alength."""
    fields = {k.lower(): v for k, v in _KEY_VALUE.findall(text)}
    if "alength" in fields and fields["alength"] != "4":
        raise FormatError(
            path, f"alength= {fields['alength']}, expected 4 (DNA, ACGT)", line=lineno
        )
    for key in ("w", "nsites"):
        if key in fields:
            try:
                value = float(fields[key])
            except ValueError:
                raise FormatError(
                    path, f"{key}= {fields[key]!r} is not a number", line=lineno
                ) from None
            if key == "w" and (value != int(value) or value < 1):
                raise FormatError(path, f"w= {fields[key]} must be an integer >= 1", line=lineno)
    return fields


class _MemeParser:
    """Line-by-line parser of the MEME minimal motif format (see module docstring)."""

    def __init__(self, path: object, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.i = 0
        self.motifs: list[Motif] = []
        self.current: tuple[str, str, int] | None = None  # (id, name, MOTIF line number)
        self.has_matrix = False
        self.seen: dict[str, int] = {}  # motif ID -> line of its MOTIF line

    def parse(self) -> list[Motif]:
        while self.i < len(self.lines):
            lineno = self.i + 1
            line = self.lines[self.i].strip()
            self.i += 1
            if not line:
                continue
            self._dispatch(line, lineno)
        self._close_motif()
        if not self.motifs:
            raise FormatError(self.path, "no motifs found (expected 'MOTIF' lines, MEME format)")
        return self.motifs

    def _dispatch(self, line: str, lineno: int) -> None:
        head = line.split()[0]
        lower = line.lower()
        if head == "MOTIF":
            self._start_motif(line, lineno)
        elif lower.startswith("alphabet"):
            self._check_alphabet(line, lineno)
        elif lower.startswith("letter-probability matrix"):
            self._read_matrix(line, lineno)
        elif lower.startswith("log-odds matrix"):
            self._skip_numeric_rows()
        elif _is_number(head) and self.current is not None:
            raise FormatError(
                self.path,
                f"unexpected matrix row after motif {self.current[0]} "
                "(more rows than w= or no 'letter-probability matrix:' line)",
                line=lineno,
            )
        # Anything else (MEME version, strands, background, URL, free text) is ignored.

    def _check_alphabet(self, line: str, lineno: int) -> None:
        value = line.split("=", 1)[1].strip() if "=" in line else line.split(None, 1)[-1]
        if value.upper() != ALPHABET:
            raise FormatError(
                self.path, f"ALPHABET= {value!r} is not supported, expected ACGT", line=lineno
            )

    def _start_motif(self, line: str, lineno: int) -> None:
        self._close_motif()
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise FormatError(self.path, "MOTIF line without an identifier", line=lineno)
        name = parts[2].strip() if len(parts) > 2 else ""
        _check_unique_id(self.seen, parts[1], self.path, lineno)
        self.current = (parts[1], name, lineno)
        self.has_matrix = False

    def _close_motif(self) -> None:
        if self.current is not None and not self.has_matrix:
            motif_id, _, lineno = self.current
            raise FormatError(
                self.path,
                f"motif {motif_id} has no 'letter-probability matrix:' section",
                line=lineno,
            )
        self.current = None

    def _skip_numeric_rows(self) -> None:
        while self.i < len(self.lines):
            tokens = self.lines[self.i].split()
            if not tokens or not _is_number(tokens[0]):
                return
            self.i += 1

    def _read_matrix(self, line: str, lineno: int) -> None:
        if self.current is None:
            raise FormatError(
                self.path, "'letter-probability matrix:' before any MOTIF line", line=lineno
            )
        if self.has_matrix:
            raise FormatError(
                self.path, f"second letter-probability matrix for motif {self.current[0]}",
                line=lineno,
            )
        fields = _matrix_header(line.split(":", 1)[1], self.path, lineno)
        width = int(float(fields["w"])) if "w" in fields else None
        rows, linenos = self._collect_rows(width, lineno)
        motif_id, name, _ = self.current
        ppm, counts_total = _normalise_meme_rows(np.array(rows), linenos, motif_id, self.path)
        nsites = int(float(fields["nsites"])) if "nsites" in fields else None
        if nsites is None and counts_total is not None:
            nsites = int(round(counts_total))
        self.motifs.append(Motif(motif_id, ppm, name=name, nsites=nsites))
        self.has_matrix = True

    def _collect_rows(self, width: int | None, header_line: int) -> tuple[list, list[int]]:
        rows: list[list[float]] = []
        linenos: list[int] = []
        while self.i < len(self.lines) and (width is None or len(rows) < width):
            tokens = self.lines[self.i].split()
            if not tokens:
                if width is None and rows:
                    break
                self.i += 1
                continue
            if not _is_number(tokens[0]):
                break
            rows.append(_parse_row(tokens, self.path, self.i + 1))
            linenos.append(self.i + 1)
            self.i += 1
        if width is not None and len(rows) != width:
            raise FormatError(
                self.path,
                f"motif {self.current[0]}: w= {width} but {len(rows)} matrix rows follow",
                line=header_line,
            )
        if not rows:
            raise FormatError(
                self.path, f"motif {self.current[0]}: matrix has no rows", line=header_line
            )
        return rows, linenos


def _check_unique_id(seen: dict[str, int], motif_id: str, path: object, lineno: int) -> None:
    """Record ``motif_id`` (first seen at ``lineno``); a FormatError if it was seen before.

    Motif IDs become Tomtom query/target IDs and simulated label names, so they must be unique.
    """
    if motif_id in seen:
        raise FormatError(
            path, f"duplicate motif ID {motif_id!r} (first at line {seen[motif_id]}); expected "
            "unique IDs: rename or remove one of them", line=lineno)
    seen[motif_id] = lineno


def read_meme(path: str | os.PathLike) -> list[Motif]:
    """Read every motif of a MEME (minimal) motif file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of Motif
        In file order; each ``ppm`` is ``(4, w)`` (the transpose of the file's rows).

    Raises
    ------
    FormatError
        Naming the file and line: wrong alphabet, a row without 4 numbers, a negative value,
        ``w=`` disagreeing with the rows, probabilities not summing to 1, no motifs, a motif
        ID used twice (the line of the second occurrence).
    """
    return _MemeParser(path, _read_lines(path)).parse()


def _format_background(background: Sequence[float]) -> str:
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or np.any(bg < 0) or abs(bg.sum() - 1.0) > 1e-6:
        raise ValueError(f"background must be 4 probabilities summing to 1, got {background}")
    return " ".join(f"{letter} {value:.6f}" for letter, value in zip(ALPHABET, bg))


def _check_token(text: str, what: str) -> str:
    if not text or any(ch.isspace() for ch in text):
        raise ValueError(f"{what} {text!r} must be a non-empty string without whitespace")
    return text


def _meme_motif_block(motif: Motif) -> str:
    motif_id = _check_token(motif.id, "motif id")
    name = "_".join(motif.name.split())
    nsites = motif.nsites if motif.nsites is not None else _DEFAULT_NSITES
    lines = [
        f"MOTIF {motif_id}" + (f" {name}" if name else ""),
        f"letter-probability matrix: alength= 4 w= {motif.width} nsites= {nsites} E= 0",
    ]
    lines += [" ".join(f"{v:.6f}" for v in column) for column in motif.ppm.T]
    return "\n".join(lines) + "\n"


def write_meme(
    motifs: Iterable[Motif],
    path: str | os.PathLike,
    background: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
) -> None:
    """Write motifs as a MEME version 4 minimal motif file (atomically).

    Values are written with 6 decimals (round trip within 5e-7 per entry); names have their
    whitespace replaced by ``_`` (MEME reads one alternate-name token); a motif with
    ``nsites=None`` is written with ``nsites= 20``.

    Parameters
    ----------
    motifs : iterable of Motif
    path : path-like
    background : 4 floats
        A, C, G, T background frequencies.
    """
    motifs = list(motifs)
    header = (
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
        f"Background letter frequencies\n{_format_background(background)}\n"
    )
    blocks = [_meme_motif_block(m) for m in motifs]
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(header)
        for block in blocks:
            handle.write("\n" + block)


# --------------------------------------------------------------------------------------------
# JASPAR PFM format
# --------------------------------------------------------------------------------------------
_JASPAR_ROW = re.compile(r"^\s*([ACGTacgt])?\s*\[?\s*(.*?)\s*\]?\s*$")


def _parse_jaspar_row(line: str, path: object, lineno: int) -> tuple[str | None, list[float]]:
    """One count row: optional letter, optional brackets, non-negative numbers."""
    match = _JASPAR_ROW.match(line)
    letter = match.group(1).upper() if match and match.group(1) else None
    body = match.group(2) if match else line
    tokens = body.replace("[", " ").replace("]", " ").split()
    if not tokens:
        raise FormatError(path, "count row has no values", line=lineno)
    values = []
    for tok in tokens:
        try:
            val = float(tok)
        except ValueError:
            raise FormatError(
                path, f"count {tok!r} is not a number (expected e.g. 'A [ 0 3 79 ]')",
                line=lineno,
            ) from None
        if not np.isfinite(val) or val < 0:
            raise FormatError(path, f"count {tok!r} must be a finite number >= 0", line=lineno)
        values.append(val)
    return letter, values


def _jaspar_counts_to_motif(
    header: tuple[str, str, int], rows: list[tuple[str | None, list[float], int]], path: object
) -> Motif:
    """Four parsed rows -> Motif with PPM = counts / column sum (no pseudocount)."""
    motif_id, name, header_line = header
    if len(rows) != 4:
        raise FormatError(
            path, f"motif {motif_id} has {len(rows)} count rows, expected 4 (A, C, G, T)",
            line=header_line,
        )
    letters = [r[0] for r in rows]
    if all(letter is None for letter in letters):
        order = list(range(4))
    elif sorted(letters, key=str) == sorted(ALPHABET):
        order = [letters.index(b) for b in ALPHABET]
    else:
        raise FormatError(
            path, f"motif {motif_id}: row letters {letters}, expected A, C, G, T once each",
            line=rows[0][2],
        )
    widths = {len(r[1]) for r in rows}
    if len(widths) != 1:
        raise FormatError(
            path,
            f"motif {motif_id}: count rows have different lengths {[len(r[1]) for r in rows]}",
            line=rows[0][2],
        )
    counts = np.array([rows[k][1] for k in order], dtype=np.float64)
    totals = counts.sum(axis=0)
    if np.any(totals <= 0):
        col = int(np.flatnonzero(totals <= 0)[0])
        raise FormatError(path, f"motif {motif_id}: column {col + 1} has no counts",
                          line=rows[0][2])
    nsites = int(round(totals.max())) if totals.max() > 1.0 + SUM_TOLERANCE else None
    return Motif(motif_id, counts / totals, name=name, nsites=nsites)


def read_jaspar(path: str | os.PathLike) -> list[Motif]:
    """Read a JASPAR PFM file (one or several motifs).

    Each motif is a header line ``>ID NAME`` followed by 4 count rows, either
    ``A [ 0 3 79 ... ]`` (letters in any order, brackets optional) or bare numbers in the order
    A, C, G, T. PPM = counts / column sum (no pseudocount); ``nsites`` = the largest column sum
    (None if the file holds probabilities).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of Motif, in file order.

    Raises
    ------
    FormatError
        Naming the file and line: rows before a header, not 4 rows, unequal row lengths,
        non-numeric or negative counts, an all-zero column, no motifs, a motif ID used twice
        (the line of the second occurrence).
    """
    motifs: list[Motif] = []
    seen: dict[str, int] = {}
    header: tuple[str, str, int] | None = None
    rows: list[tuple[str | None, list[float], int]] = []
    for lineno, raw in enumerate(_read_lines(path), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(">"):
            if header is not None:
                motifs.append(_jaspar_counts_to_motif(header, rows, path))
            parts = line[1:].split(None, 1)
            if not parts:
                raise FormatError(path, "header '>' without a motif ID", line=lineno)
            _check_unique_id(seen, parts[0], path, lineno)
            header = (parts[0], parts[1].strip() if len(parts) > 1 else "", lineno)
            rows = []
            continue
        if header is None:
            raise FormatError(path, "count row before any '>ID NAME' header", line=lineno)
        letter, values = _parse_jaspar_row(line, path, lineno)
        rows.append((letter, values, lineno))
    if header is not None:
        motifs.append(_jaspar_counts_to_motif(header, rows, path))
    if not motifs:
        raise FormatError(path, "no motifs found (expected '>ID NAME' headers, JASPAR format)")
    return motifs


def _format_count(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def write_jaspar(motifs: Iterable[Motif], path: str | os.PathLike) -> None:
    """Write motifs in JASPAR PFM format (atomically).

    Counts are ``ppm * nsites`` when ``nsites`` is known, else the probabilities themselves,
    with up to 6 decimals; reading the file back gives the same PPMs (to ~1e-6).

    Parameters
    ----------
    motifs : iterable of Motif
    path : path-like
    """
    blocks = []
    for motif in motifs:
        _check_token(motif.id, "motif id")
        scale = float(motif.nsites) if motif.nsites else 1.0
        cells = [[_format_count(v) for v in row] for row in motif.ppm * scale]
        pad = max(len(c) for row in cells for c in row)
        lines = [f">{motif.id}" + (f"\t{motif.name}" if motif.name else "")]
        lines += [f"{b}  [ " + " ".join(c.rjust(pad) for c in row) + " ]"
                  for b, row in zip(ALPHABET, cells)]
        blocks.append("\n".join(lines) + "\n")
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(blocks))
