"""Aggregate a sweep's trials: mean ± sd per model and layer, beside the paper's numbers.

Reads ``runs/<model>/trial-<k>/result.json`` of every complete trial (incomplete trials are
ignored) and writes ``summary/``::

    summary.tsv / summary.md      per (model, layer): n trials, AU-ROC, AU-PR, fraction of filters
                                  matching JASPAR / ground truth (mean ± sd), paper's numbers
    tf_coverage.tsv / .md         per (model, layer): mean ± sd number of filters matching each TF
    findings.tsv / .md            the paper's qualitative findings and claims, checked
    trials.tsv                    one row per (model, trial, layer): the raw numbers
    summary.json                  everything above, machine-readable

Standard deviations are sample standard deviations (ddof = 1); with one trial there is none.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from motiflens import _io
from motiflens.errors import FormatError
from motiflens.experiments.paper_rows import paper_numbers_for, unlike_note
from motiflens.experiments.registry import Experiment, experiment_from_dict
from motiflens.experiments.verdicts import (METRICS, evaluate_claim, evaluate_finding,
                                             paper_text)
from motiflens.tables import fmt_mean_sd, to_markdown, write_markdown, write_tsv

METRIC_TITLES = {
    "auroc": "AU-ROC", "aupr": "AU-PR", "match_db": "match JASPAR", "match_gt": "match ground truth",
}


# ----------------------------------------------------------------------------- reading


def load_sweep_experiment(results_dir: str | Path) -> Experiment:
    """The experiment a sweep directory was run with (its ``experiment.yaml``)."""
    path = Path(results_dir) / "experiment.yaml"
    if not path.is_file():
        raise FormatError(path, "not a sweep directory (no experiment.yaml); run `motiflens reproduce` first")
    import yaml

    with open(path) as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise FormatError(path, f"invalid YAML: {exc}") from None
    return experiment_from_dict(data, source=str(path))


def result_file(trial_dir: Path, variant: str | None = None) -> Path:
    """A trial's result: ``result.json``, or that of re-interpretation ``variant``."""
    if variant is None:
        return trial_dir / "result.json"
    return trial_dir / "reinterpret" / variant / "result.json"


def reinterpretation_names(results_dir: str | Path) -> list[str]:
    """Names of a sweep's re-interpretations with at least one trial result, sorted."""
    root = Path(results_dir)
    return sorted({path.parent.name
                   for path in root.glob("runs/*/trial-*/reinterpret/*/result.json")})


