"""From convolutional filters to motifs (docs/PAPER.md §4, the paper's "Visualizing first layer filters").

Works on any PyTorch ``nn.Module`` that takes ``(N, C, L)`` input, not only motiflens models.
Which module is "layer N", which activation is read for it and the window of each activation
position (the layer's receptive field) are decided by :mod:`motiflens.interpret.tracing` and read
by :mod:`motiflens.interpret.activations` (re-exported here: ``resolve_layer``,
``LayerSelection``, ``trace_calls``, ``is_nonlinearity``, ``layer_activations`` and
``receptive_field``, the old name of ``model_receptive_field``); this module cuts the windows and
builds the PPMs. ``window=`` overrides the receptive field's width; the window stays centred on
it.

Alignment modes
---------------
``paper`` (default, the paper's text): one window per sequence, at the position of that
sequence's maximum activation (first position on ties), kept when that maximum is
``>= threshold`` (default 0.7) times the filter's *maximum possible activation*; windows that run
off the sequence ends are dropped; the PPM is the base frequency of the aligned windows. The
maximum possible activation is computed analytically for a first layer on one-hot input:
``sum_k max_b W[f, b, k] + bias`` (and the minimum likewise), passed through the per-channel
modules between the conv and the activation (batch norm in eval mode, dropout, the activation)
and the larger end taken; it is raised to the observed maximum if that is larger (inputs with
N columns can exceed it). For deeper layers, or a first layer followed by anything else, the
maximum observed over ``X`` is used; ``FilterMotifs.reference_basis`` says which.

``code`` (the authors' code): every (sequence, position) whose activation is
``>= threshold`` (default 0.5) times the filter's maximum observed over ``X`` contributes its
window weighted by the activation; windows off the ends are zero-padded.

In both modes a column is normalised by the weight of real bases in it (zero-padding and N
bases count for nothing), no pseudocount; a column with no real base at all is uniform.
Only positive activations count (an activation must be ``> 0`` as well as above threshold).

Dead filters
------------
A filter whose maximum observed activation is ``<= 0`` (it never fires on ``X``) or that yields
no window is *dead*: ``FilterMotifs.alive[i]`` is False, its ``Motif`` has a uniform PPM and the
name ``"dead"`` and it is left out of :meth:`FilterMotifs.alive_motifs`. Never send dead
filters to Tomtom as if they were motifs.

Memory
------
Activations are never held for the whole set. ``paper`` mode runs the network once, keeping the
per-sequence maximum and its position ``(N, C)``; windows are then cut from ``X``. ``code`` mode
runs the network twice: pass 1 finds each filter's maximum, pass 2 accumulates weighted windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError
from motiflens.interpret.activations import iter_activations, layer_activations
from motiflens.interpret.batching import iter_batches, model_device
from motiflens.interpret.receptive_field import ReceptiveField
from motiflens.interpret.tracing import (
    LayerRef,
    LayerSelection,
    is_nonlinearity,
    model_receptive_field,
    probe,
    resolve_layer,
    trace_calls,
)
from motiflens.motifs import Motif

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FilterMotifs",
    "LayerSelection",
    "filters_to_motifs",
    "is_nonlinearity",
    "layer_activations",
    "receptive_field",
    "resolve_layer",
    "trace_calls",
    "weight_motifs",
]

#: The former name of :func:`motiflens.interpret.tracing.model_receptive_field` (1-based layer,
#: a :class:`ReceptiveField`), kept for callers that import it from here.
receptive_field = model_receptive_field

Mode = Literal["paper", "code"]

#: Default threshold (fraction of the reference activation) per mode.
DEFAULT_THRESHOLDS: dict[str, float] = {"paper": 0.7, "code": 0.5}

#: Per-channel modules that may sit between a first-layer conv and its activation for the
#: analytic maximum possible activation to hold.
_ELEMENTWISE: tuple[type, ...] = (nn.BatchNorm1d, nn.Dropout, nn.Identity)


# --------------------------------------------------------------------------------------------
# Reference activations and windows
# --------------------------------------------------------------------------------------------
def _possible_max(sel: LayerSelection) -> np.ndarray | None:
    """Analytic maximum activation of a first layer on one-hot input, or None."""
    if not sel.first_layer or sel.conv is None:
        return None
    if not all(isinstance(m, _ELEMENTWISE) or is_nonlinearity(m) for m in sel.chain):
        return None
    weight = sel.conv.weight.detach().to("cpu", torch.float64)
    bias = sel.conv.bias
    hi, lo = weight.amax(dim=1).sum(dim=-1), weight.amin(dim=1).sum(dim=-1)
    if bias is not None:
        b = bias.detach().to("cpu", torch.float64)
        hi, lo = hi + b, lo + b
    ends = torch.stack([lo, hi], dim=-1)[None]  # (1, F, 2)
    with torch.no_grad():
        for module in sel.chain:
            ends = module(ends.to(model_device(module), _param_dtype(module)))
            ends = ends.to("cpu", torch.float64)
    return ends[0].amax(dim=-1).numpy()


def _param_dtype(module: nn.Module) -> torch.dtype:
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float64


@dataclass(frozen=True)
class _Windows:
    """Activation position ``j`` -> input window ``[offset + j * jump, ... + width)``."""

    offset: int
    jump: int
    width: int


def _windows(field_: ReceptiveField, window: int | None) -> _Windows:
    if window is None:
        return _Windows(field_.start, field_.jump, field_.size)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ConfigError(f"window: expected a positive integer, got {window!r}")
    return _Windows(field_.start + (field_.size - int(window)) // 2, field_.jump, int(window))


def _add_windows(counts: torch.Tensor, x: torch.Tensor, rows: torch.Tensor, filters: torch.Tensor,
                 starts: torch.Tensor, weights: torch.Tensor | None, width: int,
                 chunk: int = 65536) -> None:
    """``counts[f] += weight * x[row, :, start:start+width]`` for every listed site.

    ``starts`` index into ``x``, which must already hold any zero padding.
    """
    if rows.numel() == 0:
        return
    unfolded = x.unfold(2, width, 1)  # (B, C, L - width + 1, width), a view
    for i in range(0, rows.numel(), chunk):
        part = slice(i, i + chunk)
        win = unfolded[rows[part], :, starts[part]].to(torch.float64)  # (n, C, width)
        if weights is not None:
            win = win * weights[part].to(torch.float64)[:, None, None]
        counts.index_add_(0, filters[part], win)


def _paper_pass(model: nn.Module, X: Any, sel: LayerSelection, batch_size: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sequence max and argmax ``(N, F)`` and per-filter max ``(F,)``."""
    maxima, positions = [], []
    for _, _, act in iter_activations(model, X, sel, batch_size):
        maxima.append(act.amax(dim=2).numpy())
        positions.append(act.argmax(dim=2).numpy())  # the first maximal position on ties
    seq_max = np.concatenate(maxima)
    return seq_max, np.concatenate(positions), seq_max.max(axis=0)


