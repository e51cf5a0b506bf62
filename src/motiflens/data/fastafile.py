"""Strict FASTA reading: records as integer codes 0..4 (A, C, G, T, N) with file and line.

Characters other than A, C, G, T, N (either case) are a FormatError naming the file and line.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from motiflens.data.genome import sequence_codes
from motiflens.errors import FormatError


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
