"""The result of filter importance and its tables: :class:`FilterImportance` with per-filter and
per-group summary rows, filter groups by ground-truth TF, and the join with ``filters.tsv``."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from motiflens.errors import ConfigError
from motiflens.interpret.scoring import FilterScore, read_filter_table

__all__ = ["FilterImportance", "groups_by_tf", "importance_table"]


@dataclass
class FilterImportance:
    """Importance of every filter of one layer, and of filter groups.

    Attributes
    ----------
    delta_auroc : (F, C) float array
        Per-class test AU-ROC with the filter silenced minus the baseline (NaN for a class whose
        labels are all 0 or all 1).
    delta_loss : (F,) float array
        Mean BCE-with-logits with the filter silenced minus the baseline.
    baseline_auroc, baseline_loss : (C,) float array, float
    fill : (F,) float array
        The constant each filter's map was replaced by (its mean activation, or 0).
    mode : {"mean", "zero"}
    label_names : list of str
        C class names.
    group_names, groups : list of str, list of tuple of int
        Name and filter indices of each group silenced together.
    group_delta_auroc, group_delta_loss : (G, C) and (G,) float arrays
    layer, activation : str
        Dotted names of the conv and of the module whose output was replaced.
    n_sequences : int
    batched : bool
        True when the enlarged-activation shortcut was used, False when the input was repeated.
    baseline_logits : (N, C) float32 array or None
        Only with ``return_logits=True``.
    silenced_logits : (F + G, N, C) float32 array or None
        Filters first, then groups; only with ``return_logits=True``.
    """

    delta_auroc: np.ndarray
    delta_loss: np.ndarray
    baseline_auroc: np.ndarray
    baseline_loss: float
    fill: np.ndarray
    mode: str
    label_names: list[str]
    group_names: list[str]
    groups: list[tuple[int, ...]]
    group_delta_auroc: np.ndarray
    group_delta_loss: np.ndarray
    layer: str | None
    activation: str
    n_sequences: int
    batched: bool
    baseline_logits: np.ndarray | None = field(default=None, repr=False)
    silenced_logits: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_filters(self) -> int:
        """Number of filters F."""
        return int(self.delta_loss.shape[0])

    @property
    def mean_delta_auroc(self) -> np.ndarray:
        """(F,) mean of ``delta_auroc`` over the defined classes."""
        return _nanmean_rows(self.delta_auroc)

    def most_hurt_class(self) -> list[str]:
        """Per filter, the class whose AU-ROC drops most when it is silenced.

        Returns
        -------
        list of F str
            The label with the most negative ``delta_auroc``; ``""`` when no class drops.
        """
        return [_most_hurt(row, self.label_names)[0] for row in self.delta_auroc]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per filter: ``filter, fill, delta_loss, mean_delta_auroc, most_hurt_class,
        most_hurt_delta_auroc`` (``""`` and NaN when silencing the filter lowers no class's
        AU-ROC) and ``delta_auroc[<label>]`` per class."""
        return [{"filter": i, "fill": float(self.fill[i]),
                 **_summary(self.delta_loss[i], self.delta_auroc[i], self.label_names)}
                for i in range(self.n_filters)]

    def group_columns(self) -> list[str]:
        """The columns of :meth:`group_rows`, also when there is no group (no matched TF)."""
        return ["group", "filters", *_summary(np.nan, np.full(len(self.label_names), np.nan),
                                               self.label_names)]

    def group_rows(self) -> list[dict[str, Any]]:
        """One dict per group: ``group`` (name), ``filters`` ("0,3"), then as :meth:`rows`."""
        return [{"group": name, "filters": ",".join(map(str, members)),
                 **_summary(loss, auroc, self.label_names)}
                for name, members, loss, auroc in zip(self.group_names, self.groups,
                                                      self.group_delta_loss,
                                                      self.group_delta_auroc)]


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=-1) if a.shape[-1] else np.full(a.shape[:-1], np.nan)


def _most_hurt(row: np.ndarray, labels: Sequence[str]) -> tuple[str, float]:
    finite = np.where(np.isfinite(row), row, np.inf)
    if finite.size == 0 or not finite.min() < 0:
        return "", float("nan")
    j = int(np.argmin(finite))
    return labels[j], float(row[j])


def _summary(loss: float, auroc: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    hurt, hurt_value = _most_hurt(auroc, labels)
    return {"delta_loss": float(loss), "mean_delta_auroc": float(_nanmean_rows(auroc[None])[0]),
            "most_hurt_class": hurt, "most_hurt_delta_auroc": hurt_value,
            **{f"delta_auroc[{name}]": float(v) for name, v in zip(labels, auroc)}}


# --------------------------------------------------------------------------------------------
# Joining with filters.tsv
# --------------------------------------------------------------------------------------------
def _scores(filters: str | os.PathLike | Sequence[FilterScore]) -> list[FilterScore]:
    if isinstance(filters, (str, os.PathLike)):
        return read_filter_table(filters)
    return list(filters)


def groups_by_tf(filters: str | os.PathLike | Sequence[FilterScore]) -> dict[str, list[int]]:
    """Ground-truth TF -> indices of the filters matched to it (for ``groups=``).

    Parameters
    ----------
    filters : path to a ``filters.tsv``, or list of FilterScore

    Returns
    -------
    dict, TFs in order of first appearance
    """
    out: dict[str, list[int]] = {}
    for score in _scores(filters):
        if score.matches_ground_truth:
            out.setdefault(score.ground_truth_tf, []).append(int(score.filter))
    return out


_JOINED = ("id", "alive", "best_target", "best_target_name", "best_evalue",
           "matches_database", "ground_truth_tf", "ground_truth_target", "matches_ground_truth")


def importance_table(importance: FilterImportance,
                     filters: str | os.PathLike | Sequence[FilterScore] | None = None
                     ) -> list[dict[str, Any]]:
    """Per-filter importance joined to the filter's Tomtom match and ground-truth TF.

    Parameters
    ----------
    importance : FilterImportance
    filters : path to a ``filters.tsv`` (:func:`motiflens.interpret.scoring.write_filter_table`)
        or list of FilterScore, optional

    Returns
    -------
    list of dict, one per filter: ``filter``, the table's ``id, alive, best_target,
    best_target_name, best_evalue, matches_database, ground_truth_tf, ground_truth_target,
    matches_ground_truth`` (when given), then :meth:`FilterImportance.rows` (``delta_loss``,
    ``mean_delta_auroc``, ``most_hurt_class``, ``most_hurt_delta_auroc``, per-class deltas).

    Raises
    ------
    ConfigError
        The table does not list exactly the filters ``0..F-1``.
    """
    rows = importance.rows()
    if filters is None:
        return rows
    by_index = {int(s.filter): s for s in _scores(filters)}
    if sorted(by_index) != list(range(importance.n_filters)):
        raise ConfigError(f"filters table: lists filters {sorted(by_index)[:5]}..., expected "
                          f"0..{importance.n_filters - 1} (same layer as the importance run)")
    return [{"filter": row["filter"], **{k: getattr(by_index[row["filter"]], k) for k in _JOINED},
             **{k: v for k, v in row.items() if k != "filter"}} for row in rows]
