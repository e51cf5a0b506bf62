"""Motif completeness: how much of a known motif a matched filter has learned.

For a filter matched by Tomtom to a database motif, the Tomtom alignment (offset, orientation)
says which target column each filter column sits on. Then

- a filter column is *informative* when its information content is ``> ic_threshold`` bits
  (default :data:`IC_THRESHOLD` = 0.5, the threshold ``trim_motif`` uses before Tomtom, so the
  informative columns are exactly those that set the trimmed query's span);
- a target column is *informative* when its IC is ``> target_ic_threshold`` (also 0.5 bits);
- **completeness** = IC of the informative target columns that lie under an informative filter
  column, divided by the IC of all informative target columns. A filter equal to the motif
  (or to its reverse complement) scores 1; one equal to a part of it scores that part's share
  of the motif's informative IC. Weak target columns (<= 0.5 bits: JASPAR's flanks, 0-13 % of
  the IC of the paper's 12 motifs) are left out of both sides, so a perfect copy is not
  penalised for them;
- ``ic_fraction`` is the same ratio over *all* target columns and the whole target IC;
- a filter is **whole** when completeness ``>=`` :data:`WHOLE_THRESHOLD` (0.8: at most a fifth
  of the motif's information missing, i.e. one or two weak end columns), else **partial**.

IC is computed on the raw PPMs (no pseudocount), with :func:`motiflens.motifs.information_content`.

Alignment convention (:class:`motiflens.interpret.tomtom.TomtomHit`): query column ``i`` faces
column ``i + offset`` of the target in the reported orientation; for ``"-"`` that is the
reverse complement of the target, whose column ``j`` is column ``w - 1 - j`` of the target.
``covered_columns`` are given in the target's own (``+``) coordinates.

The query must be the PPM **exactly as Tomtom compared it**: the pipeline trims filters before
Tomtom (``trim_motif``), so pass the trimmed motifs, or the untrimmed ones with ``trim=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from motiflens.errors import ConfigError
from motiflens.interpret.scoring import score_filters
from motiflens.motifs import Motif, information_content, trim_motif

__all__ = [
    "IC_THRESHOLD",
    "WHOLE_THRESHOLD",
    "Completeness",
    "CompletenessSummary",
    "hit_completeness",
    "model_completeness",
    "motif_completeness",
]

#: Bits above which a column (filter or target) is informative.
IC_THRESHOLD = 0.5
#: Completeness at or above which a filter has learned the "whole" motif.
WHOLE_THRESHOLD = 0.8


@dataclass(frozen=True)
class Completeness:
    """Completeness of one filter with respect to one matched motif.

    Attributes
    ----------
    query_id, target_id, target_name : str
    completeness : float
        Covered informative target IC / informative target IC, in [0, 1].
    ic_fraction : float
        Covered target IC / total target IC (all columns), in [0, 1].
    covered_ic, informative_ic, total_ic : float
        Bits: covered informative IC, informative IC and total IC of the target.
    covered_columns : tuple of int
        Target columns (``+`` coordinates) under an informative filter column.
    n_informative : int
        Informative filter columns.
    offset : int
    orientation : {"+", "-"}
    whole : bool
        ``completeness >= whole_threshold``.
    """

    query_id: str
    target_id: str
    target_name: str
    completeness: float
    ic_fraction: float
    covered_ic: float
    informative_ic: float
    total_ic: float
    covered_columns: tuple[int, ...]
    n_informative: int
    offset: int
    orientation: str
    whole: bool

    @property
    def category(self) -> str:
        """``"whole"`` or ``"partial"``."""
        return "whole" if self.whole else "partial"


def _ppm(motif: Motif | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(motif.ppm if isinstance(motif, Motif) else motif, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 4 or arr.shape[1] < 1:
        raise ConfigError(f"{what}: expected a (4, w) PPM, got shape {arr.shape}")
    return arr


def motif_completeness(query: Motif | np.ndarray, target: Motif | np.ndarray, offset: int,
                       orientation: str = "+", *, ic_threshold: float = IC_THRESHOLD,
                       target_ic_threshold: float = IC_THRESHOLD,
                       whole_threshold: float = WHOLE_THRESHOLD) -> Completeness:
    """Completeness of ``query`` (a filter PPM) against ``target`` under a given alignment.

    Parameters
    ----------
    query : Motif or (4, ql) array
        The filter's PPM as compared by Tomtom.
    target : Motif or (4, w) array
        The matched motif.
    offset : int
        Query column ``i`` faces oriented-target column ``i + offset``.
    orientation : {"+", "-"}
        ``"-"``: the alignment is with the reverse complement of ``target``.
    ic_threshold, target_ic_threshold : float
        Bits above which a filter / target column is informative.
    whole_threshold : float
        Completeness from which a filter counts as whole.

    Returns
    -------
    Completeness
    """
    if orientation not in ("+", "-"):
        raise ConfigError(f"orientation: expected '+' or '-', got {orientation!r}")
    q, t = _ppm(query, "query"), _ppm(target, "target")
    w = t.shape[1]
    q_ic, t_ic = information_content(q), information_content(t)
    informative = np.flatnonzero(q_ic > ic_threshold)
    oriented = informative + int(offset)  # columns of the oriented target
    oriented = oriented[(oriented >= 0) & (oriented < w)]
    columns = np.sort(w - 1 - oriented) if orientation == "-" else oriented
    strong = t_ic > target_ic_threshold
    covered = np.zeros(w, dtype=bool)
    covered[columns] = True
    informative_ic = float(t_ic[strong].sum())
    covered_ic = float(t_ic[covered & strong].sum())
    total_ic = float(t_ic.sum())
    value = covered_ic / informative_ic if informative_ic > 0 else 0.0
    return Completeness(
        query_id=getattr(query, "id", "query"), target_id=getattr(target, "id", "target"),
        target_name=getattr(target, "name", ""), completeness=value,
        ic_fraction=float(t_ic[covered].sum()) / total_ic if total_ic > 0 else 0.0,
        covered_ic=covered_ic, informative_ic=informative_ic, total_ic=total_ic,
        covered_columns=tuple(int(c) for c in columns), n_informative=int(informative.size),
        offset=int(offset), orientation=orientation, whole=value >= whole_threshold,
    )


def _hit_field(hit: Any, name: str) -> Any:
    value = hit.get(name) if isinstance(hit, Mapping) else getattr(hit, name, None)
    if value is None:
        raise ConfigError(f"hit: no {name!r} field (pass TomtomHit objects or tomtom.tsv rows)")
    return value


def hit_completeness(query: Motif, target: Motif, hit: Any, **options: Any) -> Completeness:
    """:func:`motif_completeness` with the offset and orientation of a Tomtom hit.

    Parameters
    ----------
    query, target : Motif
        The compared query (trimmed if Tomtom saw it trimmed) and the hit's target.
    hit : TomtomHit (e.g. from ``run_tomtom`` or ``read_tomtom_tsv``), or a mapping with
        ``offset`` and ``orientation`` keys
    **options
        ``ic_threshold``, ``target_ic_threshold``, ``whole_threshold``.

    Raises
    ------
    ConfigError
        The query's width differs from the width Tomtom compared (its consensus length).
    """
    consensus = hit.get("query_consensus") if isinstance(hit, Mapping) else \
        getattr(hit, "query_consensus", None)
    if consensus and len(consensus) != query.width:
        raise ConfigError(f"{query.id}: width {query.width} but Tomtom compared a motif of width "
                          f"{len(consensus)}; pass the motifs as compared (or trim=True)")
    return motif_completeness(query, target, int(_hit_field(hit, "offset")),
                              str(_hit_field(hit, "orientation")), **options)


@dataclass
class CompletenessSummary:
    """Completeness of every matched filter of one model.

    Attributes
    ----------
    items : list of Completeness
        One per matched filter, in query order.
    basis : {"ground_truth", "database"}
        Which hit each filter was measured on.
    n_queries : int
        Filters considered (matched or not).
    whole_threshold : float
    """

    items: list[Completeness]
    basis: str
    n_queries: int
    whole_threshold: float

    @property
    def values(self) -> np.ndarray:
        """(M,) completeness of the matched filters."""
        return np.array([c.completeness for c in self.items], dtype=np.float64)

    def to_dict(self, bins: int = 10) -> dict[str, Any]:
        """Counts, fractions of matched filters, mean / median, a histogram on [0, 1] and the
        mean completeness per target name (or ID)."""
        v = self.values
        n_whole = int(sum(c.whole for c in self.items))
        counts, edges = np.histogram(v, bins=bins, range=(0.0, 1.0))
        per_target: dict[str, list[float]] = {}
        for c in self.items:
            per_target.setdefault(c.target_name or c.target_id, []).append(c.completeness)
        nan = float("nan")
        return {
            "basis": self.basis, "n_queries": self.n_queries, "n_matched": len(self.items),
            "n_whole": n_whole, "n_partial": len(self.items) - n_whole,
            "frac_whole": n_whole / len(self.items) if self.items else nan,
            "mean": float(v.mean()) if v.size else nan,
            "median": float(np.median(v)) if v.size else nan,
            "whole_threshold": self.whole_threshold,
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
            "per_target": {k: float(np.mean(x)) for k, x in per_target.items()},
        }


def _hit_list(hits: Any) -> list[Any]:
    return list(hits.hits) if hasattr(hits, "hits") and not isinstance(hits, Mapping) \
        else list(hits)


def model_completeness(queries: Sequence[Motif], targets: Sequence[Motif], hits: Any,
                       ground_truth_ids: Mapping[str, Sequence[str]] | None = None, *,
                       evalue_threshold: float = 0.1, trim: bool = False,
                       **options: Any) -> CompletenessSummary:
    """Completeness of every matched filter of a model: the per-model distribution.

    Each query is measured on the hit that scoring assigns it
    (:func:`motiflens.interpret.scoring.score_filters`): its ground-truth hit when
    ``ground_truth_ids`` is given, else its best database hit; only hits with
    ``E <= evalue_threshold`` count, unmatched queries are left out of ``items``.

    Parameters
    ----------
    queries : sequence of Motif
        The live filters' motifs as compared by Tomtom (``queries.meme``), or untrimmed with
        ``trim=True`` (then trimmed here with ``trim_motif``'s defaults, as the pipeline does).
    targets : sequence of Motif
        The Tomtom database.
    hits : TomtomResult or list of TomtomHit (``run_tomtom``, ``read_tomtom_tsv``)
    ground_truth_ids : mapping TF -> motif IDs, optional
    evalue_threshold : float
    trim : bool
    **options
        ``ic_threshold``, ``target_ic_threshold``, ``whole_threshold``.

    Returns
    -------
    CompletenessSummary
    """
    compared = [trim_motif(q) for q in queries] if trim else list(queries)
    records = _hit_list(hits)
    by_pair = {(str(_hit_field(h, "query_id")), str(_hit_field(h, "target_id"))): h
               for h in reversed(records)}  # first hit of a pair wins
    by_target = {m.id: m for m in targets}
    scores = score_filters(compared, records, ground_truth_ids or {},
                           evalue_threshold=evalue_threshold)
    items = []
    for query, score in zip(compared, scores):
        if ground_truth_ids is not None:
            target_id = score.ground_truth_target if score.matches_ground_truth else ""
        else:
            target_id = score.best_target if score.matches_database else ""
        if not target_id:
            continue
        if target_id not in by_target:
            raise ConfigError(f"hit {query.id} -> {target_id}: target not in the motifs given")
        items.append(hit_completeness(query, by_target[target_id],
                                      by_pair[(query.id, target_id)], **options))
    return CompletenessSummary(items=items,
                               basis="ground_truth" if ground_truth_ids is not None else "database",
                               n_queries=len(compared),
                               whole_threshold=float(options.get("whole_threshold",
                                                                 WHOLE_THRESHOLD)))