def _paper_counts(X: Any, seq_max: np.ndarray, seq_pos: np.ndarray, thresholds: np.ndarray,
                  win: _Windows, batch_size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Unweighted counts ``(F, C, w)`` of one window per kept sequence, off-end windows dropped."""
    length = int(X.shape[2])
    starts = win.offset + seq_pos.astype(np.int64) * win.jump
    keep = (seq_max >= thresholds[None]) & (seq_max > 0) & (starts >= 0)
    keep &= starts + win.width <= length
    counts = torch.zeros(seq_max.shape[1], int(X.shape[1]), win.width, dtype=torch.float64)
    for start, batch in iter_batches(X, batch_size):
        rows, filters = np.nonzero(keep[start:start + batch.shape[0]])
        site_starts = starts[start + rows, filters]
        _add_windows(counts, batch, torch.from_numpy(rows), torch.from_numpy(filters),
                     torch.from_numpy(site_starts), None, win.width)
    return counts, keep.sum(axis=0)


def _code_max(model: nn.Module, X: Any, sel: LayerSelection, batch_size: int) -> np.ndarray:
    best: torch.Tensor | None = None
    for _, _, act in iter_activations(model, X, sel, batch_size):
        batch_max = act.amax(dim=(0, 2))
        best = batch_max if best is None else torch.maximum(best, batch_max)
    assert best is not None
    return best.numpy()


def _code_counts(model: nn.Module, X: Any, sel: LayerSelection, thresholds: np.ndarray,
                 win: _Windows, batch_size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Activation-weighted counts ``(F, C, w)`` of every site above threshold (zero-padded)."""
    length = int(X.shape[2])
    thr = torch.from_numpy(thresholds.astype(np.float32))[None, :, None]
    counts: torch.Tensor | None = None
    n_sites = np.zeros(thresholds.shape[0], dtype=np.int64)
    for _, batch, act in iter_activations(model, X, sel, batch_size):
        if counts is None:
            counts = torch.zeros(act.shape[1], batch.shape[1], win.width, dtype=torch.float64)
        mask = (act >= thr) & (act > 0)
        n_sites += mask.sum(dim=(0, 2)).numpy()
        rows, filters, pos = mask.nonzero(as_tuple=True)
        pad_left = max(0, -win.offset)
        pad_right = max(0, win.offset + (act.shape[2] - 1) * win.jump + win.width - length)
        padded = F.pad(batch, (pad_left, pad_right))
        starts = win.offset + pos * win.jump + pad_left
        _add_windows(counts, padded, rows, filters, starts, act[rows, filters, pos], win.width)
    assert counts is not None
    return counts, n_sites


def _counts_to_ppms(counts: torch.Tensor) -> np.ndarray:
    """Column-normalise ``(F, C, w)`` counts; columns with no real base become uniform."""
    arr = counts.numpy()
    totals = arr.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ppm = np.where(totals > 0, arr / np.where(totals > 0, totals, 1.0), 1.0 / arr.shape[1])
    return ppm


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class FilterMotifs:
    """Motifs of all filters of one layer.

    Attributes
    ----------
    motifs : list of Motif
        One per filter, ``motifs[i].id == f"filter_{i}"``; a dead filter has a uniform PPM and
        ``name == "dead"``.
    alive : (F,) bool array
    n_sites : (F,) int array
        Windows (``paper``) or sites (``code``) that built each PPM.
    max_activation : (F,) float array
        Maximum activation observed over the sequences.
    reference_activation : (F,) float array
        The value the threshold fraction multiplies (maximum possible or observed).
    threshold_value : (F,) float array
        ``threshold * reference_activation``.
    mode, threshold, window : the settings used (window = window width in input positions).
    reference_basis : {"possible", "observed"}
    receptive_field : ReceptiveField
    layer, activation : dotted names of the conv and of the module read (plus how it was found).
    weight_motifs : list of Motif or None
        PPMs from the filter weights (first layers only, when requested).
    """

    motifs: list[Motif]
    alive: np.ndarray
    n_sites: np.ndarray
    max_activation: np.ndarray
    reference_activation: np.ndarray
    threshold_value: np.ndarray
    mode: str
    threshold: float
    window: int
    reference_basis: str
    receptive_field: ReceptiveField
    layer: str | None
    activation: str
    weight_motifs: list[Motif] | None = None

    def __len__(self) -> int:
        return len(self.motifs)

    @property
    def n_alive(self) -> int:
        """Number of filters that produced a motif."""
        return int(np.sum(self.alive))

    def alive_motifs(self) -> list[Motif]:
        """The motifs of live filters only (send these to Tomtom)."""
        return [m for m, ok in zip(self.motifs, self.alive) if ok]

    def rows(self) -> list[dict[str, Any]]:
        """One summary dict per filter (id, alive, n_sites, activations, consensus)."""
        return [
            {"filter": i, "id": m.id, "alive": bool(self.alive[i]), "n_sites": int(self.n_sites[i]),
             "max_activation": float(self.max_activation[i]),
             "threshold_value": float(self.threshold_value[i]),
             "consensus": m.consensus() if self.alive[i] else ""}
            for i, m in enumerate(self.motifs)
        ]

    def metadata(self) -> dict[str, Any]:
        """Settings and layer description, JSON-ready."""
        rf = self.receptive_field
        return {"mode": self.mode, "threshold": self.threshold, "window": self.window,
                "reference_basis": self.reference_basis, "layer": self.layer,
                "activation": self.activation, "n_filters": len(self), "n_alive": self.n_alive,
                "receptive_field": {"size": rf.size, "jump": rf.jump, "start": rf.start}}


def weight_motifs(conv: nn.Conv1d, scale: float = 1.0) -> list[Motif]:
    """PPMs from first-layer filter weights: column-wise ``softmax(scale * W[f])``.

    Parameters
    ----------
    conv : nn.Conv1d with 4 input channels
    scale : float
        Inverse temperature.

    Returns
    -------
    list of Motif, ids ``filter_{i}``, width = kernel size
    """
    if conv.in_channels != 4 or conv.groups != 1:
        raise ConfigError("weight_motifs: only a first layer on 4-channel DNA input has "
                          f"per-base weights (in_channels={conv.in_channels})")
    weight = conv.weight.detach().to("cpu", torch.float64) * float(scale)
    ppms = torch.softmax(weight, dim=1).numpy()
    return [Motif(f"filter_{i}", ppm, name="weights") for i, ppm in enumerate(ppms)]


def _check_settings(mode: str, threshold: float | None, reference: str) -> float:
    if mode not in DEFAULT_THRESHOLDS:
        raise ConfigError(f"mode: expected one of {list(DEFAULT_THRESHOLDS)}, got {mode!r}")
    if reference not in ("auto", "observed"):
        raise ConfigError(f"reference: expected 'auto' or 'observed', got {reference!r}")
    value = DEFAULT_THRESHOLDS[mode] if threshold is None else threshold
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"threshold: expected a fraction in [0, 1], got {threshold!r}")
    return float(value)


