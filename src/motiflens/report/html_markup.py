"""The HTML building blocks of the report: its CSS, escaping, tables and embedded images."""

from __future__ import annotations

import base64
import html
import math
from typing import Any, Mapping, Sequence

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.paper, th.paper { background: #f7f3e8; }
.holds { color: #17692f; font-weight: bold; }
.fails { color: #a11; font-weight: bold; }
.notrun { color: #777; }
.warning { background: #fff3cd; border: 1px solid #e0c36a; padding: .5em .8em; }
img { max-width: 100%; border: 1px solid #ddd; margin: .4em 0; }
.meta { color: #555; font-size: .9em; }
.model { margin-top: 2.5em; }
details { margin: .5em 0; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
           headers: Mapping[str, str] | None = None, numeric: Sequence[str] = (),
           paper: Sequence[str] = (), css_class: str = "") -> str:
    """An escaped HTML table."""
    headers = headers or {}
    num, pap = set(numeric), set(paper)

    def cls(c: str) -> str:
        names = [n for n, on in (("num", c in num), ("paper", c in pap)) if on]
        return f' class="{" ".join(names)}"' if names else ""

    paper_th = ' class="paper"'
    head = "".join(f"<th{paper_th if c in pap else ''}>{_e(headers.get(c, c))}</th>"
                   for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td{cls(c)}>{_e(_cell(row.get(c)))}</td>" for c in columns) + "</tr>\n"
        for row in rows
    )
    klass = f' class="{_e(css_class)}"' if css_class else ""
    return f"<table{klass}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
