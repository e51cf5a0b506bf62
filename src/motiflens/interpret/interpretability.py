"""Interpretability AUROC / AUPR (Koo & Ploenzke 2021) of attribution maps on simulated data.

How well does an attribution map point at the motifs that were planted? Adapted here to the
multi-label synthetic task of Koo & Eddy (2019):

1. A fixed set of up to ``n_sequences`` sequences of one split, drawn without replacement by
   ``numpy.random.default_rng(seed)`` (sorted indices).
2. For every sequence ``i`` and every class ``c`` positive in it (a pair), the attribution
   map of logit ``c`` is reduced to one score per position: gradient methods (saliency,
   grad x input, IG, DeepLIFT, DeepSHAP) take ``sum_b attribution[b, l] * x[b, l]``, the
   signed value at the observed base (saliency and grad x input therefore give equal scores);
   ISM takes the L2 norm over the 4 bases of ``logit(mutant) - logit(x)``.
3. The positive positions are those of class ``c``'s own embedded instances (the
   ``ground_truth/{split}`` group of the dataset: seq, tf, strand, start, width per instance)
   whose PPM column carries more information than a threshold; the PPM is the motif's, read
   backwards for a reverse-strand instance (the information of the reverse complement's
   column ``j`` is that of the forward column ``w - 1 - j``). Every other position, including
   other classes' motifs, is negative.
4. ``sklearn.metrics.roc_auc_score`` and ``average_precision_score`` per pair, averaged over
   pairs. Two label rules: ``ic0.01`` (information > 0.01 bits, the 2021 code) and ``ic0.1``
   (> 0.1 bits, with the motif positions of 0 < information <= 0.1 left out of the pair's
   scoring, the later code).

The PPMs are those the file records (``ground_truth`` attribute ``motifs``, written by
:func:`motiflens.simulate.write_simulated`; ``tf`` indexes that list, which is the label
order). A file without that record must have the 12 classes of
:func:`motiflens.jaspar.ground_truth_motifs` (checked by label name).
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

import h5py
import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import nn

from motiflens import jaspar
from motiflens.data.dataset import SPLITS, load_dataset
from motiflens.errors import ConfigError
from motiflens.interpret.attribution import METHODS, attribute
from motiflens.interpret.batching import eval_mode, model_device
from motiflens.motifs import information_content

__all__ = ["DEFAULT_METHODS", "THRESHOLDS", "interpretability_scores", "motif_information",
           "position_scores", "score_pair"]

DEFAULT_METHODS = ("saliency", "integrated_gradients", "deepshap", "ism")
#: (name suffix, information threshold in bits, leave out 0 < IC <= threshold motif positions)
THRESHOLDS = (("ic0.01", 0.01, False), ("ic0.1", 0.1, True))


def interpretability_scores(model: nn.Module, dataset_path: str | os.PathLike,
                            methods: Sequence[str] = DEFAULT_METHODS, n_sequences: int = 500,
                            seed: int = 0, *, split: str = "test",
                            correct_gradient: bool = False, batch_size: int = 256,
                            options: Mapping[str, Mapping[str, Any]] | None = None,
                            progress: bool = False) -> dict[str, dict[str, float]]:
    """Interpretability AUROC / AUPR of each attribution method (see the module docstring).

    Parameters
    ----------
    model : nn.Module
        ``(N, 4, L) -> (N, C)`` logits, C = the dataset's classes.
    dataset_path : path-like
        A motiflens dataset with ground truth (``motiflens simulate``).
    methods : sequence of str
        Names from :data:`motiflens.interpret.attribution.METHODS`.
    n_sequences : int
        Most sequences scored (fewer when the split is smaller).
    seed : int
        Seed of the sequence draw and of drawn references (DeepSHAP).
    split : {"train", "valid", "test"}
    correct_gradient : bool
        Gradient correction for the gradient methods (ignored by ISM).
    batch_size : int
        Most rows per forward pass.
    options : mapping, optional
        Extra keyword arguments of :func:`attribute` per method, e.g.
        ``{"deepshap": {"n_references": 10}}``.
    progress : bool
        tqdm progress bars.

    Returns
    -------
    dict
        ``{method: {"auroc_ic0.01", "aupr_ic0.01", "auroc_ic0.1", "aupr_ic0.1": float,
        "n_pairs": int}}``.

    Raises
    ------
    ConfigError
        Unknown method or split, bad ``n_sequences``, a dataset without ground truth, a model
        whose class count differs from the dataset's.
    """
    _check_arguments(methods, n_sequences, split)
    X, Y, information = _load(dataset_path, split, n_sequences, seed)
    _check_classes(model, X, Y.shape[1])
    options = dict(options or {})
    results = {}
    for method in methods:
        kwargs = dict(options.get(method, {}))
        if method != "ism":
            kwargs.setdefault("correct_gradient", correct_gradient)
        if method in ("integrated_gradients", "deeplift", "deepshap"):
            kwargs.setdefault("seed", seed)
        scores = _method_scores(model, X, Y, method, batch_size, progress, kwargs)
        results[method] = _average(scores, information, Y)
    return results


def position_scores(maps: np.ndarray, X: np.ndarray, method: str) -> np.ndarray:
    """Reduce attribution maps to one score per position.

    Parameters
    ----------
    maps : (N, 4, L) or (N, C, 4, L) float32
    X : (N, 4, L) float32 one-hot
    method : str
        ``"ism"``: L2 norm over the bases; any other: ``sum_b maps * X`` (observed base).

    Returns
    -------
    (N, L) or (N, C, L) float32
    """
    if method == "ism":
        return np.sqrt(np.sum(np.square(maps), axis=-2))
    weights = X if maps.ndim == 3 else X[:, None]
    return np.sum(maps * weights, axis=-2)


def motif_information(truth: Mapping[str, np.ndarray], ppms: Sequence[np.ndarray],
                      rows: np.ndarray, n_classes: int, length: int) -> np.ndarray:
    """Information content of each class's planted motif columns at each position.

    Parameters
    ----------
    truth : mapping
        Arrays seq, tf, strand, start, width (M,) of the embedded instances of a split.
    ppms : sequence of (4, w) arrays
        One PPM per class, indexed by ``tf``.
    rows : (n,) int
        Sorted split indices of the chosen sequences.
    n_classes, length : int

    Returns
    -------
    (n, C, L) float64, bits; 0 where class c has no instance.
    """
    out = np.zeros((rows.size, n_classes, length))
    ic = [information_content(ppm) for ppm in ppms]
    where = np.searchsorted(rows, truth["seq"])
    hit = (where < rows.size) & (rows[np.minimum(where, rows.size - 1)] == truth["seq"])
    for m in np.flatnonzero(hit):
        tf, start, width = int(truth["tf"][m]), int(truth["start"][m]), int(truth["width"][m])
        column = ic[tf] if truth["strand"][m] > 0 else ic[tf][::-1]
        if column.size != width:
            raise ConfigError(f"ground truth: instance {m} has width {width}, but motif {tf} "
                              f"has {column.size} columns")
        out[where[m], tf, start:start + width] = column
    return out


def score_pair(score: np.ndarray, information: np.ndarray, threshold: float,
               leave_out_low: bool) -> tuple[float, float] | None:
    """AUROC and AUPR of one pair's position scores.

    Parameters
    ----------
    score : (L,) position scores
    information : (L,) bits of the class's motif columns (0 off motifs)
    threshold : float
        Positive: information > threshold.
    leave_out_low : bool
        Drop positions with 0 < information <= threshold.

    Returns
    -------
    (auroc, aupr), or None when the labels are all of one kind.
    """
    keep = ~((information > 0) & (information <= threshold)) if leave_out_low \
        else np.ones(information.shape, bool)
    labels = information[keep] > threshold
    if labels.all() or not labels.any():
        return None
    return (float(roc_auc_score(labels, score[keep])),
            float(average_precision_score(labels, score[keep])))


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------

def _method_scores(model: nn.Module, X: np.ndarray, Y: np.ndarray, method: str,
                   batch_size: int, progress: bool, kwargs: dict[str, Any]) -> np.ndarray:
    """(n, C, L) position scores; NaN for classes not positive in a sequence."""
    if method == "ism":
        maps = attribute(model, X, "ism", None, batch_size=batch_size, progress=progress,
                         **kwargs)
        return position_scores(maps, X, "ism")
    scores = np.full((X.shape[0], Y.shape[1], X.shape[2]), np.nan, np.float32)
    for c in range(Y.shape[1]):
        chosen = np.flatnonzero(Y[:, c] == 1)
        if chosen.size:
            maps = attribute(model, X[chosen], method, c, batch_size=batch_size,
                             progress=progress, **kwargs)
            scores[chosen, c] = position_scores(maps, X[chosen], method)
    return scores


def _average(scores: np.ndarray, information: np.ndarray, Y: np.ndarray) -> dict[str, float]:
    """Mean AUROC / AUPR over the (sequence, positive class) pairs scorable at both rules."""
    per_rule: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in THRESHOLDS}
    for i, c in zip(*np.nonzero(Y == 1)):
        pair = [score_pair(scores[i, c], information[i, c], thr, low)
                for _, thr, low in THRESHOLDS]
        if all(p is not None for p in pair):
            for (name, _, _), p in zip(THRESHOLDS, pair):
                per_rule[name].append(p)
    out: dict[str, float] = {}
    for name, values in per_rule.items():
        array = np.asarray(values, dtype=np.float64).reshape(-1, 2)
        out[f"auroc_{name}"] = float(array[:, 0].mean()) if len(array) else float("nan")
        out[f"aupr_{name}"] = float(array[:, 1].mean()) if len(array) else float("nan")
    out["n_pairs"] = len(per_rule[THRESHOLDS[0][0]])
    return out


def _load(path: str | os.PathLike, split: str, n_sequences: int, seed: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n, 4, L), Y (n, C) of the chosen sequences and their (n, C, L) motif information."""
    with load_dataset(path, in_memory=False) as dataset:
        truth = dataset.read_ground_truth(split)
        if truth is None:
            raise ConfigError(f"dataset_path: {path} has no ground truth for split {split!r} "
                              "(group ground_truth/{split}); expected a simulated dataset")
        part = dataset.split(split)
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(part.n, size=min(n_sequences, part.n), replace=False))
        X, Y = part.take(rows)
        label_names = dataset.label_names
    ppms = _motif_ppms(path, label_names)
    return X, Y, motif_information(truth, ppms, rows, Y.shape[1], X.shape[2])


