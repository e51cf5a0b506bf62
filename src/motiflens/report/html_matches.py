"""The report's per-filter Tomtom table: significant matches of a layer's filters, joined with
their importance and completeness from ``motiflens analyze``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from motiflens.tables import is_true, read_tsv

#: Tomtom E-value threshold of a significant match (the paper's ``-evalue -thresh 0.1``).
SIGNIFICANT_E = 0.1


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def significant_matches(layer_dir: Path, threshold: float = SIGNIFICANT_E) -> list[dict[str, Any]]:
    """Per filter with a significant Tomtom match: its best hit, ground-truth hit and other hits.

    Uses the per-filter table ``filters.tsv`` (``motiflens.interpret.scoring``: a dead filter
    matches nothing) and ``tomtom.tsv`` for the other hits with E <= ``threshold``; without
    ``filters.tsv``, the best hit per query of ``tomtom.tsv``. Rows are in filter order.
    """
    hits: dict[str, list[dict[str, str]]] = {}
    tomtom = layer_dir / "tomtom.tsv"
    if tomtom.is_file():
        for row in read_tsv(tomtom):
            if _float(row.get("E-value")) <= threshold:
                hits.setdefault(row.get("Query_ID", ""), []).append(row)
    for ranked in hits.values():
        ranked.sort(key=lambda r: (_float(r.get("E-value")), _float(r.get("p-value"))))

    filters_tsv = layer_dir / "filters.tsv"
    out: list[dict[str, Any]] = []
    if filters_tsv.is_file():
        names: dict[str, str] = {}
        rows = read_tsv(filters_tsv)
        for row in rows:
            if row.get("best_target") and row.get("best_target_name"):
                names[row["best_target"]] = row["best_target_name"]
        for row in rows:
            significant = (is_true(row.get("matches_database"))
                           or is_true(row.get("matches_ground_truth")))
            if not significant:
                continue
            fid = row.get("id", "")
            others = [h.get("Target_ID", "") for h in hits.get(fid, [])
                      if h.get("Target_ID") != row.get("best_target")]
            out.append({
                "filter": row.get("filter", fid),
                "best match": row.get("best_target", ""),
                "name": row.get("best_target_name", ""),
                "E-value": _sig(row.get("best_evalue", "")),
                "q-value": _sig(row.get("best_qvalue", "")),
                "ground truth": (f"{row.get('ground_truth_tf', '')} ({row.get('ground_truth_target', '')}, "
                                 f"q = {_sig(row.get('ground_truth_qvalue', ''))})"
                                 if is_true(row.get("matches_ground_truth")) else ""),
                "IC (bits)": _sig(row.get("information_content", "")),
                "other hits": _other_hits(others, names),
            })
        return out
    for query in sorted(hits, key=_query_order):
        best, *rest = hits[query]
        out.append({
            "filter": query, "best match": best.get("Target_ID", ""), "name": "",
            "E-value": _sig(best.get("E-value", "")), "q-value": _sig(best.get("q-value", "")),
            "ground truth": "", "IC (bits)": "",
            "other hits": _other_hits([r.get("Target_ID", "") for r in rest], {}),
        })
    return out


def _sig(text: Any, digits: int = 3) -> str:
    """A number of a TSV as the report prints it (3 significant digits); other text as is."""
    value = _float(text)
    return f"{value:.{digits}g}" if math.isfinite(value) else str(text or "")


def _query_order(query: str) -> tuple[int, str]:
    digits = "".join(ch for ch in query if ch.isdigit())
    return (int(digits) if digits else 1 << 30, query)


def _other_hits(targets: Sequence[str], names: Mapping[str, str], limit: int = 6) -> str:
    shown = [f"{t} {names[t]}" if names.get(t) else t for t in targets[:limit]]
    more = f" (+{len(targets) - limit} more)" if len(targets) > limit else ""
    return ", ".join(shown) + more


TOMTOM_COLUMNS = ["filter", "best match", "name", "E-value", "q-value", "ground truth",
                  "IC (bits)", "other hits"]


def _join_analysis(rows: list[dict[str, Any]], analysis_dir: Path) -> list[str]:
    """Add the filter's importance (Δ test loss when silenced, the class it hurts most) and
    completeness from ``motiflens analyze`` to the Tomtom rows; the added column names."""
    added: list[str] = []
    importance = analysis_dir / "importance.tsv"
    if importance.is_file():
        by_filter = {str(r["filter"]): r for r in read_tsv(importance)}
        for row in rows:
            found = by_filter.get(str(row["filter"]), {})
            row["Δ loss silenced"] = _sig(found.get("delta_loss", ""))
            row["most hurt class"] = found.get("most_hurt_class", "")
        added += ["Δ loss silenced", "most hurt class"]
    completeness = analysis_dir / "completeness.tsv"
    if completeness.is_file():
        by_query = {r["query_id"]: r for r in read_tsv(completeness)}
        for row in rows:
            found = by_query.get(f"filter_{row['filter']}", {})
            row["completeness"] = _sig(found.get("completeness", ""))
            row["whole"] = found.get("whole", "")
        added += ["completeness", "whole"]
    return added
