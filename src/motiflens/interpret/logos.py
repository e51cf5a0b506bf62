"""Sequence logos of conv filters, laid out as the paper's Fig 2 / S1 Fig.

Letter heights are ``p * IC`` with ``IC = log2(4) + sum_b p_b log2 p_b`` (bits, y from 0 to 2),
colours and stacking as logomaker's "classic" scheme (A green, C blue, G orange, T red; the
tallest letter on top).

Two renderers: ``engine="fast"`` (default) draws every letter of an axes as one
``PathCollection`` built from cached glyph outlines, so 128 logos take well under a second;
``engine="logomaker"`` calls ``logomaker.Logo`` (about 3 ms per letter, ~30 s for 128 filters of
width 19). Both give the same geometry.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, no global
state, no display needed) and saved atomically.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextPath

from motiflens._io import atomic_path
from motiflens.errors import ConfigError
from motiflens.motifs import ALPHABET, Motif, information_content

__all__ = ["COLORS", "logo_heights", "plot_filter_logos", "plot_logo", "save_figure"]

#: logomaker's "classic" colours.
COLORS: dict[str, tuple[float, float, float]] = {
    "A": (0.0, 0.5, 0.0), "C": (0.0, 0.0, 1.0), "G": (1.0, 0.65, 0.0), "T": (1.0, 0.0, 0.0),
}
_LETTER_WIDTH = 0.95
_MIN_HEIGHT = 1e-3
_DEAD_COLOR = "0.9"


def logo_heights(ppm: np.ndarray, scale: str = "ic") -> np.ndarray:
    """Letter heights ``(4, w)``: ``p * IC`` bits (``scale="ic"``) or ``p`` (``"probability"``)."""
    ppm = np.asarray(ppm, dtype=np.float64)
    if ppm.ndim != 2 or ppm.shape[0] != 4:
        raise ConfigError(f"logo: expected a (4, w) PPM, got shape {ppm.shape}")
    if scale == "probability":
        return ppm.copy()
    if scale != "ic":
        raise ConfigError(f"logo scale: expected 'ic' or 'probability', got {scale!r}")
    return ppm * information_content(ppm)[None, :]


@lru_cache(maxsize=None)
def _glyph(letter: str) -> tuple[np.ndarray, np.ndarray]:
    """Outline of ``letter`` scaled to the unit square: (vertices (n, 2), codes (n,))."""
    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="sans-serif", weight="bold"))
    verts = np.asarray(path.vertices, dtype=np.float64)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    return (verts - lo) / (hi - lo), np.asarray(path.codes)


def _letter_paths(heights: np.ndarray) -> tuple[list[MplPath], list[tuple[float, float, float]]]:
    """One path per visible letter, stacked per column with the tallest on top."""
    paths, colors = [], []
    for col in range(heights.shape[1]):
        bottom = 0.0
        for row in np.argsort(heights[:, col], kind="stable"):
            h = float(heights[row, col])
            if h < _MIN_HEIGHT:
                continue
            letter = ALPHABET[row]
            verts, codes = _glyph(letter)
            scaled = verts * (_LETTER_WIDTH, h) + (col - _LETTER_WIDTH / 2, bottom)
            paths.append(MplPath(scaled, codes))
            colors.append(COLORS[letter])
            bottom += h
    return paths, colors


def _style_axes(ax: Axes, width: int, ymax: float) -> None:
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(0, ymax)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def plot_logo(ax: Axes, ppm: np.ndarray | Motif, scale: str = "ic", engine: str = "fast",
              ylabel: str | None = None) -> Axes:
    """Draw one logo on ``ax``.

    Parameters
    ----------
    ax : matplotlib Axes
    ppm : (4, w) array or Motif
    scale : {"ic", "probability"}
        ``ic``: heights ``p * IC`` on a 0-2 bit axis; ``probability``: heights ``p`` on 0-1.
    engine : {"fast", "logomaker"}
    ylabel : str, optional

    Returns
    -------
    The axes.
    """
    heights = logo_heights(ppm.ppm if isinstance(ppm, Motif) else ppm, scale)
    ymax = 2.0 if scale == "ic" else 1.0
    if engine == "fast":
        paths, colors = _letter_paths(heights)
        collection = PathCollection(paths, facecolors=colors, edgecolors="none", linewidths=0)
        collection.set_transform(ax.transData)
        ax.add_collection(collection, autolim=False)
    elif engine == "logomaker":
        import logomaker
        import pandas as pd

        frame = pd.DataFrame(heights.T, columns=list(ALPHABET))
        logomaker.Logo(frame, ax=ax, color_scheme="classic", width=_LETTER_WIDTH)
    else:
        raise ConfigError(f"logo engine: expected 'fast' or 'logomaker', got {engine!r}")
    _style_axes(ax, heights.shape[1], ymax)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=7)
    return ax


def _draw_dead(ax: Axes, width: int, title: str) -> None:
    ax.set_facecolor(_DEAD_COLOR)
    _style_axes(ax, width, 2.0)
    ax.text(0.5, 0.5, "dead", transform=ax.transAxes, ha="center", va="center",
            color="0.45", fontsize=8, style="italic")
    ax.set_title(title, fontsize=7, color="0.45", pad=2)


def _unpack(motifs: Any, alive: Sequence[bool] | None) -> tuple[list[Motif], list[bool]]:
    """Motifs and alive flags from a FilterMotifs-like object or a list of Motif."""
    if hasattr(motifs, "motifs") and hasattr(motifs, "alive"):
        flags = list(motifs.alive) if alive is None else list(alive)
        motifs = list(motifs.motifs)
    else:
        motifs = list(motifs)
        flags = [True] * len(motifs) if alive is None else list(alive)
    if len(flags) != len(motifs):
        raise ConfigError(f"alive: {len(flags)} flags for {len(motifs)} motifs")
    return motifs, [bool(f) for f in flags]


def _labels(labels: Sequence[Any] | None, n: int) -> list[str]:
    """Text labels from strings, None, or objects with a ``label`` (FilterScore)."""
    if labels is None:
        return [""] * n
    labels = list(labels)
    if len(labels) != n:
        raise ConfigError(f"labels: {len(labels)} labels for {n} filters")
    return [str(getattr(x, "label", x) or "") for x in labels]


def _title(motif: Motif, index: int, label: str) -> str:
    name = motif.id if motif.id else f"filter_{index}"
    return f"{name}: {label}" if label else name


def save_figure(fig: Figure, path_png: str | os.PathLike | None = None,
                path_pdf: str | os.PathLike | None = None, dpi: int = 150) -> None:
    """Save ``fig`` as PNG and/or PDF, each atomically."""
    for path, fmt in ((path_png, "png"), (path_pdf, "pdf")):
        if path is not None:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")


#: Above this many logo columns in one figure no PDF is written (PNG only): a 128-filter deep
#: layer 143 columns wide is ~70,000 glyph outlines, 13 s to write as vectors against 3 s as PNG.
PDF_MAX_COLUMNS = 3000


def plot_filter_logos(motifs: Any, labels: Sequence[Any] | None = None,
                      reference_motifs: Sequence[Motif] | None = None,
                      path_png: str | os.PathLike | None = None,
                      path_pdf: str | os.PathLike | None = None, ncols: int = 6,
                      alive: Sequence[bool] | None = None, title: str | None = None,
                      engine: str = "fast", panel_size: tuple[float, float] = (2.2, 0.85),
                      dpi: int = 150) -> Figure:
    """A grid of filter logos, with reference motifs and their reverse complements underneath.

    Parameters
    ----------
    motifs : FilterMotifs or list of Motif
        The filters of one layer (all of them, dead ones included).
    labels : list of str or of FilterScore, optional
        One per filter: its significant match (``FilterScore.label`` is the ground-truth TF, else
        the database motif name); shown after the filter id.
    reference_motifs : list of Motif, optional
        E.g. the ground-truth motifs; each is drawn forward and reverse complement side by side.
    path_png, path_pdf : path-like, optional
        Where to save (atomically); nothing is saved when both are None. No PDF is written for
        figures of more than :data:`PDF_MAX_COLUMNS` logo columns (deep layers; PNG only).
    ncols : int
        Filter logos per row (reference pairs use ``max(1, ncols // 2)`` per row).
    alive : list of bool, optional
        Overrides the flags of ``motifs``; dead filters are drawn as grey "dead" panels.
    title : str, optional
    engine : {"fast", "logomaker"}
    panel_size : (width, height) in inches of one logo panel
    dpi : int
        PNG resolution.

    Returns
    -------
    matplotlib Figure with one axes per filter plus two per reference motif.
    """
    motifs, flags = _unpack(motifs, alive)
    texts = _labels(labels, len(motifs))
    refs = list(reference_motifs or [])
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ConfigError(f"ncols: expected a positive integer, got {ncols!r}")
    if not motifs and not refs:
        raise ConfigError("plot_filter_logos: no motifs to draw")
    fig, grid, rows_f = _figure(len(motifs), len(refs), ncols, panel_size)
    for i, (motif, ok, text) in enumerate(zip(motifs, flags, texts)):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        if ok:
            plot_logo(ax, motif.ppm, engine=engine)
            ax.set_title(_title(motif, i, text), fontsize=7, pad=2,
                         fontweight="bold" if text else "normal")
        else:
            _draw_dead(ax, motif.width, _title(motif, i, "dead"))
    if refs:
        _draw_references(fig, grid, refs, rows_f, ncols, engine)
    if title:
        fig.suptitle(title, fontsize=10)
    if path_pdf is not None and sum(m.width for m, ok in zip(motifs, flags) if ok) > PDF_MAX_COLUMNS:
        Path(path_pdf).unlink(missing_ok=True)  # never leave a stale PDF of an earlier run
        path_pdf = None
    save_figure(fig, path_png, path_pdf, dpi=dpi)
    return fig


def _figure(n_filters: int, n_refs: int, ncols: int, panel_size: tuple[float, float]
            ) -> tuple[Figure, Any, int]:
    """Figure and GridSpec: filter rows, a spacer row, reference rows."""
    rows_f = math.ceil(n_filters / ncols)
    rows_r = (2 * n_refs if ncols == 1 else math.ceil(n_refs / (ncols // 2))) if n_refs else 0
    ratios = [1.0] * rows_f + ([0.45] + [1.0] * rows_r if rows_r else [])
    width, height = panel_size
    fig = Figure(figsize=(width * ncols, height * 1.35 * sum(ratios) + 0.3))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(ratios), ncols, height_ratios=ratios, hspace=0.8, wspace=0.15)
    return fig, grid, rows_f


def _ref_cell(k: int, strand: int, ncols: int) -> tuple[int, int]:
    """(row, col) of reference ``k``'s forward (strand 0) or reverse-complement logo."""
    if ncols == 1:
        return 2 * k + strand, 0
    per_row = ncols // 2
    return k // per_row, 2 * (k % per_row) + strand


def _draw_references(fig: Figure, grid: Any, refs: list[Motif], rows_f: int, ncols: int,
                     engine: str) -> None:
    for k, ref in enumerate(refs):
        name = ref.name or ref.id
        for strand, motif in enumerate((ref, ref.reverse_complement())):
            row, col = _ref_cell(k, strand, ncols)
            ax = fig.add_subplot(grid[rows_f + 1 + row, col])
            plot_logo(ax, motif.ppm, engine=engine)
            ax.set_title(f"{name} ({'rc' if strand else ref.id})", fontsize=7, pad=2)
    bbox = grid[rows_f, :].get_position(fig)
    fig.text(bbox.x0, (bbox.y0 + bbox.y1) / 2, "Reference motifs: forward | reverse complement",
             fontsize=8, va="center", style="italic")


def plot_contributions(ax: Axes, values: np.ndarray, shaded: Sequence[tuple[int, int]] = (),
                       ylabel: str | None = None) -> Axes:
    """An attribution logo: letter heights = per-base contributions ``values: (4, L)``, positive
    ones stacked above the axis and negative ones below; ``shaded`` (start, stop) spans (e.g.
    embedded motifs) get a grey background."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != 4:
        raise ConfigError(f"contributions: expected a (4, L) array, got shape {values.shape}")
    for start, stop in shaded:
        ax.axvspan(start - 0.5, stop - 0.5, color="0.88", zorder=0)
    paths, colors = _letter_paths(np.clip(values, 0, None))
    down, down_colors = _letter_paths(np.clip(-values, 0, None))
    for path in down:  # mirror the negative stacks below the axis
        path.vertices[:, 1] *= -1
    collection = PathCollection(paths + down, facecolors=colors + down_colors,
                                edgecolors="none", linewidths=0)
    collection.set_transform(ax.transData)
    ax.add_collection(collection, autolim=False)
    top = float(np.clip(values, 0, None).sum(axis=0).max(initial=0.0))
    bottom = float(np.clip(-values, 0, None).sum(axis=0).max(initial=0.0))
    span = max(top, bottom, 1e-9)
    ax.set_xlim(-0.5, values.shape[1] - 0.5)
    ax.set_ylim(-bottom - 0.05 * span, top + 0.05 * span)
    ax.axhline(0, color="0.5", linewidth=0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=7, rotation=0, ha="right", va="center")
    return ax
