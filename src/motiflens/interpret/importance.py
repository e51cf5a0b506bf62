"""Filter importance by silencing: how much each filter (or group of filters) of a conv layer
matters to the predictions.

A filter is *silenced* by replacing its activation map, the output of the activation module
that :func:`motiflens.interpret.tracing.resolve_layer` picks for the layer (the first
nonlinearity after the conv, before pooling), with a constant: ``mode="mean"`` (default) its
mean activation over all sequences and positions of ``X`` (removes the information, keeps the
average contribution to the layers above), or ``mode="zero"`` (for ReLU "never fires"; also
removes the average contribution, so it shifts the logits even for an uninformative filter).
Importance is **silenced minus baseline**: per-class AU-ROC (``delta_auroc``, negative = the
filter helps that class) and mean BCE-with-logits (``delta_loss``, positive = it helps).

Computation: a forward hook on the activation module (so any ``nn.Module`` works: own
``forward``, dilations, residual connections), eval mode, no gradients. One baseline pass gives
the logits and the means; then, per batch of ``B`` sequences, the hook *returns* a
``(K * B, F, L)`` tensor stacking ``K`` silenced copies of the map, so the layers below run once
on ``B`` rows and those above once on ``K * B`` rows (``K * B <= max_rows``). When a model cannot
take the enlarged batch mid-forward (e.g. a residual connection that skips *over* the silenced
activation adds a ``(B, ...)`` tensor) or the shortcut disagrees with the plain computation on
the first batch, the input is repeated ``K`` times instead (always correct; the layers below
then run ``K`` times). ``FilterImportance.batched`` says which was used. At most ``max_stored``
logits (variants x sequences x classes) are held at once; more variants take more passes.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from motiflens.errors import ConfigError
from motiflens.interpret.batching import as_tensor, eval_mode, model_device
from motiflens.interpret.tracing import LayerRef, LayerSelection, resolve_layer, trace_calls
from motiflens.interpret.scoring import FilterScore, read_filter_table

__all__ = [
    "FilterImportance",
    "filter_importance",
    "groups_by_tf",
    "importance_table",
]

SilenceMode = Literal["mean", "zero"]
Groups = Mapping[str, Iterable[int]] | Sequence[Iterable[int]]


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
        most_hurt_delta_auroc`` and ``delta_auroc[<label>]`` per class."""
        return [{"filter": i, "fill": float(self.fill[i]),
                 **_summary(self.delta_loss[i], self.delta_auroc[i], self.label_names)}
                for i in range(self.n_filters)]

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
# Inputs
# --------------------------------------------------------------------------------------------
def _check_data(X: Any, y: Any) -> tuple[int, np.ndarray]:
    """Validate ``X`` (N, C, L) and ``y`` (N, K) or (N,); return N and y as (N, K) bool."""
    shape = tuple(getattr(X, "shape", ()))
    if len(shape) != 3 or shape[0] == 0:
        raise ConfigError(f"X: expected a non-empty array of shape (N, 4, L), got shape {shape}")
    labels = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    labels = labels[:, None] if labels.ndim == 1 else labels
    if labels.ndim != 2 or labels.shape[0] != shape[0]:
        raise ConfigError(f"y: expected shape ({shape[0]}, classes), got {labels.shape}")
    return int(shape[0]), labels > 0.5


def _check_groups(groups: Groups | None, n_filters: int) -> tuple[list[str], list[tuple[int, ...]]]:
    items = [] if groups is None else list(groups.items()) if isinstance(groups, Mapping) \
        else [(None, g) for g in groups]
    names, members = [], []
    for k, (name, group) in enumerate(items):
        where = f"groups[{name if name is not None else k}]"
        try:
            idx = tuple(sorted({int(i) for i in group}))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected filter indices, got {group!r}") from None
        if not idx or idx[0] < 0 or idx[-1] >= n_filters:
            raise ConfigError(f"{where}: expected a non-empty set of filter indices in "
                              f"0..{n_filters - 1}, got {list(group)}")
        names.append(str(name) if name is not None else "+".join(map(str, idx)))
        members.append(idx)
    return names, members


def _check_sizes(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}: expected a positive integer, got {value!r}")