def _motif_ppms(path: str | os.PathLike, label_names: list[str]) -> list[np.ndarray]:
    """(4, w) PPM per class: the file's ``ground_truth`` record, else the paper's 12 motifs."""
    with h5py.File(path, "r") as handle:
        record = handle["ground_truth"].attrs.get("motifs")
    if record is not None:
        motifs = json.loads(record)
        if len(motifs) != len(label_names):
            raise ConfigError(f"dataset_path: {path} records {len(motifs)} motifs for "
                              f"{len(label_names)} classes")
        return [np.asarray(m["ppm"], dtype=np.float64) for m in motifs]
    paper = jaspar.ground_truth_motifs()
    if [m.name for m in paper] != list(label_names):
        raise ConfigError(f"dataset_path: {path} records no motifs and its classes are not "
                          "the 12 ground-truth motifs of motiflens.jaspar")
    return [m.ppm for m in paper]


def _check_arguments(methods: Sequence[str], n_sequences: int, split: str) -> None:
    if isinstance(methods, str) or not methods:
        raise ConfigError(f"methods: expected a non-empty sequence of names, got {methods!r}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"methods: unknown {unknown}; valid: {', '.join(METHODS)}")
    if not isinstance(n_sequences, (int, np.integer)) or isinstance(n_sequences, bool) \
            or n_sequences < 1:
        raise ConfigError(f"n_sequences: expected a positive integer, got {n_sequences!r}")
    if split not in SPLITS:
        raise ConfigError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")


def _check_classes(model: nn.Module, X: np.ndarray, n_classes: int) -> None:
    with eval_mode(model), torch.no_grad():
        found = model(torch.as_tensor(X[:1], device=model_device(model))).shape[-1]
    if found != n_classes:
        raise ConfigError(f"model: expected {n_classes} outputs (the dataset's classes), "
                          f"got {found}")