def _build_motifs(ppms: np.ndarray, alive: np.ndarray, n_sites: np.ndarray) -> list[Motif]:
    motifs = []
    for i, (ppm, ok) in enumerate(zip(ppms, alive)):
        if ok:
            motifs.append(Motif(f"filter_{i}", ppm, nsites=int(n_sites[i])))
        else:
            motifs.append(Motif(f"filter_{i}", np.full_like(ppm, 1.0 / ppm.shape[0]),
                                name="dead", nsites=0))
    return motifs


def filters_to_motifs(model: nn.Module, X: Any, layer: LayerRef = 1, mode: Mode = "paper",
                      threshold: float | None = None, window: int | None = None,
                      batch_size: int = 512, activation: str | nn.Module | None = None,
                      reference: Literal["auto", "observed"] = "auto",
                      from_weights: bool = False) -> FilterMotifs:
    """Align the sequences that activate each filter of ``layer`` into PPMs.

    Parameters
    ----------
    model : nn.Module
        Any network taking ``(N, C, L)`` input (a motiflens model or a user's).
    X : (N, 4, L) array-like
        One-hot sequences (numpy, h5py dataset or tensor), usually the test set.
    layer : int, str or nn.Module
        See :func:`resolve_layer`; 1 = the first Conv1d.
    mode : {"paper", "code"}
        Alignment rule (module docstring).
    threshold : float, optional
        Fraction of the reference activation; default 0.7 (paper) or 0.5 (code).
    window : int, optional
        Window width; default the layer's receptive field.
    batch_size : int
    activation : str or nn.Module, optional
        The module to read, overriding the automatic choice.
    reference : {"auto", "observed"}
        ``auto``: in ``paper`` mode use the analytic maximum possible activation where it can be
        computed (first layers), else the maximum observed. ``observed``: always the maximum
        observed (``code`` mode always uses it).
    from_weights : bool
        Also return PPMs from the filter weights (first layers only).

    Returns
    -------
    FilterMotifs
    """
    fraction = _check_settings(mode, threshold, reference)
    sel = resolve_layer(model, layer, activation, trace=probe(model, X))
    win = _windows(sel.receptive_field, window)
    if mode == "paper":
        seq_max, seq_pos, observed = _paper_pass(model, X, sel, batch_size)
    else:
        observed = _code_max(model, X, sel, batch_size)
    possible = _possible_max(sel) if (mode == "paper" and reference == "auto") else None
    ref = observed if possible is None else np.maximum(possible, observed)
    thresholds = fraction * ref
    if mode == "paper":
        counts, n_sites = _paper_counts(X, seq_max, seq_pos, thresholds, win, batch_size)
    else:
        counts, n_sites = _code_counts(model, X, sel, thresholds, win, batch_size)
    alive = (observed > 0) & (n_sites > 0)
    return FilterMotifs(
        motifs=_build_motifs(_counts_to_ppms(counts), alive, n_sites), alive=alive,
        n_sites=n_sites.astype(np.int64), max_activation=observed.astype(np.float64),
        reference_activation=ref.astype(np.float64), threshold_value=thresholds.astype(np.float64),
        mode=mode, threshold=fraction, window=win.width,
        reference_basis="observed" if possible is None else "possible",
        receptive_field=sel.receptive_field, layer=sel.conv_name,
        activation=f"{sel.activation_name} ({sel.source})",
        weight_motifs=weight_motifs(sel.conv) if from_weights and sel.conv is not None else None,
    )
