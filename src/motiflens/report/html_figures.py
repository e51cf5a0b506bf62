"""The per-model figures of the report: training curves and the logo grids of each layer.

Each is written as PNG and PDF under the sweep's ``figures/``; the report embeds the PNG.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

from motiflens import _io
from motiflens.tables import read_tsv


def _read_history(path: Path) -> dict[str, list[float]]:
    rows = read_tsv(path)
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                columns.setdefault(key, []).append(float("nan"))
    return columns


def plot_training_curves(histories: Mapping[int, Path], title: str, out_stem: Path) -> Path | None:
    """Loss (train and validation) and validation AU-ROC per epoch, one line per trial.

    Writes ``out_stem.png`` and ``out_stem.pdf``; returns the PNG path (None without histories).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    data = {k: _read_history(p) for k, p in sorted(histories.items()) if p.is_file()}
    data = {k: v for k, v in data.items() if v.get("epoch")}
    if not data:
        return None
    fig, (ax_loss, ax_auc) = plt.subplots(1, 2, figsize=(10, 3.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (trial, cols) in enumerate(data.items()):
        color = colors[i % len(colors)]
        epochs = cols["epoch"]
        if "train_loss" in cols:
            ax_loss.plot(epochs, cols["train_loss"], color=color, lw=1.2, label=f"trial {trial} train")
        if "valid_loss" in cols:
            ax_loss.plot(epochs, cols["valid_loss"], color=color, lw=1.2, ls="--",
                         label=f"trial {trial} valid")
        if "valid_auroc" in cols:
            ax_auc.plot(epochs, cols["valid_auroc"], color=color, lw=1.2, label=f"trial {trial}")
    ax_loss.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss (solid train, dashed valid)")
    ax_auc.set(xlabel="epoch", ylabel="mean AU-ROC", title="validation AU-ROC")
    ax_auc.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    png = out_stem.with_suffix(".png")
    for path in (png, out_stem.with_suffix(".pdf")):
        with _io.atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:], dpi=110 if path.suffix == ".pdf" else 80)
    plt.close(fig)
    return png


def _copy_figure(src: Path, dst: Path) -> Path | None:
    if not src.is_file():
        return None
    dst.parent.mkdir(parents=True, exist_ok=True)
    with _io.atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def _layer_logos(layer_dir: Path, stem: Path, title: str) -> Path | None:
    """The layer's logo grid: drawn from its records (``filters.meme`` + ``filters.tsv``, at a
    resolution that keeps the report small), or the trial's own ``logos.png`` when the records
    cannot be read; None when the layer was not interpreted."""
    from motiflens.report.figures import logo_figure, read_layer_logos

    if (layer_dir / "filters.tsv").is_file() and (layer_dir / "filters.meme").is_file():
        stem.parent.mkdir(parents=True, exist_ok=True)
        png = stem.with_suffix(".png")
        logo_figure([read_layer_logos(layer_dir, title)], [], png, stem.with_suffix(".pdf"),
                    dpi=60)
        return png
    logo = _copy_figure(layer_dir / "logos.png", stem.with_suffix(".png"))
    _copy_figure(layer_dir / "logos.pdf", stem.with_suffix(".pdf"))
    return logo
