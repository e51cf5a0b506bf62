"""Score filter motifs against a motif database and ground-truth motif lists (docs/PAPER.md §5).

Per filter (:class:`FilterScore`): the best database hit (lowest E-value, ties broken by the
p-value), the ground-truth hit (among hits with ``E <= evalue_threshold`` whose target ID is in
the ground-truth lists, the one with the smallest q-value, ties by E then p) and its TF, the
total information content of the filter's PPM, and whether the filter is alive.

Per model (:func:`summarize`): the fraction of filters matching any database motif, the fraction
matching a ground-truth motif, per-TF coverage (which TFs at least one filter found) and
redundancy (how many filters found each TF).

Denominators: as in the paper, fractions are over **all** filters of the layer; a dead filter
(:attr:`motiflens.interpret.filters.FilterMotifs.alive` False) counts as matching nothing,
whatever Tomtom reported for its (uniform) placeholder PPM. The summary also gives the
fractions over live filters only (``*_alive`` keys).
"""

from __future__ import annotations

import csv
import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from motiflens._io import write_json
from motiflens.errors import ConfigError, FormatError
from motiflens.motifs import Motif, information_content
from motiflens.tables import parse_bool, parse_float, parse_int, write_tsv

__all__ = [
    "FilterScore",
    "read_filter_table",
    "score_filters",
    "summarize",
    "write_filter_table",
    "write_summary",
]

_NAN = float("nan")

# Names under which the fields of a hit may appear: TomtomHit attributes, tomtom.tsv columns.
_HIT_KEYS: dict[str, tuple[str, ...]] = {
    "query": ("query_id", "Query_ID", "#Query_ID", "Query ID", "#Query ID"),
    "target": ("target_id", "Target_ID", "Target ID"),
    "pvalue": ("pvalue", "p_value", "p-value"),
    "evalue": ("evalue", "e_value", "E-value"),
    "qvalue": ("qvalue", "q_value", "q-value"),
}


@dataclass
class FilterScore:
    """How one filter compares with the database and the ground truth.

    Attributes
    ----------
    filter : int
        Filter index in its layer.
    id : str
        Motif id (``filter_{i}``).
    alive : bool
    n_sites : int or None
        Windows or sites behind the PPM.
    information_content : float
        Total information content of the (untrimmed) PPM in bits; 0 for dead filters.
    best_target, best_target_name : str
        Best database hit (lowest E, then p) and its name; ``""`` if none.
    best_pvalue, best_evalue, best_qvalue : float
        Its statistics; NaN if none.
    matches_database : bool
        Alive and ``best_evalue <= evalue_threshold``.
    ground_truth_tf : str
        TF of the ground-truth hit; ``""`` if none.
    ground_truth_target : str
        Its target ID; ``""`` if none.
    ground_truth_evalue, ground_truth_qvalue : float
        Its statistics; NaN if none.
    matches_ground_truth : bool
    """

    filter: int
    id: str
    alive: bool
    n_sites: int | None
    information_content: float
    best_target: str = ""
    best_target_name: str = ""
    best_pvalue: float = _NAN
    best_evalue: float = _NAN
    best_qvalue: float = _NAN
    matches_database: bool = False
    ground_truth_tf: str = ""
    ground_truth_target: str = ""
    ground_truth_evalue: float = _NAN
    ground_truth_qvalue: float = _NAN
    matches_ground_truth: bool = False

    @property
    def label(self) -> str:
        """Display label: the ground-truth TF, else the best database name (or ID), else ``""``."""
        if self.matches_ground_truth:
            return self.ground_truth_tf
        if self.matches_database:
            return self.best_target_name or self.best_target
        return ""


@dataclass(frozen=True)
class _Hit:
    query: str
    target: str
    pvalue: float
    evalue: float
    qvalue: float


def _field(hit: Any, key: str) -> Any:
    for name in _HIT_KEYS[key]:
        if isinstance(hit, Mapping):
            if name in hit:
                return hit[name]
        elif hasattr(hit, name):
            return getattr(hit, name)
    raise ConfigError(f"hit {hit!r}: no {key} field (expected one of {list(_HIT_KEYS[key])})")


def _as_hit(hit: Any) -> _Hit:
    try:
        return _Hit(str(_field(hit, "query")), str(_field(hit, "target")),
                    float(_field(hit, "pvalue")), float(_field(hit, "evalue")),
                    float(_field(hit, "qvalue")))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"hit {hit!r}: {exc}") from None


def _hit_records(hits: Any) -> list[Any]:
    """Rows of a list of hits, a ``TomtomResult`` or a pandas DataFrame."""
    if hasattr(hits, "hits") and not isinstance(hits, Mapping):
        return list(hits.hits)
    if hasattr(hits, "to_dict") and hasattr(hits, "columns"):
        return hits.to_dict("records")
    return list(hits)


