"""Reading and writing the MEME minimal motif format.

MEME files store the transpose of a PPM (one row per position); the reader and writer convert.

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
from typing import Iterable, Sequence

import numpy as np

from motiflens._io import atomic_open
from motiflens.errors import FormatError

from ._textio import SUM_TOLERANCE, _check_token, _check_unique_id, _read_lines
from .ppm import ALPHABET, Motif

_COUNTS_ROW_SUM = 1.5
_DEFAULT_NSITES = 20
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_KEY_VALUE = re.compile(r"([A-Za-z]+)\s*=\s*(\S+)")

__all__ = ["read_meme", "write_meme"]


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
        if not self.motifs and any(line.startswith("MEME version") for line in self.lines):
            raise FormatError(self.path, "no motifs found: a MEME file of none (as interpret "
                              "writes for a layer whose filters are all dead)")
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
                if width is not None and len(tokens) == 4 and any(map(_is_number, tokens[1:])):
                    _parse_row(tokens, self.path, self.i + 1)  # a row with a bad value: say so
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