# --------------------------------------------------------------------------------------------
# Silencing hook and forward passes
# --------------------------------------------------------------------------------------------
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
        """Logits (N, C) of the intact model; accumulates the per-filter activation sums."""
        return torch.cat([self.run(self.batch(s), None, True) for s in self.starts]).numpy()

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
# Main entry point
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


def filter_importance(model: nn.Module, X: Any, y: Any, layer: LayerRef = 1, *,
                      mode: SilenceMode = "mean", groups: Groups | None = None,
                      activation: str | nn.Module | None = None,
                      label_names: Sequence[str] | None = None, batch_size: int = 128,
                      max_rows: int = 8192, max_stored: int = 2 ** 25,
                      return_logits: bool = False, progress: bool = False) -> FilterImportance:
    """Silence each filter (and each group) of ``layer`` and measure the damage.

    Parameters
    ----------
    model : nn.Module
        Any network mapping ``(N, 4, L)`` to logits ``(N, C)``.
    X : (N, 4, L) array-like
        One-hot test sequences (numpy, h5py dataset or tensor).
    y : (N, C) or (N,) array-like
        Binary labels.
    layer : int, str or nn.Module
        See :func:`motiflens.interpret.tracing.resolve_layer` (1 = the first Conv1d).
    mode : {"mean", "zero"}
        Fill value of a silenced map (module docstring).
    groups : mapping name -> filter indices, or list of index collections, optional
        Filter sets silenced together (e.g. :func:`groups_by_tf`).
    activation : str or nn.Module, optional
        The module whose output is replaced, overriding the automatic choice.
    label_names : list of str, optional
        Class names (default ``"0", "1", ...``).
    batch_size, max_rows : int
        Sequences per forward pass; rows (variants x sequences) per silenced forward pass.
    max_stored : int
        Logits (variants x sequences x classes) held at once (``return_logits`` keeps all).
    return_logits : bool
        Keep the baseline and silenced logits in the result.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    FilterImportance
    """
    if mode not in ("mean", "zero"):
        raise ConfigError(f"mode: expected 'mean' or 'zero', got {mode!r}")
    _check_sizes(batch_size=batch_size, max_rows=max_rows, max_stored=max_stored)
    n, labels = _check_data(X, y)
    sel = resolve_layer(model, layer, activation, trace=trace_calls(model, as_tensor(X[0:2])))
    runner = _Runner(model, X, sel, batch_size)
    hook = runner.hook
    handle = sel.activation.register_forward_hook(hook)
    try:
        with torch.no_grad(), eval_mode(model):
            base = runner.baseline()
            names = [str(v) for v in
                     (range(base.shape[1]) if label_names is None else label_names)]
            if len(names) != base.shape[1] or labels.shape[1] != base.shape[1]:
                raise ConfigError(f"y / label_names: {labels.shape[1]} label columns and "
                                  f"{len(names)} names for {base.shape[1]} model outputs")
            assert hook.sums is not None
            n_filters = int(hook.sums.shape[0])
            fill = hook.sums / hook.positions if mode == "mean" else torch.zeros(n_filters)
            hook.fill = fill.to(torch.float32)
            group_names, members = _check_groups(groups, n_filters)
            auroc, loss, logits = runner.all_variants(
                _variant_masks(n_filters, members), labels, max_rows, max_stored,
                return_logits, progress)
    finally:
        handle.remove()
    base_auroc, base_loss = _auroc(labels, base[None])[0], float(_bce(labels, base))
    auroc, loss = auroc - base_auroc, loss - base_loss
    return FilterImportance(
        delta_auroc=auroc[:n_filters], delta_loss=loss[:n_filters], baseline_auroc=base_auroc,
        baseline_loss=base_loss, fill=fill.numpy().astype(np.float64), mode=mode,
        label_names=names, group_names=group_names, groups=members,
        group_delta_auroc=auroc[n_filters:], group_delta_loss=loss[n_filters:],
        layer=sel.conv_name, activation=f"{sel.activation_name} ({sel.source})", n_sequences=n,
        batched=bool(runner.batched), baseline_logits=base if return_logits else None,
        silenced_logits=logits,
    )


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