def _target_tf_map(ground_truth_ids: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Target ID -> TF (the first TF listing it)."""
    if not isinstance(ground_truth_ids, Mapping):
        raise ConfigError("ground_truth_ids: expected a mapping TF -> list of motif IDs")
    out: dict[str, str] = {}
    for tf, ids in ground_truth_ids.items():
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise ConfigError(
                f"ground_truth_ids[{tf!r}]: expected a list of motif IDs, got {ids!r}")
        for motif_id in ids:
            out.setdefault(str(motif_id), str(tf))
    return out


def _filters(filter_motifs: Any) -> tuple[list[Motif], np.ndarray, list[int | None]]:
    """Motifs, alive flags and site counts of a FilterMotifs or a plain list of Motif."""
    if hasattr(filter_motifs, "motifs") and hasattr(filter_motifs, "alive"):
        motifs = list(filter_motifs.motifs)
        alive = np.asarray(filter_motifs.alive, dtype=bool)
        sites = [int(n) for n in getattr(filter_motifs, "n_sites", [None] * len(motifs))]
        return motifs, alive, sites
    motifs = list(filter_motifs)
    return motifs, np.ones(len(motifs), dtype=bool), [m.nsites for m in motifs]


def _group_hits(hits: Any, known: set[str]) -> dict[str, list[_Hit]]:
    grouped: dict[str, list[_Hit]] = {}
    for record in _hit_records(hits):
        hit = _as_hit(record)
        if hit.query not in known:
            raise ConfigError(f"hits: query {hit.query!r} is not one of the filters "
                              f"({len(known)} filters, ids like {sorted(known)[:3]})")
        grouped.setdefault(hit.query, []).append(hit)
    return grouped


def _score_one(index: int, motif: Motif, alive: bool, n_sites: int | None, hits: list[_Hit],
               tf_of: Mapping[str, str], names: Mapping[str, str], threshold: float) -> FilterScore:
    ic = float(information_content(motif.ppm).sum()) if alive else 0.0
    score = FilterScore(index, motif.id, bool(alive), n_sites, ic)
    if not alive or not hits:
        return score
    best = min(hits, key=lambda h: (h.evalue, h.pvalue))
    score.best_target, score.best_target_name = best.target, names.get(best.target, "")
    score.best_pvalue, score.best_evalue, score.best_qvalue = best.pvalue, best.evalue, best.qvalue
    score.matches_database = best.evalue <= threshold
    truth = [h for h in hits if h.evalue <= threshold and h.target in tf_of]
    if truth:
        gt = min(truth, key=lambda h: (h.qvalue, h.evalue, h.pvalue))
        score.ground_truth_tf, score.ground_truth_target = tf_of[gt.target], gt.target
        score.ground_truth_evalue, score.ground_truth_qvalue = gt.evalue, gt.qvalue
        score.matches_ground_truth = True
    return score


def score_filters(filter_motifs: Any, hits: Any, ground_truth_ids: Mapping[str, Sequence[str]],
                  evalue_threshold: float = 0.1,
                  target_names: Mapping[str, str] | Iterable[Motif] | None = None
                  ) -> list[FilterScore]:
    """Score every filter of a layer.

    Parameters
    ----------
    filter_motifs : FilterMotifs or list of Motif
        From :func:`motiflens.interpret.filters.filters_to_motifs` (alive flags used), or plain
        motifs (all taken as alive).
    hits : list of TomtomHit, TomtomResult, list of dicts with tomtom.tsv columns, or DataFrame
        Tomtom hits; ``Query_ID`` must be filter motif ids.
    ground_truth_ids : mapping TF -> list of motif IDs
        E.g. ``motiflens.jaspar.ground_truth_ids("paper")``.
    evalue_threshold : float
        A hit is significant when ``E <= evalue_threshold`` (paper: 0.1).
    target_names : mapping ID -> name, or the database motifs, optional
        To name the best database hit.

    Returns
    -------
    list of FilterScore, in filter order

    Raises
    ------
    ConfigError
        Malformed hits or ground-truth lists, or a hit whose query is not a filter.
    """
    if not evalue_threshold >= 0:
        raise ConfigError(f"evalue_threshold: expected a number >= 0, got {evalue_threshold!r}")
    motifs, alive, sites = _filters(filter_motifs)
    tf_of = _target_tf_map(ground_truth_ids)
    names = _names(target_names)
    grouped = _group_hits(hits, {m.id for m in motifs})
    return [_score_one(i, m, alive[i], sites[i], grouped.get(m.id, []), tf_of, names,
                       float(evalue_threshold)) for i, m in enumerate(motifs)]


def _names(target_names: Mapping[str, str] | Iterable[Motif] | None) -> dict[str, str]:
    if target_names is None:
        return {}
    if isinstance(target_names, Mapping):
        return {str(k): str(v) for k, v in target_names.items()}
    return {m.id: m.name for m in target_names}


def _fraction(count: int, total: int) -> float:
    return count / total if total else _NAN


def summarize(scores: Sequence[FilterScore], tfs: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-model summary of filter scores.

    Parameters
    ----------
    scores : list of FilterScore
    tfs : list of str, optional
        The ground-truth TFs, in display order (e.g. ``list(ground_truth_ids)``); coverage is
        over these. Default: the TFs found, in order of first appearance.

    Returns
    -------
    dict with keys ``n_filters``, ``n_alive``, ``n_dead``, ``n_match_database``,
    ``frac_match_database`` (over all filters), ``n_match_ground_truth``,
    ``frac_match_ground_truth``, ``frac_match_database_alive``, ``frac_match_ground_truth_alive``
    (over live filters), ``tfs``, ``coverage`` (TF -> found by any filter), ``n_tfs_covered``,
    ``frac_tfs_covered``, ``redundancy`` (TF -> number of filters), ``mean_redundancy`` (over
    covered TFs), ``other_tfs`` (TFs matched but not in ``tfs``). Fractions are NaN when the
    denominator is 0.
    """
    n = len(scores)
    n_alive = sum(s.alive for s in scores)
    n_db = sum(s.matches_database for s in scores)
    n_gt = sum(s.matches_ground_truth for s in scores)
    found = [s.ground_truth_tf for s in scores if s.matches_ground_truth]
    order = list(tfs) if tfs is not None else list(dict.fromkeys(found))
    redundancy = {tf: found.count(tf) for tf in order}
    coverage = {tf: redundancy[tf] > 0 for tf in order}
    covered = [redundancy[tf] for tf in order if redundancy[tf] > 0]
    return {
        "n_filters": n, "n_alive": n_alive, "n_dead": n - n_alive,
        "n_match_database": n_db, "frac_match_database": _fraction(n_db, n),
        "n_match_ground_truth": n_gt, "frac_match_ground_truth": _fraction(n_gt, n),
        "frac_match_database_alive": _fraction(n_db, n_alive),
        "frac_match_ground_truth_alive": _fraction(n_gt, n_alive),
        "tfs": order, "coverage": coverage, "n_tfs_covered": len(covered),
        "frac_tfs_covered": _fraction(len(covered), len(order)),
        "redundancy": redundancy,
        "mean_redundancy": float(np.mean(covered)) if covered else _NAN,
        "other_tfs": sorted(set(found) - set(order)),
    }


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
_COLUMNS = [f.name for f in dataclasses.fields(FilterScore)]


def write_filter_table(scores: Sequence[FilterScore], path: str | os.PathLike) -> None:
    """Write one TSV row per filter (columns = :class:`FilterScore` fields), atomically.

    Cells follow :mod:`motiflens.tables`: booleans ``true``/``false``, missing values (NaN
    statistics of a filter without a hit, no ``n_sites``) empty, floats to 6 significant digits.
    """
    write_tsv(path, [dataclasses.asdict(score) for score in scores], _COLUMNS)


def _parse(name: str, text: str, types: Mapping[str, Any]) -> Any:
    kind = types[name]
    if kind is bool:
        value = parse_bool(text)
        if value is None:
            raise ValueError(f"expected true or false, got {text!r}")
        return value
    if kind is float:
        return parse_float(text)
    if kind is int:
        return int(text)
    if kind == "int | None":
        return parse_int(text)
    return text


def read_filter_table(path: str | os.PathLike) -> list[FilterScore]:
    """Read a table written by :func:`write_filter_table`.

    Tables written before the :mod:`motiflens.tables` convention read too (missing statistics
    spelled ``NA``; booleans ``yes``/``no``).

    Returns
    -------
    list of FilterScore, in file order.

    Raises
    ------
    FormatError
        Wrong header or an unparsable value (the line and column are named).
    """
    types = {"filter": int, "id": str, "alive": bool, "n_sites": "int | None",
             "information_content": float, "matches_database": bool,
             "matches_ground_truth": bool}
    types.update({c: float for c in _COLUMNS if c.endswith(("value",))})
    types = {c: types.get(c, str) for c in _COLUMNS}
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    if not rows or rows[0] != _COLUMNS:
        raise FormatError(path, f"expected header {_COLUMNS}", line=1)
    scores = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(_COLUMNS):
            raise FormatError(path, f"expected {len(_COLUMNS)} columns, got {len(row)}",
                              line=lineno)
        try:
            values = {c: _parse(c, t, types) for c, t in zip(_COLUMNS, row)}
        except ValueError as exc:
            raise FormatError(path, str(exc), line=lineno) from None
        scores.append(FilterScore(**values))
    return scores


def write_summary(summary: Mapping[str, Any], path: str | os.PathLike,
                  provenance: Mapping[str, Any] | None = None) -> None:
    """Write a :func:`summarize` dict as JSON (NaN -> null), with ``provenance`` if given."""
    record = dict(summary)
    if provenance is not None:
        record["provenance"] = dict(provenance)
    write_json(path, record)
