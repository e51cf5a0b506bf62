"""Silencing mechanics of filter importance: the forward hook that replaces filter maps with a
constant, the batched forward passes (enlarged activation or repeated input) and the AU-ROC /
BCE of the stacked silenced logits (see :mod:`motiflens.interpret.importance`)."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from motiflens.errors import ConfigError
from motiflens.interpret.batching import as_tensor, check_one_hot, model_device
from motiflens.interpret.tracing import LayerSelection


class _Hook:
    """Forward hook on the ``call``-th call (per forward) of the activation module.

    Without ``masks`` it only sums each channel (baseline pass). With ``masks`` (K, F) bool,
    the channels of variant ``k`` are set to ``fill`` (F,): with ``expand`` the (B, F, L)
    output becomes K silenced copies (K * B, F, L); otherwise the output already has K * B rows
    (repeated input) and each block of B rows is silenced.
    """

    def __init__(self, sel: LayerSelection) -> None:
        self.module, self.call = sel.activation, sel.activation_call
        self.count, self.positions = 0, 0
        self.masks: torch.Tensor | None = None
        self.fill = torch.zeros(0)
        self.expand = True
        self.sums: torch.Tensor | None = None

    def __call__(self, module: nn.Module, inputs: Any, output: Any) -> Any:
        n, self.count = self.count, self.count + 1
        if n != self.call:
            return None
        if not isinstance(output, torch.Tensor) or output.dim() != 3:
            raise ConfigError(f"activation output: expected a (N, filters, length) tensor, got "
                              f"{getattr(output, 'shape', type(output).__name__)}")
        if self.masks is None:
            part = output.detach().to(torch.float64).sum(dim=(0, 2)).cpu()
            self.sums = part if self.sums is None else self.sums + part
            self.positions += output.shape[0] * output.shape[2]
            return None
        k, shape = self.masks.shape[0], output.shape
        copies = (output.repeat(k, 1, 1) if self.expand else output.clone()).view(k, -1, *shape[1:])
        variant, channel = self.masks.to(output.device).nonzero(as_tuple=True)
        fill = self.fill.to(output.device, output.dtype)
        copies[variant, :, channel, :] = fill[channel][:, None, None]
        return copies.view(-1, *shape[1:])


class _Runner:
    """Batched forward passes of ``model`` on ``X`` with the hook attached."""

    def __init__(self, model: nn.Module, X: Any, sel: LayerSelection, batch_size: int) -> None:
        self.model, self.X, self.batch_size = model, X, batch_size
        self.hook = _Hook(sel)
        self.starts = range(0, int(X.shape[0]), batch_size)
        self.device = model_device(model)
        self.batched: bool | None = None

    def batch(self, start: int) -> torch.Tensor:
        return as_tensor(self.X[start:start + self.batch_size]).to(self.device)

    def run(self, x: torch.Tensor, masks: torch.Tensor | None, expand: bool) -> torch.Tensor:
        """Logits (K * B, C) of the K variants in ``masks`` (K = 1 without) on ``x`` (B, C, L)."""
        k = 1 if masks is None else masks.shape[0]
        self.hook.masks, self.hook.expand, self.hook.count = masks, expand, 0
        out = self.model(x if (expand or k == 1) else x.repeat(k, 1, 1))
        if self.hook.count <= self.hook.call:
            raise ConfigError("the selected activation did not run during the forward pass")
        if not isinstance(out, torch.Tensor):
            raise ConfigError(f"model output: expected a logits tensor, got {type(out).__name__}")
        out = out[:, None] if out.dim() == 1 else out
        if out.dim() != 2 or out.shape[0] != k * x.shape[0]:
            raise ConfigError(f"model output: expected logits of shape ({k * x.shape[0]}, "
                              f"classes), got {tuple(out.shape)}")
        return out.detach().to("cpu", torch.float32)

    def baseline(self) -> np.ndarray:
        """Logits (N, C) of the intact model; accumulates the per-filter activation sums. This
        first pass reads every sequence: it refuses any that is not one-hot (later passes read
        the same ones)."""
        logits = []
        for s in self.starts:
            x = self.batch(s)
            check_one_hot(x, s)
            logits.append(self.run(x, None, True))
        return torch.cat(logits).numpy()

    def choose_path(self, x: torch.Tensor, masks: torch.Tensor) -> bool:
        """Whether the enlarged-activation shortcut gives the repeated-input result here."""
        probe = masks[: min(2, masks.shape[0])]
        reference = self.run(x, probe, expand=False)
        try:
            fast = self.run(x, probe, expand=True)
        except Exception:  # noqa: BLE001 - any failure of the shortcut means: repeat the input
            return False
        return bool(torch.allclose(fast, reference, rtol=1e-4, atol=1e-5))

    def silenced(self, block: torch.Tensor, per_pass: int, n_classes: int,
                 bar: Any) -> np.ndarray:
        """Logits (K, N, C) of the K variants of ``block``, ``per_pass`` variants a forward."""
        out = np.empty((block.shape[0], int(self.X.shape[0]), n_classes), dtype=np.float32)
        for s in self.starts:
            x = self.batch(s)
            if self.batched is None:
                self.batched = self.choose_path(x, block)
            for i in range(0, block.shape[0], per_pass):
                sub = block[i:i + per_pass]
                logits = self.run(x, sub, self.batched)
                out[i:i + sub.shape[0], s:s + x.shape[0]] = \
                    logits.reshape(sub.shape[0], x.shape[0], n_classes).numpy()
            if bar is not None:
                bar.update(1)
        return out

    def all_variants(self, masks: torch.Tensor, labels: np.ndarray, max_rows: int,
                     max_stored: int, keep: bool, progress: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """AU-ROC (K, C), loss (K,) and, with ``keep``, logits (K, N, C) of all K variants,
        ``max_stored // (N * C)`` variants per pass over ``X``."""
        n, n_classes = labels.shape
        per_block = masks.shape[0] if keep else max(1, max_stored // (n * n_classes))
        blocks = list(masks.split(per_block))
        aurocs, losses, kept = [], [], []
        with _progress(len(blocks) * len(self.starts), progress) as bar:
            for block in blocks:
                out = self.silenced(block, max(1, max_rows // self.batch_size), n_classes, bar)
                aurocs.append(_auroc(labels, out))
                losses.append(_bce(labels, out))
                kept.extend([out] if keep else [])
        return (np.concatenate(aurocs), np.concatenate(losses),
                np.concatenate(kept) if keep else None)


# --------------------------------------------------------------------------------------------
# Metrics on stacked logits
# --------------------------------------------------------------------------------------------
def _auroc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-class AU-ROC of many score sets at once (Mann-Whitney U, ties averaged).

    Parameters
    ----------
    labels : (N, C) bool
    scores : (K, N, C) float

    Returns
    -------
    (K, C) float64, NaN for classes without both positives and negatives
    """
    ranks = rankdata(scores, axis=1)
    n_pos = labels.sum(axis=0).astype(np.float64)
    n_neg = labels.shape[0] - n_pos
    rank_sum = np.einsum("knc,nc->kc", ranks, labels.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _bce(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Mean BCE-with-logits over the last two axes: (..., N, C) -> (...)."""
    z, y = logits.astype(np.float64), labels.astype(np.float64)
    return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(axis=(-2, -1))


# --------------------------------------------------------------------------------------------
# Variants and progress
# --------------------------------------------------------------------------------------------
def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="silencing filters", unit="batch")


def _variant_masks(n_filters: int, groups: list[tuple[int, ...]]) -> torch.Tensor:
    """(F + G, F) bool: one row per filter, then one per group."""
    extra = torch.zeros(len(groups), n_filters, dtype=torch.bool)
    for g, members in enumerate(groups):
        extra[g, list(members)] = True
    return torch.cat([torch.eye(n_filters, dtype=torch.bool), extra])
