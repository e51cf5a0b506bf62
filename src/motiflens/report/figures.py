"""The paper's figures, drawn from a sweep's records (no checkpoint or dataset needed).

- :func:`logo_figure`: first-layer (or any layer's) filter logos of several models from one
  named trial, one section per model, each filter titled with its significant match, the
  ground-truth motifs and their reverse complements underneath (paper Fig 2, Fig 3, S1 Fig);
- :func:`pool_size_figure`: ground-truth and JASPAR match fraction against first-layer pool
  size, mean ± sd over trials (a curve the paper only tabulates).

Every figure states its source (experiment, trial, alignment) on the figure and is saved as PNG
and PDF, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from motiflens.data.example import relevant_motif_ids, relevant_motifs_release
from motiflens.errors import FormatError
from motiflens.jaspar import ground_truth_motifs, jaspar_database
from motiflens.motifs import Motif, read_meme
from motiflens.interpret.logos import plot_logo, save_figure
from motiflens.tables import is_true, read_tsv

#: First-layer pool sizes of the CNN-<pool> rows of Table 1.
POOL_ROWS = {"CNN-1": 1, "CNN-2": 2, "CNN-4": 4, "CNN-10": 10, "CNN-25": 25, "CNN-50": 50,
             "CNN-100": 100}


@dataclass
class LayerLogos:
    """One layer of one trial, ready to draw: every filter (dead ones as None) and its label."""

    title: str
    ppms: list[np.ndarray | None]
    labels: list[str]


def read_layer_logos(layer_dir: str | Path, title: str) -> LayerLogos:
    """Filters and labels of ``interpret/layer<N>`` (or a re-interpretation's) from its records.

    The label of a filter is its ground-truth TF when it matches one, else the name of its best
    database match when significant, else empty.

    Raises
    ------
    FormatError
        ``filters.tsv`` or ``filters.meme`` missing.
    """
    layer_dir = Path(layer_dir)
    for name in ("filters.tsv", "filters.meme"):
        if not (layer_dir / name).is_file():
            raise FormatError(layer_dir / name, "missing: interpret the trial first")
    motifs = {m.id: m for m in read_meme(layer_dir / "filters.meme")}
    ppms: list[np.ndarray | None] = []
    labels: list[str] = []
    for row in read_tsv(layer_dir / "filters.tsv"):
        motif = motifs.get(str(row["id"]))
        ppms.append(motif.ppm if motif is not None and is_true(row["alive"]) else None)
        if is_true(row.get("matches_ground_truth")):
            labels.append(str(row["ground_truth_tf"]))
        elif is_true(row.get("matches_database")):
            labels.append(str(row["best_target_name"] or row["best_target"]))
        else:
            labels.append("")
    return LayerLogos(title=title, ppms=ppms, labels=labels)


def logo_figure(sections: Sequence[LayerLogos], references: Sequence[Motif],
                path_png: str | Path, path_pdf: str | Path | None = None,
                title: str = "", ncols: int = 10, dpi: int = 110,
                references_title: str = "Ground-truth motifs: forward | reverse complement") -> Figure:
    """Filter logos of several layers/models, one titled section each, references underneath.

    Parameters
    ----------
    sections : list of LayerLogos
    references : list of Motif
        Drawn forward and reverse complement side by side (``ncols // 2`` pairs per row).
    """
    rows = []  # (kind, payload) per grid row
    for section in sections:
        rows.append(("heading", section.title))
        for start in range(0, len(section.ppms), ncols):
            rows.append(("filters", (section, start)))
    if references:
        rows.append(("heading", references_title))
        per_row = max(1, ncols // 2)
        for start in range(0, len(references), per_row):
            rows.append(("refs", list(references[start:start + per_row])))
    ratios = [0.35 if kind == "heading" else 1.0 for kind, _ in rows]
    height = 1.05 * sum(ratios) + (0.5 if title else 0.1)
    fig = Figure(figsize=(1.6 * ncols, height))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(rows), ncols, height_ratios=ratios, hspace=0.9, wspace=0.12,
                            top=1 - (0.55 if title else 0.1) / height, bottom=0.1 / height)
    for r, (kind, payload) in enumerate(rows):
        if kind == "heading":
            ax = fig.add_subplot(grid[r, :])
            ax.axis("off")
            ax.text(0.0, 0.0, payload, fontsize=10, fontweight="bold", va="bottom",
                    transform=ax.transAxes)
        elif kind == "filters":
            section, start = payload
            for c, i in enumerate(range(start, min(start + ncols, len(section.ppms)))):
                _draw_filter(fig.add_subplot(grid[r, c]), section.ppms[i], section.labels[i], i)
        else:
            for k, ref in enumerate(payload):
                for strand, motif in enumerate((ref, ref.reverse_complement())):
                    ax = fig.add_subplot(grid[r, 2 * k + strand])
                    plot_logo(ax, motif.ppm)
                    ax.set_title(f"{ref.name or ref.id}{' (rc)' if strand else ''}", fontsize=7, pad=2)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.15 / height)
    save_figure(fig, path_png, path_pdf, dpi=dpi)
    return fig


def _draw_filter(ax: Any, ppm: np.ndarray | None, label: str, index: int) -> None:
    if ppm is None:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, "dead", ha="center", va="center", fontsize=7, color="0.5",
                transform=ax.transAxes)
        ax.set_title(f"{index}", fontsize=7, pad=2, color="0.5")
        return
    plot_logo(ax, ppm)
    ax.set_title(f"{index}: {label}" if label else f"{index}", fontsize=7, pad=2,
                 fontweight="bold" if label else "normal", color="black" if label else "0.4")


def pool_size_figure(rows: Sequence[dict[str, Any]], path_png: str | Path,
                     path_pdf: str | Path | None = None, title: str = "",
                     paper: dict[str, tuple[float, float | None]] | None = None,
                     truth_label: str = "ground truth") -> Figure:
    """Match fractions against first-layer pool size, mean ± sd error bars.

    Parameters
    ----------
    rows : list of dict
        ``aggregate.summarize(...)["rows"]`` (first-layer rows of the CNN-<pool> models are used).
    paper : dict, optional
        ``{model_id: (mean, sd or None)}`` of the paper's ground-truth numbers, drawn as points.
    """
    by_id = {r["model_id"]: r for r in rows if int(r["layer"]) == 1 and r["model_id"] in POOL_ROWS
             and int(r.get("n_trials") or 0) > 0}  # rows not run yet are left out
    pools = sorted((POOL_ROWS[m], m) for m in by_id)
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for metric, label, colour, shift in (("match_gt", truth_label, "tab:blue", 0.97),
                                         ("match_db", "any JASPAR motif", "tab:orange", 1.03)):
        xs = [p * shift for p, _ in pools]
        means = [_num(by_id[m].get(f"{metric}_mean")) for _, m in pools]
        sds = [_num(by_id[m].get(f"{metric}_sd")) or 0.0 for _, m in pools]
        ax.errorbar(xs, means, yerr=sds, marker="o", capsize=3, color=colour,
                    label=f"matches {label} (mean ± sd)")
    for model, (mean, sd) in (paper or {}).items():
        if model in by_id:  # only beside a pool the sweep ran (no lone marker off the axis)
            ax.errorbar([POOL_ROWS[model]], [mean], yerr=[sd or 0.0], marker="s", mfc="none",
                        color="black", capsize=3, linestyle="none")
    if paper:
        ax.plot([], [], "s", mfc="none", color="black", label="paper (ground truth)")
    n = sorted({int(by_id[m]["n_trials"]) for _, m in pools}) if pools else []
    ax.set_xscale("log")
    ax.set_xticks([p for p, _ in pools], [str(p) for p, _ in pools])
    ax.set_xticks([], minor=True)  # no log-scale minor labels (3×10⁰ ...) between the pools
    ax.set_xlabel("first-layer max-pool size")
    ax.set_ylabel("fraction of first-layer filters")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    trials = "/".join(str(k) for k in n) or "0"
    ax.set_title(f"{title}\n({trials} trials per model)" if title else f"{trials} trials per model",
                 fontsize=10)
    save_figure(fig, path_png, path_pdf)
    return fig


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def references_for(label_names: Sequence[str]) -> list[Motif]:
    """The ground-truth motifs (JASPAR 2016) of the labels that are the paper's TFs, in order."""
    truth = {m.name: m for m in ground_truth_motifs()}
    return [truth[name] for name in label_names if name in truth]


#: The paper's logo figures: name -> (models, layer) drawn when the sweep has them.
PAPER_LOGO_FIGURES = {
    "fig2": (("CNN-2", "CNN-4", "CNN-25"), (1,)),
    "fig3": (("CNN9-4", "CNN9-25", "CNN-50-2", "CNN19-1-2"), (1,)),
    "s1fig": (("CNN-1",), (1, 2)),
}
#: The same figures of the paper for networks trained on in vivo (real) sequences.
IN_VIVO_LOGO_FIGURES = {
    "fig4": (("CNN-2", "CNN-4", "CNN-25"), (1,)),
    "s2fig": (("CNN-1",), (1, 2)),
}


def with_exponential_twins(figures: dict[str, tuple[tuple[str, ...], tuple[int, ...]]]
                           ) -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
    """``figures`` plus ``<name>-exp``: the same figure of the rows with an exponential first
    layer (ids ``<model>-exp``, as in the activation experiments)."""
    twins = {f"{name}-exp": (tuple(f"{m}-exp" for m in models), layers)
             for name, (models, layers) in figures.items()}
    return {**figures, **twins}


def relevant_references(label_names: Sequence[str]) -> list[Motif]:
    """One reference motif per real-data label: the first matrix of its relevant-motif list
    (``resources/relevant_motifs.yaml``: MAFK for MafK, POU5F1 for Oct4), named by its label."""
    ids = relevant_motif_ids(label_names)
    wanted = {label: ids[label][0] for label in label_names if ids.get(label)}
    if not wanted:
        return []
    by_id = {m.id: m for m in jaspar_database(relevant_motifs_release(), latest=False)}
    return [Motif(by_id[i].id, by_id[i].ppm, name=f"{label} ({by_id[i].name})")
            for label, i in wanted.items() if i in by_id]


def write_paper_figures(results_dir: str | Path, rows: Sequence[dict[str, Any]],
                        label_names: Sequence[str], experiment_name: str, alignment: str,
                        out_dir: str | Path, trial: int = 0,
                        paper: dict[str, tuple[float, float | None]] | None = None,
                        variant: str | None = None, in_vivo: bool = False) -> dict[str, Path]:
    """Draw the paper's figures that a sweep's records allow; ``{name: png path}``.

    Logo figures come from trial ``trial`` of each model (stated on the figure); a figure is
    skipped when one of its models or layers has no such trial. ``in_vivo``: a sweep on real
    sequences (Fig 4 / S2 Fig analogues, the labels' relevant motifs underneath).
    """
    root, out = Path(results_dir), Path(out_dir)
    written: dict[str, Path] = {}
    refs = (relevant_references(label_names) if in_vivo else []) or references_for(label_names)
    where = f"reinterpret/{variant}" if variant else "interpret"
    figures = with_exponential_twins(IN_VIVO_LOGO_FIGURES if in_vivo else PAPER_LOGO_FIGURES)
    for name, (models, layers) in figures.items():
        sections = []
        for model in models:
            for layer in layers:
                layer_dir = root / "runs" / model / f"trial-{trial}" / where / f"layer{layer}"
                if not (layer_dir / "filters.tsv").is_file():
                    sections = []
                    break
                sections.append(read_layer_logos(layer_dir, f"{model}, layer {layer}"))
            else:
                continue
            break
        if not sections:
            continue
        label = name.upper().replace("-EXP", ", exponential first layer")
        title = (f"{experiment_name}: {label} analogue — trial {trial}, {alignment} "
                 "alignment; title = significant Tomtom match (E ≤ 0.1)")
        written[name] = out / f"{name}.png"
        logo_figure(sections, refs, written[name], out / f"{name}.pdf", title=title,
                    references_title=("Relevant motifs (JASPAR)" if in_vivo
                                      else "Ground-truth motifs") + ": forward | reverse complement")
    if sum(1 for r in rows if r["model_id"] in POOL_ROWS and int(r["layer"]) == 1) >= 2:
        written["pool_size"] = out / "pool_size.png"
        pool_size_figure(rows, written["pool_size"], out / "pool_size.pdf",
                         title=f"{experiment_name} ({alignment} alignment)", paper=paper,
                         truth_label="a relevant motif" if in_vivo else "ground truth")
    return written
