"""Text-file helpers shared by the MEME and JASPAR readers and writers: reading lines, unique
motif IDs, whitespace-free tokens and the probability-sum tolerance."""

from __future__ import annotations

import os

from motiflens.errors import FormatError

SUM_TOLERANCE = 1e-2


def _read_lines(path: str | os.PathLike) -> list[str]:
    """Lines of a text file without line terminators (\\n, \\r\\n or \\r)."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline=None) as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except IsADirectoryError:
        raise FormatError(path, "is a directory, expected a motif file") from None



def _check_unique_id(seen: dict[str, int], motif_id: str, path: object, lineno: int) -> None:
    """Record ``motif_id`` (first seen at ``lineno``); a FormatError if it was seen before.

    Motif IDs become Tomtom query/target IDs and simulated label names, so they must be unique.
    """
    if motif_id in seen:
        raise FormatError(
            path, f"duplicate motif ID {motif_id!r} (first at line {seen[motif_id]}); expected "
            "unique IDs: rename or remove one of them", line=lineno)
    seen[motif_id] = lineno



def _check_token(text: str, what: str) -> str:
    if not text or any(ch.isspace() for ch in text):
        raise ValueError(f"{what} {text!r} must be a non-empty string without whitespace")
    return text