def collect_results(results_dir: str | Path, experiment: Experiment | None = None,
                    variant: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Complete trials per model id, in trial order: ``{model_id: [result.json, ...]}``.

    With ``variant``, the results of that re-interpretation
    (:mod:`motiflens.experiments.reinterpret`) instead of the original ones.
    """
    root = Path(results_dir)
    experiment = experiment or load_sweep_experiment(root)
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in experiment.models:
        results = []
        for trial in sorted((root / "runs" / entry.id).glob("trial-*")):
            done = result_file(trial, variant)
            if not done.is_file():
                continue
            result = _io.read_json(done)
            result["trial_dir"] = str(trial)
            results.append(result)
        out[entry.id] = sorted(results, key=lambda r: int(r["trial"]))
    return out


def _layer_value(result: dict[str, Any], layer: int, metric: str) -> float | None:
    if metric in ("auroc", "aupr"):
        value = result.get(metric)
    else:
        summary = result.get("layers", {}).get(str(layer))
        if summary is None:
            return None
        value = _summary_value(summary, metric)
    return None if value is None else float(value)


#: Keys under which an interpretation summary may hold each metric (interpret_run's short
#: names first, then motiflens.interpret.scoring.summarize's).
SUMMARY_KEYS = {
    "match_db": ("frac_match_db", "frac_match_database"),
    "match_gt": ("frac_match_gt", "frac_match_ground_truth"),
    "tf_coverage": ("tf_coverage", "redundancy"),
}


def _summary_value(summary: dict[str, Any], metric: str) -> Any:
    for key in SUMMARY_KEYS.get(metric, (metric,)):
        if summary.get(key) is not None:
            return summary[key]
    return None


def mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample sd (ddof 1) of the non-missing values; (None, None) if none, sd None if one."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not clean:
        return None, None
    mean = float(np.mean(clean))
    sd = float(np.std(clean, ddof=1)) if len(clean) > 1 else None
    return mean, sd


# ----------------------------------------------------------------------------- aggregation


def incomplete_note(experiment: Experiment, sweep: dict[str, Any],
                    results: dict[str, list]) -> str:
    """``"Incomplete sweep: 3 of 10 planned trials finished (CNN-1 3 of 5, ...)..."``, or ``""``
    when every row has the trials ``sweep.json`` planned (or it plans none)."""
    planned = sweep.get("trials")
    if not isinstance(planned, int) or planned < 1:
        return ""
    short = [(e.id, len(results[e.id])) for e in experiment.models if len(results[e.id]) < planned]
    if not short:
        return ""
    done = sum(len(results[e.id]) for e in experiment.models)
    rows = ", ".join(f"{model} {n} of {planned}" for model, n in short)
    return (f"Incomplete sweep: {done} of {planned * len(experiment.models)} planned trials "
            f"finished ({rows}); means, verdicts and findings use the finished trials only.")


def summarize(results_dir: str | Path, variant: str | None = None) -> dict[str, Any]:
    """Aggregate a sweep directory (nothing written); ``variant``: a re-interpretation's results.

    Returns
    -------
    dict
        ``experiment`` (dict), ``sweep`` (sweep.json), ``rows`` (per model and layer, numeric
        ``<metric>_mean/_sd`` plus ``paper_<metric>`` text), ``tfs`` (TF names),
        ``tf_rows``, ``trials`` (raw per-trial rows), ``claims``, ``findings``, ``paper_source``,
        ``incomplete`` (:func:`incomplete_note`; ``""`` when the sweep is complete).
    """
    root = Path(results_dir)
    experiment = load_sweep_experiment(root)
    sweep = _io.read_json(root / "sweep.json") if (root / "sweep.json").is_file() else {}
    results = collect_results(root, experiment, variant)
    paper = paper_numbers_for(experiment)  # without rows of another architecture

    rows: list[dict[str, Any]] = []
    tf_rows: list[dict[str, Any]] = []
    trial_rows: list[dict[str, Any]] = []
    tfs: list[str] = []
    for entry in experiment.models:
        trials = results[entry.id]
        for layer in entry.layers:
            row: dict[str, Any] = {
                "model_id": entry.id, "label": entry.label, "model": entry.model, "layer": layer,
                "n_trials": len(trials),
            }
            for metric in METRICS:
                mean, sd = mean_sd([_layer_value(r, layer, metric) for r in trials])
                row[f"{metric}_mean"], row[f"{metric}_sd"] = mean, sd
            summaries = [r.get("layers", {}).get(str(layer)) or {} for r in trials]
            row["n_filters"] = summaries[0].get("n_filters") if summaries else None
            row["n_dead_mean"] = mean_sd([s.get("n_dead") for s in summaries])[0]
            reported = paper["rows"].get(entry.id, {}).get(layer, {})
            for metric in METRICS:
                row[f"paper_{metric}"] = paper_text(reported.get(metric))
            rows.append(row)

            coverage = [_summary_value(s, "tf_coverage") for s in summaries
                        if _summary_value(s, "tf_coverage") is not None]
            for cov in coverage:
                for tf in cov:
                    if tf not in tfs:
                        tfs.append(tf)
            tf_rows.append({"model_id": entry.id, "label": entry.label, "layer": layer,
                            "n_trials": len(trials), "_coverage": coverage})
        for r in trials:
            metrics = r.get("metrics", {})
            for layer in entry.layers:
                summary = r.get("layers", {}).get(str(layer)) or {}
                trial_rows.append({
                    "model_id": entry.id, "trial": r["trial"], "seed": r["seed"], "layer": layer,
                    "auroc": r.get("auroc"), "aupr": r.get("aupr"),
                    "match_db": _summary_value(summary, "match_db"),
                    "match_gt": _summary_value(summary, "match_gt"),
                    "n_filters": summary.get("n_filters"), "n_dead": summary.get("n_dead"),
                    "epochs_run": metrics.get("epochs_run"), "best_epoch": metrics.get("best_epoch"),
                    "wall_s": r.get("wall_s"),
                })
    for tf_row in tf_rows:  # every TF seen in any row is a column of every row
        coverage = tf_row.pop("_coverage")
        for tf in tfs:
            tf_row[tf] = mean_sd([float(c.get(tf, 0)) for c in coverage])
        tf_row["tfs_found"] = mean_sd([float(sum(1 for v in c.values() if v)) for c in coverage])

    means = {(r["model_id"], r["layer"]): r for r in rows}
    claims = [evaluate_claim(c, means) for c in paper["claims"]]
    findings = [evaluate_finding(f, means) for f in list(paper["findings"]) + list(experiment.findings)]
    return {
        "experiment": experiment.to_dict(), "sweep": sweep, "rows": rows, "tfs": tfs,
        "tf_rows": tf_rows, "trials": trial_rows, "claims": claims, "findings": findings,
        "paper_source": paper.get("source", ""), "variant": variant,
        "incomplete": incomplete_note(experiment, sweep, results), "paper": paper,
    }


# ----------------------------------------------------------------------------- display rows


def display_rows(summary: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    """The main table as text cells (mean ± sd beside the paper's), with columns and headers."""
    out = []
    for row in summary["rows"]:
        cells = {"model": row["label"], "layer": row["layer"], "n": row["n_trials"]}
        for metric in METRICS:
            cells[metric] = fmt_mean_sd(row[f"{metric}_mean"], row[f"{metric}_sd"])
            cells[f"paper_{metric}"] = row[f"paper_{metric}"]
        out.append(cells)
    columns = ["model", "layer", "n"]
    headers = {"model": "model", "layer": "layer", "n": "trials"}
    titles = dict(METRIC_TITLES)
    if summary["experiment"].get("dataset", {}).get("kind") == "file":
        titles["match_gt"] = "match relevant motifs"  # in vivo: no ground truth (paper, Table 2)
    for metric in METRICS:
        columns += [metric, f"paper_{metric}"]
        headers[metric] = titles[metric]
        headers[f"paper_{metric}"] = f"paper {titles[metric]}"
    return out, columns, headers


def display_tf_rows(summary: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    """TF coverage as text cells: mean ± sd number of filters matching each TF."""
    out = []
    for row in summary["tf_rows"]:
        cells = {"model": row["label"], "layer": row["layer"], "n": row["n_trials"]}
        for tf in summary["tfs"] + ["tfs_found"]:
            mean, sd = row.get(tf, (None, None))
            cells[tf] = fmt_mean_sd(mean, sd, digits=1)
        out.append(cells)
    columns = ["model", "layer", "n", *summary["tfs"], "tfs_found"]
    headers = {"model": "model", "layer": "layer", "n": "trials", "tfs_found": "TFs found"}
    return out, columns, headers


def display_claims(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Paper claims about model groups beside this sweep's value."""
    return [{
        "claim": c["text"], "paper": c["paper"],
        "this sweep": "not run" if c["ours"] is None else f"{c['ours']:.3f} ({c['model']})"
                      + (f", {c['n_models']} of {len(c['models'])} models run"
                         if c["n_models"] < len(c["models"]) else ""),
    } for c in summary["claims"]]


# ----------------------------------------------------------------------------- writing


def summary_dir(results_dir: str | Path, variant: str | None = None) -> Path:
    """``summary/``, or ``summary/reinterpret/<variant>/`` for a re-interpretation."""
    root = Path(results_dir) / "summary"
    return root if variant is None else root / "reinterpret" / variant


def write_summary(results_dir: str | Path, variant: str | None = None) -> dict[str, Path]:
    """Write the ``summary/`` tables of a sweep directory (or of one of its re-interpretations
    into ``summary/reinterpret/<variant>/``); return ``{name: path}``."""
    root = Path(results_dir)
    summary = summarize(root, variant)
    out = summary_dir(root, variant)
    paths: dict[str, Path] = {}

    numeric_cols = ["model_id", "label", "model", "layer", "n_trials"]
    for metric in METRICS:
        numeric_cols += [f"{metric}_mean", f"{metric}_sd"]
    numeric_cols += ["n_filters", "n_dead_mean"] + [f"paper_{m}" for m in METRICS]
    paths["summary.tsv"] = write_tsv(out / "summary.tsv", summary["rows"], numeric_cols)

    tf_numeric = []
    for row in summary["tf_rows"]:
        flat = {k: row[k] for k in ("model_id", "label", "layer", "n_trials")}
        for tf in summary["tfs"] + ["tfs_found"]:
            flat[f"{tf}_mean"], flat[f"{tf}_sd"] = row.get(tf, (None, None))
        tf_numeric.append(flat)
    paths["tf_coverage.tsv"] = write_tsv(out / "tf_coverage.tsv", tf_numeric)
    paths["trials.tsv"] = write_tsv(out / "trials.tsv", summary["trials"])
    findings = [{"finding": f["text"], "status": f["status"], "detail": f["detail"]}
                for f in summary["findings"]]
    paths["findings.tsv"] = write_tsv(out / "findings.tsv", findings, ["finding", "status", "detail"])

    rows, columns, headers = display_rows(summary)
    tf_rows, tf_columns, tf_headers = display_tf_rows(summary)
    name = summary["experiment"]["name"] + (f" (re-interpreted: {variant})" if variant else "")
    note = ("Mean ± sample sd over trials. match JASPAR / ground truth: fraction of the layer's "
            "filters with a Tomtom hit (E ≤ 0.1) in the database / among the ground-truth motifs. "
            f"Paper: {summary['paper_source'] or 'no reported numbers'}.\n\n")
    if unlike_note(summary["paper"]):
        note += f"**{unlike_note(summary['paper'])}**\n\n"
    if summary["incomplete"]:
        note = f"**{summary['incomplete']}**\n\n" + note
    main_md = note + to_markdown(rows, columns, headers)
    tf_md = "Mean ± sd number of filters whose best ground-truth match is each TF.\n\n" + \
        to_markdown(tf_rows, tf_columns, tf_headers)
    paths["summary.md"] = write_markdown(out / "summary.md", [
        ("Results", main_md),
        ("Per-TF coverage", tf_md),
        *([("Paper's claims about model groups", to_markdown(display_claims(summary)))]
          if summary["claims"] else []),
        *([("Paper's qualitative findings", to_markdown(findings))] if findings else []),
    ], title=f"{name}: summary")
    paths["tf_coverage.md"] = write_markdown(out / "tf_coverage.md", [("Per-TF coverage", tf_md)],
                                             title=f"{name}: per-TF coverage")
    paths["findings.md"] = write_markdown(out / "findings.md", [
        ("Findings", to_markdown(findings) if findings else "No findings declared.\n"),
        ("Claims", to_markdown(display_claims(summary)) if summary["claims"] else "None.\n"),
    ], title=f"{name}: paper's findings")
    paths.update(_write_fidelity(out, summary, name))
    _io.write_json(out / "summary.json", summary)
    paths["summary.json"] = out / "summary.json"
    return paths


def _write_fidelity(out: Path, summary: dict[str, Any], name: str) -> dict[str, Path]:
    """``fidelity.tsv`` / ``fidelity.md``: each reported number beside ours, with a verdict."""
    from motiflens.experiments.verdicts import fidelity_rows

    paper = summary["paper"]
    rows = fidelity_rows(summary, paper)
    summary["fidelity"] = rows
    if not rows:
        return {}
    flat = [{**r, "paper": paper_text(r["paper"])} for r in rows]
    shown = [{
        "paper's claim": r["claim"], "metric": METRIC_TITLES.get(r["metric"], r["metric"]),
        "paper": r["paper"], "ours (mean ± sd)": fmt_mean_sd(r["ours_mean"], r["ours_sd"], 3),
        "trials": "" if r["n_trials"] is None else r["n_trials"], "rule": r["rule"],
        "verdict": r["verdict"],
    } for r in flat]
    note = ("Every number the paper's text reports for this experiment, beside ours. Rules: a "
            "mean ± sd is consistent within 2 combined sd; a number without sd within 0.10; "
            "\"at best\" / \"at worst\" on the best / worst model's mean; findings by their "
            "thresholds (docs/RESULTS.md).\n\n")
    if unlike_note(paper):
        note += f"**{unlike_note(paper)}**\n\n"
    if summary["incomplete"]:
        note = f"**{summary['incomplete']}**\n\n" + note
    return {
        "fidelity.tsv": write_tsv(out / "fidelity.tsv", flat),
        "fidelity.md": write_markdown(out / "fidelity.md", [("Fidelity", note + to_markdown(shown))],
                                      title=f"{name}: the paper's numbers and ours"),
    }
