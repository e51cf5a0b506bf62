"""Analyses of finished trials: filter importance, motif completeness, null match rates.

They answer the paper's open questions on a sweep's records (``checkpoint.pt`` + the
interpretation files), without retraining:

- which filters matter: :func:`motiflens.interpret.importance.filter_importance` on the test set;
- how whole the learned motifs are: :func:`motiflens.interpret.completeness.model_completeness`
  on the Tomtom alignments that the interpretation recorded;
- how often "matches JASPAR / ground truth" happens by chance:
  :func:`motiflens.interpret.nulls.null_match_rates`.

Per trial and layer they write ``analysis/<interpretation>/layer<N>/``::

    importance.tsv     per filter: delta AU-ROC per class, delta loss, its match, most-hurt class
    groups.tsv         silencing every filter matched to one TF at once
    completeness.tsv   per matched filter: completeness, whole/partial, target, offset, strand
    nulls.tsv          false-match rates under each null (all filters in the denominator)
    summary.json       the numbers aggregated below

``<interpretation>`` is ``interpret`` (the trial's own) or ``reinterpret-<variant>``. The sweep
aggregation (:func:`summarize_analyses`) writes ``summary/analysis-<interpretation>.{tsv,md}``:
per model and layer, mean ± sd over trials.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from motiflens import _io
from motiflens.errors import ConfigError
from motiflens.experiments.aggregate import collect_results, load_sweep_experiment, mean_sd
from motiflens.experiments.sweep import subset_experiment
from motiflens.experiments.sweep_data import prepare_dataset, verify_dataset
from motiflens.tables import fmt_mean_sd, to_markdown, write_markdown, write_tsv

ANALYSES = ("importance", "completeness", "nulls", "attribution")
#: What ``analyze`` runs unless told otherwise (attribution is opt-in: ISM and DeepSHAP cost
#: tens of seconds per trial).
DEFAULT_ANALYSES = ("importance", "completeness", "nulls")
#: Attribution methods scored against ground truth; ``*-corrected`` = with gradient correction.
ATTRIBUTION_METHODS = ("saliency", "saliency-corrected", "grad_x_input", "integrated_gradients",
                       "deepshap", "ism")


def _interpretation_dir(trial: Path, variant: str | None) -> Path:
    return trial / "interpret" if variant is None else trial / "reinterpret" / variant


def _label(variant: str | None) -> str:
    return "interpret" if variant is None else f"reinterpret-{variant}"


def _settings(trial: Path, variant: str | None, layer: int) -> dict[str, Any]:
    """The settings that produced the interpretation being analysed.

    First as the interpretation recorded them beside its files
    (``layer<N>/summary.json``: a ``motiflens train`` run has nothing else); else, for older
    records, as the sweep recorded them (``result.json``, ``trial.json``).
    """
    recorded = _interpretation_dir(trial, variant) / f"layer{layer}" / "summary.json"
    if recorded.is_file():
        config = _io.read_json(recorded).get("interpret_config")
        if config:
            return dict(config)
    if variant is not None:
        return dict(_io.read_json(trial / "reinterpret" / variant / "result.json")["interpret"])
    for name in ("result.json", "trial.json"):
        if (trial / name).is_file():
            record = _io.read_json(trial / name)
            found = record.get("interpret") or record.get("identity", {}).get("interpret")
            if found:
                return dict(found)
    return {}


def analyze_trial(trial: str | Path, layer: int, dataset: str | Path,
                  analyses: Sequence[str] = DEFAULT_ANALYSES, variant: str | None = None,
                  n_sequences: int | None = None, null_seeds: Sequence[int] = (0, 1, 2)
                  ) -> dict[str, Any]:
    """Run the analyses on one trial's layer; write its files; return its summary.

    Parameters
    ----------
    trial : path
        A trial (or single run) directory with ``checkpoint.pt`` and ``interpret/layer<N>``.
    layer : int
    dataset : path
        The trial's dataset (its test split is used).
    analyses : names out of ``ANALYSES``
    variant : str or None
        Use re-interpretation ``variant`` instead of the trial's own interpretation.
    n_sequences : int or None
        Use only the first N test sequences (None: all).
    """
    from motiflens.data.dataset import load_dataset
    from motiflens.interpret.completeness import Completeness, model_completeness
    from motiflens.interpret.importance import filter_importance, groups_by_tf, importance_table
    from motiflens.interpret.nulls import null_match_rates
    from motiflens.interpret.pipeline import dataset_ground_truth
    from motiflens.interpret.tomtom import read_tomtom_tsv
    from motiflens.jaspar import load_motif_source
    from motiflens.motifs import read_meme
    from motiflens.train import load_run

    unknown = sorted(set(analyses) - set(ANALYSES))
    if unknown:
        raise ConfigError(f"analyses: unknown {unknown}; valid: {', '.join(ANALYSES)}")
    trial = Path(trial)
    model, spec, _ = load_run(trial)
    n_conv = len(getattr(spec, "conv", []))
    if not 1 <= layer <= n_conv:
        raise ConfigError(f"{trial}: layer {layer}: expected 1..{n_conv} ({spec.name} has "
                          f"{n_conv} convolutional layers) (--layer)")
    source = _interpretation_dir(trial, variant) / f"layer{layer}"
    if not (source / "filters.tsv").is_file():
        raise ConfigError(f"{source}: not interpreted (run `motiflens interpret` or "
                          "`motiflens reinterpret` first)")
    settings = _settings(trial, variant, layer)
    out = trial / "analysis" / _label(variant) / f"layer{layer}"
    with load_dataset(dataset, in_memory=False) as data:
        n = len(data.test) if n_sequences is None else min(n_sequences, len(data.test))
        X, Y = data.test.take(np.arange(n))
        labels, attrs = list(data.label_names), dict(data.attrs)
    gt_ids = dataset_ground_truth(labels, attrs, settings.get("gt_list", "paper"))
    summary: dict[str, Any] = {"layer": layer, "interpretation": _label(variant),
                               "n_sequences": int(n)}
    t0 = time.perf_counter()
    if "importance" in analyses:
        groups = groups_by_tf(source / "filters.tsv")
        result = filter_importance(model, X, Y, layer=layer, groups=groups, label_names=labels)
        table = importance_table(result, source / "filters.tsv")
        write_tsv(out / "importance.tsv", table)
        write_tsv(out / "groups.tsv", result.group_rows(), result.group_columns())
        summary.update(_importance_summary(table))
    if "completeness" in analyses:
        database = load_motif_source(settings.get("db", "JASPAR2016"))
        queries = read_meme(source / "queries.meme") if (source / "queries.meme").is_file() \
            else read_meme(source / "filters.meme")
        trim = not (source / "queries.meme").is_file() and settings.get("trim", True)
        done = model_completeness(queries, database, read_tomtom_tsv(source / "tomtom.tsv"),
                                  gt_ids or None, trim=bool(trim))
        write_tsv(out / "completeness.tsv", [_io.to_jsonable(i) for i in done.items],
                  [f.name for f in dataclasses.fields(Completeness)])
        stats = done.to_dict()
        summary["completeness_mean"] = _finite(stats.get("mean"))
        summary["completeness_whole_fraction"] = _finite(stats.get("frac_whole"))
        summary["completeness_n"] = stats.get("n_matched")
        summary["completeness_values"] = [float(v) for v in done.values]
    if "nulls" in analyses:
        database = load_motif_source(settings.get("db", "JASPAR2016"))
        rates = null_match_rates(model, X, database, gt_ids, layer=layer, seeds=null_seeds,
                                 trim=settings.get("trim", True))
        write_tsv(out / "nulls.tsv", [r.to_dict() for r in rates])
        for r in rates:
            summary[f"null_{r.null}_{r.mode}_db"] = r.rate_db
            summary[f"null_{r.null}_{r.mode}_gt"] = r.rate_gt
            summary[f"null_{r.null}_{r.mode}_alive"] = r.n_alive
    if "attribution" in analyses:
        scores = attribution_scores(model, dataset, n_sequences=min(n, 500))
        write_tsv(out / "attribution.tsv", [{"method": m, **v} for m, v in scores.items()])
        for method, values in scores.items():
            for key in ("auroc_ic0.01", "aupr_ic0.01", "auroc_ic0.1", "aupr_ic0.1"):
                summary[f"attr_{method}_{key}"] = values.get(key)
        attribution_examples(model, dataset, out / "attribution_logos.png")
    summary["seconds"] = time.perf_counter() - t0
    if (out / "summary.json").is_file():  # keep the analyses of earlier calls
        summary = {**_io.read_json(out / "summary.json")["summary"], **summary}
    _io.write_json(out / "summary.json", {"summary": summary, "provenance": _io.provenance()})
    return summary


def attribution_scores(model: Any, dataset: str | Path, n_sequences: int = 500,
                       seed: int = 0) -> dict[str, dict[str, float]]:
    """Interpretability AUROC / AUPR of every method of :data:`ATTRIBUTION_METHODS` on the same
    seeded set of test sequences (:mod:`motiflens.interpret.interpretability`)."""
    from motiflens.interpret.interpretability import interpretability_scores

    plain = [m for m in ATTRIBUTION_METHODS if not m.endswith("-corrected")]
    scores = interpretability_scores(model, dataset, methods=plain, n_sequences=n_sequences,
                                     seed=seed)
    corrected = [m[: -len("-corrected")] for m in ATTRIBUTION_METHODS if m.endswith("-corrected")]
    if corrected:
        more = interpretability_scores(model, dataset, methods=corrected, n_sequences=n_sequences,
                                       seed=seed, correct_gradient=True)
        scores.update({f"{m}-corrected": v for m, v in more.items()})
    return scores


def attribution_examples(model: Any, dataset: str | Path, path: Path, n_examples: int = 3,
                         seed: int = 0) -> Path | None:
    """Attribution logos of a few test sequences (corrected saliency x input and ISM for a class
    positive in each), embedded motifs of that class shaded; None without ground truth."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from motiflens.data.dataset import load_dataset
    from motiflens.interpret.attribution import attribute
    from motiflens.interpret.logos import plot_contributions, save_figure

    with load_dataset(dataset, in_memory=False) as data:
        truth = data.read_ground_truth("test")
        if truth is None:
            return None
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(data.test), size=min(n_examples, len(data.test)),
                                  replace=False))
        X, Y = data.test.take(rows)
        labels = list(data.label_names)
    fig = Figure(figsize=(14, 1.3 * 2 * len(rows) + 0.4))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2 * len(rows), 1, hspace=0.6)
    for i, row in enumerate(rows):
        cls = int(np.flatnonzero(Y[i])[0])
        spans = [(int(s), int(s) + int(w)) for q, t, s, w in
                 zip(truth["seq"], truth["tf"], truth["start"], truth["width"])
                 if int(q) == int(row) and int(t) == cls]
        x = X[i:i + 1]
        grad = attribute(model, x, "saliency", target=cls, correct_gradient=True)[0] * x[0]
        ism = attribute(model, x, "ism", target=cls)[0]
        for k, (values, name) in enumerate(((grad, "saliency x input\n(corrected)"),
                                            (-ism, "ISM (-Δ)"))):
            ax = fig.add_subplot(grid[2 * i + k, 0])
            plot_contributions(ax, values, spans, ylabel=name)
            if k == 0:
                ax.set_title(f"test sequence {int(row)}, class {labels[cls]} (its embedded "
                             "motifs shaded)", fontsize=8, loc="left")
    save_figure(fig, path, path.with_suffix(".pdf"), dpi=90)
    return path


