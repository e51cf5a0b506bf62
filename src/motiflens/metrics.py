"""Classification metrics: per-class and mean AU-ROC / AU-PR, and binary cross-entropy.

A class whose test labels are all 0 or all 1 has no defined AU-ROC or AU-PR: its value is NaN,
it is left out of the means, and it is listed under ``undefined_classes``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from motiflens.errors import ConfigError

__all__ = ["classification_metrics", "binary_cross_entropy", "AUPR_METHODS"]

AUPR_METHODS = ("average_precision", "trapezoid")


def binary_cross_entropy(y_true: np.ndarray, logits: np.ndarray) -> float:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``y_true``, both ``(N, C)``.

    Computed stably from logits: ``max(z, 0) - z*y + log(1 + exp(-|z|))``.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.float64)
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return float(loss.mean()) if loss.size else float("nan")


def _aupr(y: np.ndarray, p: np.ndarray, method: str) -> float:
    if method == "average_precision":
        return float(average_precision_score(y, p))
    precision, recall, _ = precision_recall_curve(y, p)
    return float(auc(recall, precision))


def classification_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    label_names: Sequence[str] | None = None,
    aupr_method: str = "average_precision",
) -> dict[str, Any]:
    """Per-class and mean AU-ROC and AU-PR.

    Parameters
    ----------
    y_true : (N, C) array of {0, 1}
    y_score : (N, C) array
        Scores (probabilities or logits: both rank the same).
    label_names : list of str, optional
        C class names; default ``"0", "1", ...``.
    aupr_method : {"average_precision", "trapezoid"}
        ``average_precision`` is sklearn's step-wise AP (default); ``trapezoid`` integrates the
        precision-recall curve with the trapezoid rule (what the authors' code computed).

    Returns
    -------
    dict
        ``auroc`` / ``aupr``: ``{label: value}`` (NaN for undefined classes), ``mean_auroc``,
        ``mean_aupr`` (over defined classes; NaN if none), ``undefined_classes`` (labels),
        ``undefined_reasons`` (``{label: "all positive" | "all negative"}``), ``n_defined``
        (classes in the means), ``n_undefined``, ``n``, ``positives`` (``{label: count}``).
    """
    if aupr_method not in AUPR_METHODS:
        raise ConfigError(f"aupr_method: unknown {aupr_method!r}; valid: {', '.join(AUPR_METHODS)}")
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim == 1:
        y, s = y[:, None], s[:, None]
    if y.shape != s.shape:
        raise ValueError(f"y_true {y.shape} and y_score {s.shape} must have the same shape")
    n_classes = y.shape[1]
    names = [str(i) for i in range(n_classes)] if label_names is None else [str(n) for n in label_names]
    if len(names) != n_classes:
        raise ValueError(f"{len(names)} label names for {n_classes} classes")
    auroc: dict[str, float] = {}
    aupr: dict[str, float] = {}
    undefined: list[str] = []
    reasons: dict[str, str] = {}
    for j, name in enumerate(names):
        col = y[:, j] > 0.5
        if col.all() or not col.any():
            auroc[name] = aupr[name] = float("nan")
            undefined.append(name)
            reasons[name] = "all positive" if col.all() else "all negative"
            continue
        auroc[name] = float(roc_auc_score(col, s[:, j]))
        aupr[name] = _aupr(col, s[:, j], aupr_method)
    defined = [n for n in names if n not in undefined]
    mean = (lambda d: float(np.mean([d[n] for n in defined])) if defined else math.nan)
    return {
        "auroc": auroc,
        "aupr": aupr,
        "mean_auroc": mean(auroc),
        "mean_aupr": mean(aupr),
        "undefined_classes": undefined,
        "undefined_reasons": reasons,
        "n_defined": len(defined),
        "n_undefined": len(undefined),
        "n": int(y.shape[0]),
        "positives": {n: int((y[:, j] > 0.5).sum()) for j, n in enumerate(names)},
        "aupr_method": aupr_method,
    }
