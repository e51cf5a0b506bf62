"""Tomtom tables: MEME 5 ``tomtom.tsv`` writing and reading (docs/TOMTOM.md, "Output").

The writer prints numbers as Tomtom does (C ``%g`` of the float32 value); the reader also
takes MEME 4 ``-text`` / ``tomtom.txt`` output, so real MEME tables can be compared with ours.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from motiflens._io import atomic_open
from motiflens.errors import FormatError
from motiflens.interpret.tomtom_driver import TomtomHit

TSV_COLUMNS = (
    "Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value", "Overlap",
    "Query_consensus", "Target_consensus", "Orientation",
)


def format_value(value: float) -> str:
    """C ``%g`` of a float32 value, as Tomtom prints p-, E- and q-values."""
    return "%g" % float(np.float32(value))


def write_tomtom_tsv(
    hits: Sequence[TomtomHit], path: str | os.PathLike, command: str | None = None
) -> Path:
    """Write hits in MEME 5 ``tomtom.tsv`` layout (atomically).

    Header ``Query_ID  Target_ID  Optimal_offset  p-value  E-value  q-value  Overlap
    Query_consensus  Target_consensus  Orientation``; numbers as ``%g`` of float32 (as Tomtom
    prints them); trailing ``#`` comment lines name the program and, if given, the command.

    Parameters
    ----------
    hits : sequence of TomtomHit
    path : path-like
    command : str, optional
        Recorded in a trailing comment line.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(format_tomtom_tsv(hits, command))
    return path


def format_tomtom_tsv(hits: Sequence[TomtomHit], command: str | None = None) -> str:
    """The text :func:`write_tomtom_tsv` writes (e.g. to print the table on stdout)."""
    lines = ["\t".join(TSV_COLUMNS) + "\n"]
    for h in hits:
        lines.append(
            f"{h.query_id}\t{h.target_id}\t{h.offset}\t{format_value(h.pvalue)}\t"
            f"{format_value(h.evalue)}\t{format_value(h.qvalue)}\t{h.overlap}\t"
            f"{h.query_consensus}\t{h.target_consensus}\t{h.orientation}\n"
        )
    lines.append("\n# Tomtom (Motif Comparison Tool): motiflens in-process reimplementation"
                 " of MEME Tomtom 4.12/5.x\n")
    if command:
        lines.append(f"# {command}\n")
    return "".join(lines)


def read_tomtom_tsv(path: str | os.PathLike) -> list[TomtomHit]:
    """Read a Tomtom table: MEME 5 ``tomtom.tsv``, MEME 4 ``-text`` / ``tomtom.txt`` (header
    ``#Query ID ...``), or ``write_tomtom_tsv`` output; ``.gz`` is accepted.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of TomtomHit, in file order.

    Raises
    ------
    FormatError
        Missing file, no header, a row without 10 fields or with non-numeric values.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"cannot read Tomtom table: {exc}") from None
    header_seen = False
    hits: list[TomtomHit] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        norm = line.lstrip("#").replace(" ", "_").split("\t")
        if not header_seen:
            if norm[:2] == ["Query_ID", "Target_ID"]:
                header_seen = True
                continue
            raise FormatError(
                path, "expected a Tomtom header starting 'Query_ID<TAB>Target_ID'", line=lineno
            )
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 10:
            raise FormatError(path, f"row has {len(parts)} fields, expected 10", line=lineno)
        try:
            hits.append(
                TomtomHit(
                    query_id=parts[0], target_id=parts[1], offset=int(parts[2]),
                    pvalue=float(parts[3]), evalue=float(parts[4]), qvalue=float(parts[5]),
                    overlap=int(parts[6]), query_consensus=parts[7], target_consensus=parts[8],
                    orientation=parts[9],
                )
            )
        except ValueError as exc:
            raise FormatError(path, f"bad number in row: {exc}", line=lineno) from None
    if not header_seen:
        raise FormatError(path, "no Tomtom header line found")
    return hits