def _finite(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _importance_summary(table: list[dict[str, Any]]) -> dict[str, Any]:
    """How importance relates to the matches: the two numbers the paper's caveats ask for."""
    gt = [r for r in table if r.get("ground_truth_tf")]
    own = [r for r in gt if r.get("most_hurt_class") == r.get("ground_truth_tf")]
    db_only = [r for r in table if r.get("matches_database") and not r.get("ground_truth_tf")]
    unmatched = [r for r in table if not r.get("matches_database") and not r.get("ground_truth_tf")]

    def loss(rows: list[dict[str, Any]]) -> float | None:
        values = [float(r["delta_loss"]) for r in rows if r.get("delta_loss") is not None]
        return float(np.mean(values)) if values else None

    return {
        "importance_gt_filters": len(gt),
        "importance_own_tf_most_hurt": (len(own) / len(gt)) if gt else None,
        "importance_delta_loss_gt": loss(gt),
        "importance_delta_loss_db_only": loss(db_only),
        "importance_delta_loss_unmatched": loss(unmatched),
        "importance_db_only_filters": len(db_only),
    }


def analyze_sweep(results_dir: str | Path, models: Sequence[str] | None = None,
                  analyses: Sequence[str] = DEFAULT_ANALYSES, variant: str | None = None,
                  data: str | Path | None = None, n_sequences: int | None = None,
                  progress: Callable[[str], None] | None = None) -> Path:
    """Analyse every complete trial (of ``models``) of a sweep; write the aggregated tables.

    Trials whose analysis summary already exists are not redone. Returns the Markdown table.
    """
    root = Path(results_dir).expanduser().resolve()
    experiment = subset_experiment(load_sweep_experiment(root), list(models or []) or None)
    dataset = prepare_dataset(experiment, root, data)
    verify_dataset(root, dataset)
    results = collect_results(root, experiment)
    for entry in experiment.models:
        for result in results[entry.id]:
            trial = Path(result["trial_dir"])
            for layer in entry.layers:
                done = trial / "analysis" / _label(variant) / f"layer{layer}" / "summary.json"
                todo = [a for a in analyses if not _has(done, a)]
                if not todo:
                    continue
                summary = analyze_trial(trial, layer, dataset, todo, variant, n_sequences)
                if progress is not None:
                    progress(f"{entry.id} trial {result['trial']} layer {layer}: "
                             f"{summary['seconds']:.1f} s")
    return summarize_analyses(root, variant)


#: First-layer pools of Table 1's CNN-<pool> rows: small (<= 4) and large (>= 25) for the
#: completeness separation.
SMALL_POOL_ROWS = ("CNN-1", "CNN-2", "CNN-4")
LARGE_POOL_ROWS = ("CNN-25", "CNN-50", "CNN-100")


def completeness_separation(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """AUROC of completeness for "large-pool model" over the matched filters of the first
    layers of small-pool (``SMALL_POOL_ROWS``) and large-pool (``LARGE_POOL_ROWS``) rows; None
    unless both groups have matched filters."""
    from sklearn.metrics import roc_auc_score

    def pool(ids: Sequence[str]) -> tuple[list[str], list[float]]:
        chosen = [r for r in rows if r["model_id"] in ids and int(r["layer"]) == 1
                  and r.get("completeness_values")]
        return [r["model_id"] for r in chosen], [v for r in chosen for v in r["completeness_values"]]

    small_ids, small = pool(SMALL_POOL_ROWS)
    large_ids, large = pool(LARGE_POOL_ROWS)
    if not small or not large:
        return None
    labels = [0] * len(small) + [1] * len(large)
    return {"auroc": float(roc_auc_score(labels, small + large)), "small": small_ids,
            "large": large_ids, "n_small": len(small), "n_large": len(large)}


def _has(summary_path: Path, analysis: str) -> bool:
    """Whether a trial's analysis summary already holds ``analysis``."""
    if not summary_path.is_file():
        return False
    keys = _io.read_json(summary_path)["summary"]
    prefix = {"importance": "importance_", "completeness": "completeness_", "nulls": "null_",
              "attribution": "attr_"}[analysis]
    return any(k.startswith(prefix) for k in keys)


#: Columns of the aggregated table: per-trial summary key -> title.
COLUMNS = {
    "completeness_mean": "completeness (mean of matched filters)",
    "completeness_whole_fraction": "whole filters (of matched)",
    "importance_own_tf_most_hurt": "own TF most hurt (of gt-matched)",
    "importance_delta_loss_gt": "Δ loss, gt-matched filters",
    "importance_delta_loss_db_only": "Δ loss, JASPAR-only filters",
    "importance_delta_loss_unmatched": "Δ loss, unmatched filters",
    "null_untrained_paper_db": "null untrained (paper) JASPAR",
    "null_untrained_code_db": "null untrained (code) JASPAR",
    "null_untrained_code_gt": "null untrained (code) gt",
    "null_shuffled_paper_db": "null shuffled (paper) JASPAR",
    "null_shuffled_code_db": "null shuffled (code) JASPAR",
    "null_shuffled_code_gt": "null shuffled (code) gt",
    **{f"attr_{m}_auroc_ic0.1": f"{m} AUROC (IC 0.1)" for m in ATTRIBUTION_METHODS},
    **{f"attr_{m}_aupr_ic0.1": f"{m} AUPR (IC 0.1)" for m in ATTRIBUTION_METHODS},
    **{f"attr_{m}_auroc_ic0.01": f"{m} AUROC (IC 0.01)" for m in ATTRIBUTION_METHODS},
}


def summarize_analyses(results_dir: str | Path, variant: str | None = None) -> Path:
    """``summary/analysis-<interpretation>.{tsv,md}``: mean ± sd over trials per model/layer."""
    root = Path(results_dir)
    experiment = load_sweep_experiment(root)
    results = collect_results(root, experiment)
    rows, shown = [], []
    for entry in experiment.models:
        for layer in entry.layers:
            summaries = []
            for result in results[entry.id]:
                path = Path(result["trial_dir"]) / "analysis" / _label(variant) / \
                    f"layer{layer}" / "summary.json"
                if path.is_file():
                    summaries.append(_io.read_json(path)["summary"])
            if not summaries:
                continue
            row: dict[str, Any] = {"model_id": entry.id, "layer": layer, "n_trials": len(summaries)}
            text: dict[str, Any] = {"model": entry.label, "layer": layer, "n": len(summaries)}
            for key, title in COLUMNS.items():
                values = [s.get(key) for s in summaries]
                mean, sd = mean_sd(values)
                known = sum(v is not None for v in values)
                row[f"{key}_mean"], row[f"{key}_sd"], row[f"{key}_n"] = mean, sd, known
                if known:  # a mean over fewer trials (e.g. some without such filters) says so
                    text[title] = fmt_mean_sd(mean, sd, 3, n=known, of=len(values))
            row["completeness_values"] = [v for s in summaries for v in s.get("completeness_values", [])]
            rows.append(row)
            shown.append(text)
    out = root / "summary"
    write_tsv(out / f"analysis-{_label(variant)}.tsv",
              [{k: v for k, v in r.items() if k != "completeness_values"} for r in rows])
    _io.write_json(out / f"analysis-{_label(variant)}.json", rows)
    separation = completeness_separation(rows)
    if separation is not None:
        _io.write_json(out / f"analysis-{_label(variant)}-separation.json", separation)
    note = ("Per model and layer, mean ± sd over trials ('(k of n)': over the k trials that "
            "have such filters). Completeness: share of the matched "
            "motif's informative information content covered by the filter's informative "
            "columns (whole ≥ 0.8). Δ loss: test loss when the filter's activation map is "
            "replaced by its mean (positive = the filter helps). Null rates: fraction of all "
            "filters matching under untrained networks / column-shuffled PPMs.\n\n")
    sections = [("Analyses", note + (to_markdown(shown) if shown else "None yet.\n"))]
    if separation is not None:
        sections.append(("Completeness: large vs small first-layer pools", (
            f"AUROC of a matched filter's completeness for \"comes from a large-pool model\" "
            f"({', '.join(separation['large'])}: {separation['n_large']} filters) against small-pool "
            f"ones ({', '.join(separation['small'])}: {separation['n_small']} filters): "
            f"**{separation['auroc']:.3f}** (0.5 = no separation).\n")))
    return write_markdown(out / f"analysis-{_label(variant)}.md", sections,
                          title=f"{experiment.name}: importance, completeness, null rates")
