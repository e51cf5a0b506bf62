"""Tables as TSV and Markdown: one list of row dicts, several renderings.

A table is ``rows: list[dict]`` plus ``columns: list[str]`` (the keys, in order) and optional
``headers: dict[key, title]``. Values are rendered by :func:`format_value`: floats to a few
significant digits, None/NaN as empty (TSV) or an en dash (Markdown).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from motiflens._io import atomic_open
from motiflens.errors import FormatError


def format_value(value: Any, digits: int = 3, missing: str = "") -> str:
    """A cell as text: floats rounded to ``digits`` decimals, None/NaN as ``missing``."""
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
                missing: str = "") -> str:
    """``"0.980 ± 0.027"``; ``"0.930"`` without an sd; ``missing`` without a mean."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return missing
    text = f"{mean:.{digits}f}"
    if sd is not None and not (isinstance(sd, float) and math.isnan(sd)):
        text += f" ± {sd:.{digits}f}"
    return text


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _tsv_cell(value: Any) -> str:
    if isinstance(value, float) and not math.isnan(value):
        text = repr(round(value, 6))
    else:
        text = format_value(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def to_tsv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Tab-separated text with a header line; floats keep 6 decimals; tabs/newlines in cells
    become spaces."""
    cols = _columns(rows, columns)
    lines = ["\t".join(cols)]
    lines += ["\t".join(_tsv_cell(row.get(c)) for c in cols) for row in rows]
    return "\n".join(lines) + "\n"


def write_tsv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` as TSV (atomically); return the path."""
    path = Path(path)
    with atomic_open(path, "w") as handle:
        handle.write(to_tsv(rows, columns))
    return path


def read_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a TSV file with a header line, as dicts of strings."""
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
