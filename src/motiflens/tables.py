"""Tables as TSV and Markdown: one list of row dicts, several renderings.

A table is ``rows: list[dict]`` plus ``columns: list[str]`` (the keys, in order) and optional
``headers: dict[key, title]``.

The TSV convention (every motiflens TSV record: filters.tsv, the analyses, the summaries)
-------------------------------------------------------------------------------------------
Written by :func:`format_cell` / :func:`to_tsv` / :func:`write_tsv`:

- one header line of column names, then one line per row; cells separated by one tab, lines
  by a newline; a tab or line break inside a cell becomes a space; no quoting;
- **missing** (``None``, NaN) is an **empty cell**;
- **booleans** are ``true`` / ``false``;
- **floats** are the ``repr`` of the value rounded to 6 significant digits (``0.912346``,
  ``2.54572e-06``, ``30.0``, ``inf``): small p-values keep their digits, every float parses back;
- ints and strings as ``str``.

Read with :func:`read_tsv` (strings; ``#`` lines and blank lines skipped) and the typed cell
parsers, which also accept every spelling written before this convention: missing as ``""``,
``NA``, ``nan``, ``None`` (any case) — :data:`MISSING_SPELLINGS`; booleans as ``true`` /
``false``, ``yes`` / ``no`` or ``1`` / ``0`` (any case) — :func:`parse_bool`,
:func:`parse_float`, :func:`parse_int`, :func:`is_true`.

Formats with a layout of their own are outside it: ``tomtom.tsv`` keeps MEME Tomtom's (numbers as
``%g`` of float32, :mod:`motiflens.interpret.tomtom`). ``history.tsv`` (:mod:`motiflens.train`)
still spells NaN ``nan`` with full-precision floats until it moves to :func:`format_cell`; the
parsers read both.

Markdown (:func:`to_markdown`) is for people and is never read back: :func:`format_value`
rounds floats to ``digits`` decimals, writes booleans ``yes`` / ``no`` and missing values as an
en dash.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from motiflens._io import atomic_open
from motiflens.errors import FormatError

__all__ = [
    "FALSE_SPELLINGS", "FLOAT_DIGITS", "MISSING_SPELLINGS", "TRUE_SPELLINGS", "fmt_mean_sd",
    "format_cell", "format_value", "is_true", "parse_bool", "parse_float", "parse_int", "read_tsv",
    "to_markdown", "to_tsv", "write_markdown", "write_tsv",
]

#: Cell texts read as a missing value (compared lower-case, stripped).
MISSING_SPELLINGS = frozenset({"", "na", "nan", "none", "null"})
#: Cell texts read as True / False (compared lower-case, stripped).
TRUE_SPELLINGS = frozenset({"true", "yes", "1"})
FALSE_SPELLINGS = frozenset({"false", "no", "0"})
#: Significant digits of a float in a TSV cell.
FLOAT_DIGITS = 6


def format_cell(value: Any) -> str:
    """One TSV cell by the convention above: missing empty, ``true``/``false``, floats to 6
    significant digits, tabs and line breaks as spaces.

    Parameters
    ----------
    value : None, bool, int, float (numpy scalars too), str or any object (``str(value)``)

    Returns
    -------
    str
    """
    if value is None:
        text = ""
    elif isinstance(value, (bool, np.bool_)):
        text = "true" if value else "false"
    elif isinstance(value, (float, np.floating)):
        value = float(value)
        text = "" if math.isnan(value) else repr(float(f"{value:.{FLOAT_DIGITS}g}"))
    else:
        text = str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _is_missing(text: Any) -> bool:
    return text is None or str(text).strip().lower() in MISSING_SPELLINGS


def parse_bool(text: Any, missing: bool | None = None) -> bool | None:
    """A boolean cell: ``true``/``yes``/``1`` or ``false``/``no``/``0`` (any case).

    Parameters
    ----------
    text : str or None
    missing : bool or None
        Returned for a missing cell (:data:`MISSING_SPELLINGS`).

    Raises
    ------
    ValueError
        Any other text.
    """
    if _is_missing(text):
        return missing
    word = str(text).strip().lower()
    if word in TRUE_SPELLINGS:
        return True
    if word in FALSE_SPELLINGS:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def is_true(text: Any) -> bool:
    """Whether a cell spells True (lenient: missing or unreadable text is False)."""
    return text is not None and str(text).strip().lower() in TRUE_SPELLINGS


def parse_float(text: Any) -> float:
    """A float cell; NaN when missing (``""``, ``NA``, ``nan``, ...).

    Raises
    ------
    ValueError
        Text that is not a number.
    """
    return math.nan if _is_missing(text) else float(text)


def parse_int(text: Any) -> int | None:
    """An int cell; None when missing.

    Raises
    ------
    ValueError
        Text that is not an integer.
    """
    return None if _is_missing(text) else int(text)


def format_value(value: Any, digits: int = 3, missing: str = "") -> str:
    """A cell for people (Markdown): floats rounded to ``digits`` decimals, booleans ``yes`` /
    ``no``, None/NaN as ``missing``. TSV cells use :func:`format_cell`."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return missing
        return f"{value:.{digits}f}"
    return str(value)


