"""Calibrated match rates: how often the pipeline calls a filter a match when nothing was learned.

Two null baselines go through the **identical** pipeline as a trained layer
(:func:`motiflens.interpret.pipeline.interpret_layer` without the files):
``filters_to_motifs`` -> live motifs -> ``trim_motif`` (when ``trim``) -> ``run_tomtom``
(E <= ``evalue_threshold``) -> ``score_filters`` -> match counts.

- ``untrained``: networks of the same architecture at random initialisation, one per seed
  (``build_model(spec, generator=torch.Generator().manual_seed(seed))`` for motiflens specs,
  or ``factory(seed)`` for any other network);
- ``shuffled``: the trained layer's filter PPMs with their columns permuted (one permutation
  per filter, drawn from ``numpy.random.default_rng(seed)``): same base composition and IC
  per column, no motif order. Dead filters stay dead.

Rates follow the match fractions of :func:`motiflens.interpret.scoring.summarize`: the
denominator is **all** filters of the layer (dead ones count as not matching), summed over
seeds; the live-filter counts are given beside (``n_alive``, ``rate_*_alive``). Every null is
run in each alignment mode (``paper`` and ``code``); ``include_trained`` adds the trained
model's own rates (``null="trained"``) for comparison.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from motiflens.errors import ConfigError
from motiflens.interpret.batching import model_device
from motiflens.interpret.filters import FilterMotifs, filters_to_motifs
from motiflens.interpret.tracing import LayerRef
from motiflens.interpret.scoring import score_filters, summarize
from motiflens.interpret.tomtom import TomtomConfig, run_tomtom
from motiflens.models import ModelSpec, build_model
from motiflens.motifs import Motif, trim_motif

__all__ = [
    "MODES",
    "NULLS",
    "NullRate",
    "match_counts",
    "null_match_rates",
    "shuffle_columns",
]

NULLS = ("untrained", "shuffled")
MODES = ("paper", "code")


@dataclass(frozen=True)
class NullRate:
    """Match rates of one null baseline (or of the trained model) in one alignment mode.

    Attributes
    ----------
    null : {"untrained", "shuffled", "trained"}
    mode : {"paper", "code"}
    rate_db : float
        Filters whose best database hit has E <= threshold / all filters (pooled over seeds).
    rate_gt : float
        Filters with a ground-truth hit at E <= threshold / all filters.
    n_filters, n_alive, n_match_db, n_match_gt : int
        Totals over seeds.
    seeds : tuple of int
        Empty for ``trained``.
    per_seed : tuple of dict
        ``seed, n_filters, n_alive, n_match_db, n_match_gt, rate_db, rate_gt`` per seed.
    """

    null: str
    mode: str
    rate_db: float
    rate_gt: float
    n_filters: int
    n_alive: int
    n_match_db: int
    n_match_gt: int
    seeds: tuple[int, ...]
    per_seed: tuple[dict[str, Any], ...] = ()

    @property
    def rate_db_alive(self) -> float:
        """Database match rate over live filters only."""
        return self.n_match_db / self.n_alive if self.n_alive else float("nan")

    @property
    def rate_gt_alive(self) -> float:
        """Ground-truth match rate over live filters only."""
        return self.n_match_gt / self.n_alive if self.n_alive else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (fields plus the ``*_alive`` rates)."""
        out = dataclasses.asdict(self)
        out.update(seeds=list(self.seeds), per_seed=[dict(p) for p in self.per_seed],
                   rate_db_alive=self.rate_db_alive, rate_gt_alive=self.rate_gt_alive)
        return out


def _rate(count: int, total: int) -> float:
    return count / total if total else float("nan")


def match_counts(filter_motifs: FilterMotifs, database: Sequence[Motif],
                 ground_truth_ids: Mapping[str, Sequence[str]], *, trim: bool = True,
                 evalue_threshold: float = 0.1, distance: str = "ed") -> dict[str, int]:
    """Tomtom and scoring of one layer's motifs, as ``interpret_layer`` does them.

    Parameters
    ----------
    filter_motifs : FilterMotifs
        From :func:`motiflens.interpret.filters.filters_to_motifs` (or a shuffled copy).
    database : sequence of Motif
    ground_truth_ids : mapping TF -> motif IDs
    trim : bool
        Trim the live motifs with ``trim_motif`` before Tomtom.
    evalue_threshold : float
    distance : {"ed", "pearson"}

    Returns
    -------
    dict with ``n_filters, n_alive, n_match_db, n_match_gt`` (int)
    """
    alive = filter_motifs.alive_motifs()
    queries = [trim_motif(m) for m in alive] if trim else alive
    config = TomtomConfig(distance=distance, thresh=evalue_threshold)
    hits = run_tomtom(queries, list(database), config).hits if queries else []
    scores = score_filters(filter_motifs, hits, ground_truth_ids,
                           evalue_threshold=evalue_threshold, target_names=database)
    summary = summarize(scores)
    return {"n_filters": int(summary["n_filters"]), "n_alive": int(summary["n_alive"]),
            "n_match_db": int(summary["n_match_database"]),
            "n_match_gt": int(summary["n_match_ground_truth"])}


def shuffle_columns(filter_motifs: FilterMotifs, seed: int) -> FilterMotifs:
    """A copy of ``filter_motifs`` whose live PPMs have their columns permuted.

    Parameters
    ----------
    filter_motifs : FilterMotifs
    seed : int
        Seeds ``numpy.random.default_rng``; filter ``i`` gets the ``i``-th permutation drawn.

    Returns
    -------
    FilterMotifs
        Same ids, alive flags and site counts; ``weight_motifs`` dropped.
    """
    rng = np.random.default_rng(int(seed))
    motifs = []
    for motif, ok in zip(filter_motifs.motifs, filter_motifs.alive):
        perm = rng.permutation(motif.width)
        ppm = motif.ppm[:, perm] if ok else motif.ppm.copy()
        motifs.append(Motif(motif.id, ppm, name=motif.name, nsites=motif.nsites))
    return dataclasses.replace(filter_motifs, motifs=motifs, weight_motifs=None)


