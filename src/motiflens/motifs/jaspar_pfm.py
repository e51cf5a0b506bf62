"""Reading and writing JASPAR PFM (count matrix) files."""

from __future__ import annotations

import os
import re
from typing import Iterable

import numpy as np

from motiflens._io import atomic_open
from motiflens.errors import FormatError

from ._textio import SUM_TOLERANCE, _check_token, _check_unique_id, _read_lines
from .ppm import ALPHABET, Motif

__all__ = ["read_jaspar", "write_jaspar", "write_jaspar_counts"]


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


def _jaspar_block(motif_id: str, name: str, cells: list[list[str]]) -> str:
    """One motif in JASPAR PFM layout: ``>ID<TAB>NAME`` and four ``X  [ ... ]`` rows."""
    _check_token(motif_id, "motif id")
    pad = max(len(c) for row in cells for c in row)
    lines = [f">{motif_id}" + (f"\t{name}" if name else "")]
    lines += [f"{b}  [ " + " ".join(c.rjust(pad) for c in row) + " ]"
              for b, row in zip(ALPHABET, cells)]
    return "\n".join(lines) + "\n"


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
        scale = float(motif.nsites) if motif.nsites else 1.0
        cells = [[_format_count(v) for v in row] for row in motif.ppm * scale]
        blocks.append(_jaspar_block(motif.id, motif.name, cells))
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(blocks))


def _exact_count(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``12`` for 12.0)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def write_jaspar_counts(entries: Iterable[tuple[str, str, np.ndarray]],
                        path: str | os.PathLike) -> None:
    """Write raw count matrices in JASPAR PFM format, every count exactly (atomically).

    :func:`read_jaspar` of the file gives PPM = counts / column sum bit for bit as computed
    from ``counts`` (unlike :func:`write_jaspar`, which goes through the rounded PPM).

    Parameters
    ----------
    entries : iterable of (id, name, counts)
        ``counts``: ``(4, w)`` non-negative, rows A, C, G, T.
    path : path-like
    """
    blocks = []
    for motif_id, name, counts in entries:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 2 or counts.shape[0] != 4:
            raise ValueError(f"motif {motif_id}: counts must be (4, w), got {counts.shape}")
        blocks.append(_jaspar_block(motif_id, name,
                                    [[_exact_count(v) for v in row] for row in counts]))
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(blocks))