def fmt_mean_sd(mean: float | None, sd: float | None = None, digits: int = 3,
                missing: str = "", n: int | None = None, of: int | None = None) -> str:
    """``"0.980 ± 0.027"``; ``"0.930"`` without an sd; ``missing`` without a mean; a mean over
    ``n`` of ``of`` trials (``n < of``) ends in ``" (n of of)"``."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return missing
    text = f"{mean:.{digits}f}"
    if text.startswith("-") and float(text) == 0:  # -0.000: a rounding, not a sign
        text = text[1:]
    if sd is not None and not (isinstance(sd, float) and math.isnan(sd)):
        text += f" ± {sd:.{digits}f}"
    if n is not None and of is not None and n < of:
        text += f" ({n} of {of})"
    return text


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def to_tsv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Tab-separated text with a header line, cells by :func:`format_cell`.

    Parameters
    ----------
    rows : sequence of mappings
        One per line; a key absent from a row is a missing cell.
    columns : sequence of str, optional
        The columns, in order (default: every key, in order of first appearance).
    """
    cols = _columns(rows, columns)
    lines = ["\t".join(cols)]
    lines += ["\t".join(format_cell(row.get(c)) for c in cols) for row in rows]
    return "\n".join(lines) + "\n"


def write_tsv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` as TSV (atomically); return the path."""
    path = Path(path)
    with atomic_open(path, "w") as handle:
        handle.write(to_tsv(rows, columns))
    return path


def read_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a TSV file with a header line, as dicts of strings (untyped: parse cells with
    :func:`parse_float`, :func:`parse_bool`, :func:`parse_int`); ``#`` lines and blank lines
    are skipped.

    Raises
    ------
    FormatError
        The file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "file not found")
    with open(path, newline="") as handle:
        lines = [line for line in handle if not line.startswith("#") and line.strip()]
    reader = csv.DictReader(lines, delimiter="\t")
    return [dict(row) for row in reader]


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def to_markdown(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                headers: Mapping[str, str] | None = None, digits: int = 3,
                align_right: Iterable[str] = ()) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    cols = _columns(rows, columns)
    headers = headers or {}
    right = set(align_right)
    head = "| " + " | ".join(_md_cell(str(headers.get(c, c))) for c in cols) + " |"
    rule = "|" + "|".join("---:" if c in right else "---" for c in cols) + "|"
    body = [
        "| " + " | ".join(_md_cell(format_value(row.get(c), digits, missing="–")) for c in cols) + " |"
        for row in rows
    ]
    return "\n".join([head, rule, *body]) + "\n"


def write_markdown(path: str | os.PathLike, sections: Sequence[tuple[str, str]],
                   title: str | None = None) -> Path:
    """Write Markdown made of ``(heading, body)`` sections (atomically); return the path."""
    path = Path(path)
    parts = [f"# {title}\n"] if title else []
    for heading, body in sections:
        parts.append(f"## {heading}\n\n{body}")
    with atomic_open(path, "w") as handle:
        handle.write("\n".join(parts))
    return path
