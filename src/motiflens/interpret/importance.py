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

This module holds the entry point :func:`filter_importance` and its input checks; the hook and
forward passes live in :mod:`motiflens.interpret.silencing`, the result type and its tables in
:mod:`motiflens.interpret.importance_tables` (re-exported here).
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from motiflens.errors import ConfigError
from motiflens.interpret.batching import as_tensor, eval_mode
from motiflens.interpret.importance_tables import FilterImportance, groups_by_tf, importance_table
from motiflens.interpret.silencing import _auroc, _bce, _Runner, _variant_masks
from motiflens.interpret.tracing import LayerRef, resolve_layer, trace_calls

__all__ = [
    "FilterImportance",
    "filter_importance",
    "groups_by_tf",
    "importance_table",
]

SilenceMode = Literal["mean", "zero"]
Groups = Mapping[str, Iterable[int]] | Sequence[Iterable[int]]


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
# Main entry point
# --------------------------------------------------------------------------------------------
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
        Class names (default: ``model.label_names`` when it has them, as a model from
        :func:`motiflens.train.load_run` does; else ``"0", "1", ...``).
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
            if label_names is None:  # a run's model (load_run) knows its classes
                known = getattr(model, "label_names", None)
                label_names = known if known and len(known) == base.shape[1] else None
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
