"""One self-contained HTML report per sweep directory.

``write_report(results_dir)`` (re)writes the summary tables (``summary/``), draws the figures
(``figures/``: training curves per model, copies of the logo grids, PNG and PDF) and writes
``report.html``: the findings, the results table beside the paper's numbers, per-TF coverage,
and per model its training curves, its logo grids (first layer like the paper's Figs 2-4, deeper
layers like S1) and the per-filter Tomtom matches (significant ones only). Images are embedded
as base64 PNG, so the file can be mailed or committed alone. Every piece of text is escaped.

The logos and the Tomtom table are those of the model's *representative trial*: the complete
trial with the lowest number (trial 0 unless it failed).
"""

from __future__ import annotations

import base64
import html
import math
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from motiflens import _io
from motiflens.tables import is_true, parse_float, read_tsv

#: Tomtom E-value threshold of a significant match (the paper's ``-evalue -thresh 0.1``).
SIGNIFICANT_E = 0.1

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.paper, th.paper { background: #f7f3e8; }
.holds { color: #17692f; font-weight: bold; }
.fails { color: #a11; font-weight: bold; }
.notrun { color: #777; }
img { max-width: 100%; border: 1px solid #ddd; margin: .4em 0; }
.meta { color: #555; font-size: .9em; }
.model { margin-top: 2.5em; }
details { margin: .5em 0; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
           headers: Mapping[str, str] | None = None, numeric: Sequence[str] = (),
           paper: Sequence[str] = (), css_class: str = "") -> str:
    """An escaped HTML table."""
    headers = headers or {}
    num, pap = set(numeric), set(paper)

    def cls(c: str) -> str:
        names = [n for n, on in (("num", c in num), ("paper", c in pap)) if on]
        return f' class="{" ".join(names)}"' if names else ""

    paper_th = ' class="paper"'
    head = "".join(f"<th{paper_th if c in pap else ''}>{_e(headers.get(c, c))}</th>"
                   for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td{cls(c)}>{_e(_cell(row.get(c)))}</td>" for c in columns) + "</tr>\n"
        for row in rows
    )
    klass = f' class="{_e(css_class)}"' if css_class else ""
    return f"<table{klass}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


# ----------------------------------------------------------------------------- figures


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
            fig.savefig(tmp, format=path.suffix[1:], dpi=110)
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


# ----------------------------------------------------------------------------- Tomtom table


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def significant_matches(layer_dir: Path, threshold: float = SIGNIFICANT_E) -> list[dict[str, Any]]:
    """Per filter with a significant Tomtom match: its best hit, ground-truth hit and other hits.

    Uses the per-filter table ``filters.tsv`` (``motiflens.interpret.scoring``: a dead filter
    matches nothing) and ``tomtom.tsv`` for the other hits with E <= ``threshold``; without
    ``filters.tsv``, the best hit per query of ``tomtom.tsv``. Rows are in filter order.
    """
    hits: dict[str, list[dict[str, str]]] = {}
    tomtom = layer_dir / "tomtom.tsv"
    if tomtom.is_file():
        for row in read_tsv(tomtom):
            if _float(row.get("E-value")) <= threshold:
                hits.setdefault(row.get("Query_ID", ""), []).append(row)
    for ranked in hits.values():
        ranked.sort(key=lambda r: (_float(r.get("E-value")), _float(r.get("p-value"))))

    filters_tsv = layer_dir / "filters.tsv"
    out: list[dict[str, Any]] = []
    if filters_tsv.is_file():
        names: dict[str, str] = {}
        rows = read_tsv(filters_tsv)
        for row in rows:
            if row.get("best_target") and row.get("best_target_name"):
                names[row["best_target"]] = row["best_target_name"]
        for row in rows:
            significant = (is_true(row.get("matches_database"))
                           or is_true(row.get("matches_ground_truth")))
            if not significant:
                continue
            fid = row.get("id", "")
            others = [h.get("Target_ID", "") for h in hits.get(fid, [])
                      if h.get("Target_ID") != row.get("best_target")]
            out.append({
                "filter": row.get("filter", fid),
                "best match": row.get("best_target", ""),
                "name": row.get("best_target_name", ""),
                "E-value": row.get("best_evalue", ""),
                "q-value": row.get("best_qvalue", ""),
                "ground truth": (f"{row.get('ground_truth_tf', '')} ({row.get('ground_truth_target', '')}, "
                                 f"q = {row.get('ground_truth_qvalue', '')})"
                                 if is_true(row.get("matches_ground_truth")) else ""),
                "IC (bits)": row.get("information_content", ""),
                "other hits": _other_hits(others, names),
            })
        return out
    for query in sorted(hits, key=_query_order):
        best, *rest = hits[query]
        out.append({
            "filter": query, "best match": best.get("Target_ID", ""), "name": "",
            "E-value": best.get("E-value", ""), "q-value": best.get("q-value", ""),
            "ground truth": "", "IC (bits)": "",
            "other hits": _other_hits([r.get("Target_ID", "") for r in rest], {}),
        })
    return out


def _query_order(query: str) -> tuple[int, str]:
    digits = "".join(ch for ch in query if ch.isdigit())
    return (int(digits) if digits else 1 << 30, query)


def _other_hits(targets: Sequence[str], names: Mapping[str, str], limit: int = 6) -> str:
    shown = [f"{t} {names[t]}" if names.get(t) else t for t in targets[:limit]]
    more = f" (+{len(targets) - limit} more)" if len(targets) > limit else ""
    return ", ".join(shown) + more


TOMTOM_COLUMNS = ["filter", "best match", "name", "E-value", "q-value", "ground truth",
                  "IC (bits)", "other hits"]


def _join_analysis(rows: list[dict[str, Any]], analysis_dir: Path) -> list[str]:
    """Add the filter's importance (Δ test loss when silenced, the class it hurts most) and
    completeness from ``motiflens analyze`` to the Tomtom rows; the added column names."""
    from motiflens.tables import format_cell

    added: list[str] = []
    importance = analysis_dir / "importance.tsv"
    if importance.is_file():
        by_filter = {str(r["filter"]): r for r in read_tsv(importance)}
        for row in rows:
            found = by_filter.get(str(row["filter"]), {})
            row["Δ loss silenced"] = format_cell(_float(found.get("delta_loss")))
            row["most hurt class"] = found.get("most_hurt_class", "")
        added += ["Δ loss silenced", "most hurt class"]
    completeness = analysis_dir / "completeness.tsv"
    if completeness.is_file():
        by_query = {r["query_id"]: r for r in read_tsv(completeness)}
        for row in rows:
            found = by_query.get(f"filter_{row['filter']}", {})
            row["completeness"] = found.get("completeness", "")
            row["whole"] = found.get("whole", "")
        added += ["completeness", "whole"]
    return added


# ----------------------------------------------------------------------------- the report


def _status_class(status: str) -> str:
    return {"holds": "holds", "does not hold": "fails"}.get(status, "notrun")


def _findings_html(summary: dict[str, Any]) -> str:
    parts = []
    if summary["findings"]:
        rows = "".join(
            f"<tr><td>{_e(f['text'])}</td><td class=\"{_status_class(f['status'])}\">{_e(f['status'])}"
            f"</td><td>{_e(f['detail'])}</td></tr>\n" for f in summary["findings"]
        )
        parts.append("<table class=\"findings\"><thead><tr><th>finding (paper)</th><th>status</th>"
                     f"<th>this sweep (means over trials)</th></tr></thead><tbody>\n{rows}</tbody></table>")
    if summary["claims"]:
        from motiflens.experiments.aggregate import display_claims

        parts.append("<p>Paper's statements about groups of models, beside this sweep's best / "
                     "worst member:</p>")
        parts.append(_table(display_claims(summary), ["claim", "paper", "this sweep"],
                            paper=["paper"], numeric=["this sweep"]))
    return "\n".join(parts) or "<p>No findings declared for this experiment.</p>"


def _meta_html(results_dir: Path, summary: dict[str, Any]) -> str:
    sweep = summary.get("sweep") or {}
    settings = sweep.get("settings", {})
    prov = sweep.get("provenance", {})
    items = [
        ("experiment", summary["experiment"]["name"]),
        ("trials requested", sweep.get("trials")),
        ("sweep seed", settings.get("sweep_seed")),
        ("max epochs override", settings.get("epochs") if settings.get("epochs") is not None else "none (protocol default)"),
        ("protocol", settings.get("protocol")),
        ("dataset", settings.get("dataset")),
        ("executor", sweep.get("executor")),
        ("interpretation", settings.get("interpret")),
        ("git revision", prov.get("git_revision")),
        ("versions", ", ".join(f"{k} {v}" for k, v in (prov.get("versions") or {}).items())),
        ("sweep started", prov.get("created")),
        ("directory", str(results_dir)),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>\n" for k, v in items if v is not None)
    return f"<table class=\"meta\"><tbody>\n{rows}</tbody></table>"


def _model_section(results_dir: Path, entry: Mapping[str, Any], results: list[dict[str, Any]],
                   figures: Path) -> str:
    label, model_id = entry["label"], entry["id"]
    parts = [f'<section class="model" id="model-{_e(model_id)}">',
             f"<h3>{_e(label)} <span class=\"meta\">({_e(entry['model'])}, "
             f"{len(results)} complete trial(s))</span></h3>"]
    if not results:
        parts.append("<p class=\"notrun\">No complete trial yet.</p></section>")
        return "\n".join(parts)
    dirs = {int(r["trial"]): Path(r["trial_dir"]) for r in results}
    curves = plot_training_curves({k: d / "history.tsv" for k, d in dirs.items()},
                                  f"{label}: training", figures / f"{model_id}_training")
    if curves is not None:
        parts.append("<h4>Training curves</h4>")
        parts.append(_img(curves.read_bytes(), f"{label} training curves"))
    rep_trial = min(dirs)
    rep = dirs[rep_trial]
    for layer in entry["layers"]:
        layer_dir = rep / "interpret" / f"layer{layer}"
        title = "first-layer filters" if layer == 1 else f"layer-{layer} filters"
        parts.append(f"<h4>Logos of the {_e(title)} (trial {rep_trial})</h4>")
        logo = _layer_logos(layer_dir, figures / f"{model_id}_layer{layer}_logos",
                            f"{label}, layer {layer}, trial {rep_trial}")
        if logo is not None:
            parts.append(_img(logo.read_bytes(), f"{label} layer {layer} filter logos"))
        else:
            parts.append("<p class=\"notrun\">No logos (interpretation not run).</p>")
        attribution = rep / "analysis" / "interpret" / f"layer{layer}" / "attribution_logos.png"
        if attribution.is_file():
            parts.append(f"<h4>Attribution maps of test sequences (trial {rep_trial})</h4>")
            parts.append(_img(attribution.read_bytes(), f"{label} attribution logos"))
        matches = significant_matches(layer_dir)
        summary = next((r.get("layers", {}).get(str(layer)) for r in results
                        if int(r["trial"]) == rep_trial), None) or {}
        n_filters = summary.get("n_filters")
        parts.append(
            f"<details{' open' if layer == 1 else ''}><summary>Tomtom: {len(matches)} of "
            f"{_e(n_filters if n_filters is not None else '?')} layer-{layer} filters have a "
            f"significant match (E ≤ {SIGNIFICANT_E:g})</summary>"
        )
        columns = TOMTOM_COLUMNS + _join_analysis(matches, rep / "analysis" / "interpret" / f"layer{layer}")
        if matches:
            parts.append(_table(matches, columns, numeric=["E-value", "q-value", "IC (bits)",
                                                           "Δ loss silenced", "completeness"],
                                css_class="tomtom"))
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def _analyses_html(root: Path) -> str:
    """The ``motiflens analyze`` table of the sweep (mean ± sd per model), if it was run."""
    from motiflens.experiments.analyses import COLUMNS
    from motiflens.tables import fmt_mean_sd

    path = root / "summary" / "analysis-interpret.tsv"
    if not path.is_file():
        return ("<p class=\"notrun\">Not run: <code>motiflens analyze DIR</code> adds filter "
                "importance, motif completeness, null match rates (and, with <code>--analyses "
                "attribution</code>, attribution scores).</p>")
    rows = []
    for r in read_tsv(path):
        row = {"model": r["model_id"], "layer": r["layer"], "n": r["n_trials"]}
        for key, title in COLUMNS.items():
            mean, sd = parse_float(r.get(f"{key}_mean")), parse_float(r.get(f"{key}_sd"))
            if not math.isnan(mean):
                row[title] = fmt_mean_sd(mean, None if math.isnan(sd) else sd, 3)
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return _table(rows, columns, numeric=columns[2:], css_class="analyses")


def _fidelity_html(summary: dict[str, Any]) -> str:
    from motiflens.experiments.registry import load_paper_numbers
    from motiflens.experiments.verdicts import fidelity_rows
    from motiflens.tables import fmt_mean_sd

    paper = load_paper_numbers(summary["experiment"].get("paper_numbers"))
    rows = [{
        "claim": r["claim"], "metric": r["metric"],
        "paper": " ± ".join(f"{v:.3f}" for v in r["paper"]),
        "ours": fmt_mean_sd(r["ours_mean"], r["ours_sd"], 3),
        "trials": "" if r["n_trials"] is None else r["n_trials"], "rule": r["rule"],
        "verdict": r["verdict"],
    } for r in fidelity_rows(summary, paper)]
    if not rows:
        return "<p>The paper reports no numbers for this experiment.</p>"
    return ("<p>A mean ± sd is consistent within 2 combined sd; a number without sd within "
            "0.10; group claims on the best / worst model's mean; findings by their "
            "thresholds.</p>" + _table(rows, list(rows[0]), paper=["paper"],
                                       numeric=["ours", "trials"], css_class="fidelity"))


def _paper_figures_html(root: Path, summary: dict[str, Any], experiment: Any,
                        figures: Path) -> str:
    from motiflens.experiments.registry import load_paper_numbers
    from motiflens.jaspar import PAPER_TFS
    from motiflens.report.figures import write_paper_figures

    paper_rows = {}
    for model, layers in load_paper_numbers(experiment.paper_numbers).get("rows", {}).items():
        value = (layers.get(1) or {}).get("match_gt")
        if value:
            paper_rows[model] = (float(value[0]), float(value[1]) if len(value) > 1 else None)
    mode = (experiment.interpret.mode if experiment.interpret else "paper")
    written = write_paper_figures(root, summary["rows"], PAPER_TFS, experiment.name, mode,
                                  figures, paper=paper_rows)
    if not written:
        return "<p class=\"notrun\">No figure of the paper applies to this sweep yet.</p>"
    return "\n".join(f"<h4>{_e(name)}</h4>" + _img(path.read_bytes(), name)
                     for name, path in written.items())


def render_report(results_dir: str | Path) -> str:
    """The report of a sweep directory as one HTML string (figures are written to ``figures/``)."""
    from motiflens.experiments.aggregate import (
        collect_results,
        display_rows,
        display_tf_rows,
        load_sweep_experiment,
        summarize,
    )

    root = Path(results_dir).resolve()
    summary = summarize(root)
    experiment = load_sweep_experiment(root)
    results = collect_results(root, experiment)
    figures = root / "figures"
    name = experiment.name

    rows, columns, headers = display_rows(summary)
    metric_cols = [c for c in columns if c not in ("model", "layer", "n")]
    tf_rows, tf_columns, tf_headers = display_tf_rows(summary)
    body = [
        f"<h1>motiflens sweep: {_e(name)}</h1>",
        f"<p>{_e(experiment.description)}</p>",
        _meta_html(root, summary),
        "<h2 id=\"findings\">The paper's findings, checked</h2>",
        _findings_html(summary),
        "<h2 id=\"results\">Results</h2>",
        "<p>Mean ± sample sd over complete trials; the shaded columns are the numbers the paper "
        f"reports ({_e(summary['paper_source'] or 'none for this experiment')}). match JASPAR / "
        "ground truth: fraction of the layer's filters with a Tomtom hit (E ≤ 0.1) in the "
        "database / among the ground-truth motifs.</p>",
        _table(rows, columns, headers, numeric=metric_cols + ["layer", "n"],
               paper=[c for c in columns if c.startswith("paper_")], css_class="results"),
        "<h2 id=\"fidelity\">The paper's numbers and ours</h2>",
        _fidelity_html(summary),
        "<h2 id=\"figures\">Figures as the paper's</h2>",
        _paper_figures_html(root, summary, experiment, figures),
        "<h2 id=\"analyses\">Which filters matter, how whole they are, null match rates</h2>",
        _analyses_html(root),
        "<h2 id=\"coverage\">Per-TF coverage</h2>",
        "<p>Mean ± sd number of filters whose best ground-truth match is each TF.</p>",
        _table(tf_rows, tf_columns, tf_headers, numeric=tf_columns[1:], css_class="coverage"),
        "<h2 id=\"models\">Models</h2>",
    ]
    for entry in summary["experiment"]["models"]:
        body.append(_model_section(root, entry, results.get(entry["id"], []), figures))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>motiflens: {_e(name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n<p class=\"meta\">Generated by motiflens "
        + _e(_io.package_versions().get("motiflens", ""))
        + ".</p>\n</body>\n</html>\n"
    )


def write_report(results_dir: str | Path) -> Path:
    """Write ``report.html``, the ``summary/`` tables and the ``figures/`` of a sweep directory.

    Returns
    -------
    Path
        ``results_dir/report.html``.
    """
    from motiflens.experiments.aggregate import write_summary

    root = Path(results_dir)
    write_summary(root)
    text = render_report(root)
    path = root / "report.html"
    with _io.atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
