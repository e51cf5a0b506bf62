"""Prediction and evaluation of a trained model (logits, probabilities, AU-ROC / AU-PR / BCE)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from motiflens.errors import ConfigError
from motiflens.metrics import binary_cross_entropy, classification_metrics
from motiflens.train.batches import in_memory, read_rows
from motiflens.train.config import TrainConfig, resolve_device

__all__ = ["evaluate", "evaluate_test_and_valid", "predict", "predict_logits"]


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def predict_logits(model: nn.Module, X: Any, device: str | torch.device | None = None,
                   batch_size: int = 1000) -> np.ndarray:
    """Logits ``(N, n_outputs)`` float32 for ``X`` ``(N, 4, L)`` (numpy, tensor or h5py dataset).

    The model is run in eval mode (its previous mode is restored) on ``device`` (default: where
    its parameters are).
    """
    device = _model_device(model) if device is None else resolve_device(device)
    was_training = model.training
    model.eval()
    try:
        out = []
        for start in range(0, len(X), batch_size):
            x = read_rows(X, start, min(start + batch_size, len(X))).to(device)
            out.append(model(x).float())
        if not out:
            return np.zeros((0, getattr(getattr(model, "spec", None), "n_outputs", 0)), np.float32)
        return torch.cat(out).cpu().numpy()  # one device -> host copy
    finally:
        model.train(was_training)


def predict(model: nn.Module, X: Any, device: str | torch.device | None = None,
            batch_size: int = 1000) -> np.ndarray:
    """Probabilities ``sigmoid(logits)``, shape ``(N, n_outputs)`` float32, for ``X (N, 4, L)``."""
    logits = predict_logits(model, X, device=device, batch_size=batch_size)
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


def evaluate(model: nn.Module, split: Any, device: str | torch.device | None = None,
             batch_size: int = 1000, label_names: Sequence[str] | None = None,
             aupr_method: str = "average_precision") -> dict[str, Any]:
    """Per-class and mean AU-ROC / AU-PR and the mean BCE of ``model`` on ``split``.

    Parameters
    ----------
    model : nn.Module
        Returns logits ``(N, C)``.
    split : Split
        Has ``X (N, 4, L)`` and ``Y (N, C)`` (arrays or lazy h5py datasets).
    device : optional
        Where to run; default where the model is.
    label_names : list of str, optional
        Keys of the per-class dicts.

    Returns
    -------
    dict
        ``classification_metrics`` output plus ``loss`` (mean BCE). Classes with a single label
        value are NaN, excluded from the means and listed in ``undefined_classes``.
    """
    logits = predict_logits(model, split.X, device=device, batch_size=batch_size)
    y = np.asarray(in_memory(split.Y), dtype=np.float32)
    if y.shape != logits.shape:
        raise ConfigError(f"labels {y.shape} do not match model outputs {logits.shape}")
    result = classification_metrics(y, logits, label_names=label_names, aupr_method=aupr_method)
    result["loss"] = binary_cross_entropy(y, logits)
    return result


def evaluate_test_and_valid(model: nn.Module, dataset: Any, config: TrainConfig,
                            label_names: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(test, valid)`` evaluations of a run's best model, as ``metrics.json`` records them."""
    test = evaluate(model, dataset.test, batch_size=config.eval_batch_size,
                    label_names=label_names, aupr_method=config.aupr_method)
    valid = evaluate(model, dataset.valid, batch_size=config.eval_batch_size,
                     label_names=label_names, aupr_method=config.aupr_method)
    return test, valid
