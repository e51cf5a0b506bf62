"""Importance, completeness and null rates over a sweep's records, aggregated per model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motiflens.cli import main
from motiflens.experiments import run_experiment
from motiflens.tables import read_tsv

TINY = """\
name: tiny-analyses
fidelity: code
dataset:
  kind: synthetic
  simulation: {n_sequences: 300, seed: 5}
train: {batch_size: 50, patience: null, num_threads: 1}
models:
  - {id: tiny-a, model: "6x19p25-6x5p4-d16"}
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("analyses")
    (root / "tiny.yaml").write_text(TINY)
    out = root / "sweep"
    run_experiment(root / "tiny.yaml", out, trials=2, epochs=2, progress=False)
    return out


def test_analyze_sweep_writes_per_trial_files_and_an_aggregate(sweep, capsys):
    assert main(["analyze", str(sweep), "--n-sequences", "40"]) == 0
    layer = sweep / "runs/tiny-a/trial-1/analysis/interpret/layer1"
    importance = read_tsv(layer / "importance.tsv")
    assert len(importance) == 6 and {"delta_loss", "most_hurt_class", "best_target"} <= set(importance[0])
    nulls = read_tsv(layer / "nulls.tsv")
    assert {r["null"] for r in nulls} == {"untrained", "shuffled", "trained"}
    assert {r["mode"] for r in nulls} == {"paper", "code"}
    assert all(0.0 <= float(r["rate_db"]) <= 1.0 for r in nulls)
    aggregate = read_tsv(sweep / "summary" / "analysis-interpret.tsv")
    assert aggregate[0]["model_id"] == "tiny-a" and aggregate[0]["n_trials"] == "2"
    assert (sweep / "summary" / "analysis-interpret.md").read_text().count("| tiny-a |") == 1
    # a second call redoes nothing
    stamp = (layer / "summary.json").stat().st_mtime_ns
    assert main(["analyze", str(sweep), "--n-sequences", "40"]) == 0
    assert (layer / "summary.json").stat().st_mtime_ns == stamp


def test_analyze_a_single_run(sweep, capsys):
    run = sweep / "runs/tiny-a/trial-0"
    capsys.readouterr()
    assert main(["analyze", str(run), "--analyses", "completeness", "--n-sequences", "30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("layer 1 (30 test sequences) -> ") and "completeness of " in out
    assert "None" not in out
    summary = json.loads((run / "analysis/interpret/layer1/summary.json").read_text())["summary"]
    assert summary["interpretation"] == "interpret"


def test_attribution_scores_join_the_summary_without_redoing_the_rest(sweep):
    from motiflens.experiments.analyses import analyze_sweep

    layer = sweep / "runs/tiny-a/trial-0/analysis/interpret/layer1"
    analyze_sweep(sweep, analyses=("importance",), n_sequences=40)
    before = json.loads((layer / "summary.json").read_text())["summary"]
    analyze_sweep(sweep, analyses=("importance", "attribution"), n_sequences=40)
    after = json.loads((layer / "summary.json").read_text())["summary"]
    assert after["importance_gt_filters"] == before["importance_gt_filters"]
    for method in ("saliency", "saliency-corrected", "ism", "deepshap"):
        value = after[f"attr_{method}_auroc_ic0.1"]
        assert value is None or 0.0 <= value <= 1.0
    rows = read_tsv(layer / "attribution.tsv")
    assert {r["method"] for r in rows} >= {"saliency", "saliency-corrected", "integrated_gradients"}


def test_report_shows_the_analyses_and_attribution_logos(sweep):
    from motiflens.report.html import write_report

    from motiflens.experiments.analyses import analyze_sweep

    analyze_sweep(sweep, analyses=("importance", "completeness", "nulls", "attribution"),
                  n_sequences=40)
    text = write_report(sweep).read_text()
    assert 'class="analyses"' in text and "null untrained (code) JASPAR" in text
    assert 'alt="tiny-a attribution logos"' in text
    assert "<th>Δ loss silenced</th>" in text or "Tomtom: 0 of" in text  # importance by each match
    assert (sweep / "runs/tiny-a/trial-0/analysis/interpret/layer1/attribution_logos.pdf").is_file()


def test_completeness_separation_is_an_auroc_over_matched_filters():
    from motiflens.experiments.analyses import completeness_separation

    rows = [{"model_id": "CNN-2", "layer": 1, "completeness_values": [0.3, 0.5, 0.9]},
            {"model_id": "CNN-25", "layer": 1, "completeness_values": [0.95, 1.0]},
            {"model_id": "CNN-25", "layer": 2, "completeness_values": [0.0]}]  # layer 2: ignored
    result = completeness_separation(rows)
    assert result["auroc"] == 1.0 and (result["n_small"], result["n_large"]) == (3, 2)
    rows[0]["completeness_values"] = [0.97, 1.0, 0.99]
    assert completeness_separation(rows)["auroc"] < 0.5
    assert completeness_separation(rows[:1]) is None


def test_analyze_a_run_made_by_motiflens_train(tmp_path, capsys):
    """A plain ``train`` run has no sweep records (result.json, trial.json): the settings come
    from what ``interpret`` recorded beside its files."""
    data, run = tmp_path / "d.h5", tmp_path / "run"
    assert main(["simulate", "--out", str(data), "--n", "300", "--seed", "3"]) == 0
    assert main(["train", "--model", "6x19p25-6x5p4-d16", "--data", str(data), "--epochs", "1",
                 "--threads", "1", "--out", str(run)]) == 0
    assert main(["interpret", str(run), "--n-sequences", "40", "--gt-list", "code"]) == 0
    assert not (run / "result.json").exists()
    capsys.readouterr()
    assert main(["analyze", str(run), "--analyses", "importance", "completeness",
                 "--n-sequences", "30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("layer 1 (30 test sequences)") and "importance, mean rise" in out
    layer = run / "analysis/interpret/layer1"
    assert len(read_tsv(layer / "importance.tsv")) == 6
    # with or without rows, every table has its header
    assert (layer / "groups.tsv").read_text().startswith("group\tfilters\tdelta_loss")
    assert (layer / "completeness.tsv").read_text().startswith("query_id\ttarget_id")


def test_analyze_names_an_unknown_row_or_layer(sweep, capsys):
    capsys.readouterr()
    assert main(["analyze", str(sweep), "--models", "CNN-999"]) == 2
    assert "--models: unknown row(s) CNN-999" in capsys.readouterr().err
    assert main(["analyze", str(sweep / "runs/tiny-a/trial-0"), "--layer", "5"]) == 2
    assert "layer 5: expected 1..2" in capsys.readouterr().err


def test_a_mean_over_fewer_trials_says_how_many(tmp_path):
    """Completeness of matched filters, say, exists only in trials that have matched filters:
    the report's analysis table says '(k of n)' for it (and nothing for full columns)."""
    from motiflens.experiments.analyses import COLUMNS
    from motiflens.report.html_sections import _analyses_html
    from motiflens.tables import write_tsv

    (partial, title), (full, full_title) = list(COLUMNS.items())[:2]
    write_tsv(tmp_path / "summary" / "analysis-interpret.tsv", [{
        "model_id": "CNN-2", "layer": 1, "n_trials": 5,
        f"{partial}_mean": 0.832, f"{partial}_sd": 0.154, f"{partial}_n": 2,
        f"{full}_mean": 0.5, f"{full}_sd": 0.1, f"{full}_n": 5}])
    text = _analyses_html(tmp_path)
    assert "0.832 ± 0.154 (2 of 5)" in text and "0.500 ± 0.100<" in text
