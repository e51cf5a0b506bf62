"""The sections of the report, each as an HTML fragment: findings, sweep settings, fidelity to the
paper's numbers, re-interpretations, the paper's figures, the analyses table and one section per
model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from motiflens.report.html_figures import _layer_logos, plot_training_curves
from motiflens.report.html_markup import _e, _img, _table
from motiflens.report.html_matches import (
    SIGNIFICANT_E,
    TOMTOM_COLUMNS,
    _join_analysis,
    significant_matches,
)
from motiflens._io import read_json
from motiflens.tables import parse_float, read_tsv


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
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_plain(v))}</td></tr>\n"
                   for k, v in items if v is not None)
    return f"<table class=\"meta\"><tbody>\n{rows}</tbody></table>"


def _plain(value: Any) -> Any:
    """A recorded setting as a person reads it: ``mode code, db paper`` for a mapping."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_plain(v)) for v in value)
    return value


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
            known = parse_float(r.get(f"{key}_n"))  # trials with a value (older tables: none)
            if not math.isnan(mean):
                row[title] = fmt_mean_sd(mean, None if math.isnan(sd) else sd, 3,
                                         n=None if math.isnan(known) else int(known),
                                         of=int(r["n_trials"]))
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return _table(rows, columns, numeric=columns[2:], css_class="analyses")


def _fidelity_html(summary: dict[str, Any]) -> str:
    from motiflens.experiments.paper_rows import unlike_note
    from motiflens.experiments.verdicts import fidelity_rows
    from motiflens.tables import fmt_mean_sd

    paper = summary["paper"]
    rows = [{
        "claim": r["claim"], "metric": r["metric"],
        "paper": " ± ".join(f"{v:.3f}" for v in r["paper"]),
        "ours": fmt_mean_sd(r["ours_mean"], r["ours_sd"], 3),
        "trials": "" if r["n_trials"] is None else r["n_trials"], "rule": r["rule"],
        "verdict": r["verdict"],
    } for r in fidelity_rows(summary, paper)]
    unlike = f"<p class=\"notrun\">{_e(unlike_note(paper))}</p>" if unlike_note(paper) else ""
    if not rows:
        return unlike + "<p>The paper reports no numbers for this experiment.</p>"
    return (unlike + "<p>A mean ± sd is consistent within 2 combined sd; a number without sd "
            "within 0.10; group claims on the best / worst model's mean; findings by their "
            "thresholds.</p>" + _table(rows, list(rows[0]), paper=["paper"],
                                       numeric=["ours", "trials"], css_class="fidelity"))


def _reinterpretations_html(root: Path, summary: dict[str, Any]) -> str:
    """One part per re-interpretation of the sweep (``motiflens reinterpret``): its settings,
    the paper's numbers beside it, and each metric paired with the original reading of the same
    trials (``summary``, the sweep's own). Empty when the sweep has none."""
    from motiflens.experiments.aggregate import (collect_results, reinterpretation_names,
                                                 summarize)
    from motiflens.experiments.reinterpret import compare_sides, comparison_display_rows

    parts = []
    for name in reinterpretation_names(root):
        results = [r for trials in collect_results(root, variant=name).values() for r in trials]
        settings = results[0].get("interpret", {}) if results else {}
        described = _plain(settings) or "unknown"
        variant = summarize(root, name)
        rows = comparison_display_rows(compare_sides(summary, variant), "original", name)
        parts += [
            f"<h3>{_e(name)}</h3>",
            f"<p>Settings: {_e(described)}; {len(results)} trials read again from their best "
            f"weights (tables in <code>summary/reinterpret/{_e(name)}/</code>).</p>",
            _fidelity_html(variant),
            "<p>Paired with the original reading of the same trials: difference = "
            f"{_e(name)} − original; p: two-sided paired t-test.</p>",
            _table(rows, list(rows[0]), numeric=["layer", "pairs", "paired t-test p"],
                   css_class="compare") if rows else "<p>No trial has both readings.</p>",
        ]
    return "\n".join(parts)


def _label_names(root: Path) -> list[str]:
    """The class labels of a sweep's dataset, as its first recorded trial lists them."""
    for result in sorted(root.glob("runs/*/trial-*/result.json")):
        names = read_json(result).get("metrics", {}).get("label_names")
        if names:
            return [str(n) for n in names]
    return []


def _paper_figures_html(root: Path, summary: dict[str, Any], experiment: Any,
                        figures: Path) -> str:
    from motiflens.jaspar import PAPER_TFS
    from motiflens.report.figures import write_paper_figures

    paper_rows = {}
    for model, layers in summary["paper"].get("rows", {}).items():
        value = (layers.get(1) or {}).get("match_gt")
        if value:
            paper_rows[model] = (float(value[0]), float(value[1]) if len(value) > 1 else None)
    mode = (experiment.interpret.mode if experiment.interpret else "paper")
    in_vivo = experiment.dataset.kind != "synthetic"
    labels = _label_names(root) if in_vivo else PAPER_TFS
    written = write_paper_figures(root, summary["rows"], labels, experiment.name, mode,
                                  figures, paper=paper_rows, in_vivo=in_vivo)
    if not written:
        return "<p class=\"notrun\">No figure of the paper applies to this sweep yet.</p>"
    return "\n".join(f"<h4>{_e(name)}</h4>" + _img(path.read_bytes(), name)
                     for name, path in written.items())