def _pool(null: str, mode: str, seeds: Sequence[int], counts: list[dict[str, int]]) -> NullRate:
    total = {k: sum(c[k] for c in counts) for k in ("n_filters", "n_alive", "n_match_db",
                                                     "n_match_gt")}
    per_seed = tuple({"seed": s, **c, "rate_db": _rate(c["n_match_db"], c["n_filters"]),
                      "rate_gt": _rate(c["n_match_gt"], c["n_filters"])}
                     for s, c in zip(seeds, counts))
    return NullRate(null=null, mode=mode,
                    rate_db=_rate(total["n_match_db"], total["n_filters"]),
                    rate_gt=_rate(total["n_match_gt"], total["n_filters"]),
                    seeds=tuple(int(s) for s in seeds), per_seed=per_seed, **total)


def _factory(model: nn.Module | None, spec: ModelSpec | None,
             factory: Callable[[int], nn.Module] | None) -> Callable[[int], nn.Module]:
    if factory is not None:
        if spec is not None:
            raise ConfigError("null_match_rates: give spec= or factory=, not both")
        return factory
    spec = spec if spec is not None else getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        raise ConfigError("null_match_rates: the untrained null needs spec= (a ModelSpec) or "
                          "factory= (seed -> untrained nn.Module) for a non-motiflens model")
    return lambda seed: build_model(spec, generator=torch.Generator().manual_seed(int(seed)))


def _check(nulls: Sequence[str], modes: Sequence[str], seeds: Sequence[int]) -> None:
    for null in nulls:
        if null not in NULLS:
            raise ConfigError(f"nulls: unknown null {null!r}; expected some of {list(NULLS)}")
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"modes: unknown mode {mode!r}; expected some of {list(MODES)}")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                        for s in seeds):
        raise ConfigError(f"seeds: expected a non-empty list of integers, got {list(seeds)!r}")


def null_match_rates(model: nn.Module | None, X: Any, database: Sequence[Motif],
                     ground_truth_ids: Mapping[str, Sequence[str]], *,
                     spec: ModelSpec | None = None,
                     factory: Callable[[int], nn.Module] | None = None,
                     nulls: Sequence[str] = NULLS, modes: Sequence[str] = MODES,
                     seeds: Sequence[int] = (0, 1, 2), layer: LayerRef = 1,
                     threshold: float | None = None, trim: bool = True,
                     evalue_threshold: float = 0.1, distance: str = "ed",
                     batch_size: int = 512, include_trained: bool = True) -> list[NullRate]:
    """False-match rates of "matches the database" / "matches the ground truth" under nulls.

    Parameters
    ----------
    model : nn.Module or None
        The trained network (needed for ``shuffled`` and ``include_trained``; its ``spec`` is
        used for ``untrained`` when it is a motiflens model).
    X : (N, 4, L) array-like
        One-hot sequences the filters are aligned on (the test set).
    database : sequence of Motif
        Tomtom database (e.g. ``motiflens.jaspar.paper_database()``).
    ground_truth_ids : mapping TF -> motif IDs
        E.g. ``motiflens.jaspar.ground_truth_ids("paper")``.
    spec : ModelSpec, optional
        Architecture of the untrained networks (default ``model.spec``).
    factory : callable seed -> nn.Module, optional
        Builds an untrained network of the same architecture (non-motiflens models).
    nulls : subset of ("untrained", "shuffled")
    modes : subset of ("paper", "code")
    seeds : sequence of int
        One untrained network / one shuffle per seed.
    layer : int, str or nn.Module
        The layer interpreted (same reference in every network).
    threshold : float, optional
        Activation threshold fraction (default: the mode's).
    trim, evalue_threshold, distance
        As in :class:`motiflens.interpret.pipeline.InterpretConfig`.
    batch_size : int
    include_trained : bool
        Also return the trained model's rates (``null="trained"``).

    Returns
    -------
    list of NullRate
        For each mode: ``trained`` (if requested), then the nulls in the order given.
    """
    _check(nulls, modes, seeds)
    needs_model = include_trained or "shuffled" in nulls
    if needs_model and model is None:
        raise ConfigError("null_match_rates: the shuffled null and include_trained need the "
                          "trained model")
    make = _factory(model, spec, factory) if "untrained" in nulls else None
    device = model_device(model) if model is not None else torch.device("cpu")

    def counts(fm: FilterMotifs) -> dict[str, int]:
        return match_counts(fm, database, ground_truth_ids, trim=trim,
                            evalue_threshold=evalue_threshold, distance=distance)

    def motifs(net: nn.Module, mode: str) -> FilterMotifs:
        return filters_to_motifs(net, X, layer=layer, mode=mode, threshold=threshold,
                                 batch_size=batch_size)

    untrained = [make(s).to(device) for s in seeds] if make is not None else []
    out: list[NullRate] = []
    for mode in modes:
        trained = motifs(model, mode) if needs_model else None
        if include_trained:
            out.append(_pool("trained", mode, (), [counts(trained)]))
        for null in nulls:
            if null == "untrained":
                runs = [counts(motifs(net, mode)) for net in untrained]
            else:
                runs = [counts(shuffle_columns(trained, s)) for s in seeds]
            out.append(_pool(null, mode, seeds, runs))
    return out
