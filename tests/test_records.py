"""Portable sweep records and re-interpretation without retraining.

A tiny sweep (1 model x 2 trials x 2 epochs on 300 simulated sequences) is exported as records;
a copy of the records without any checkpoint must resume without training and aggregate to the
same table, and re-interpretation under other settings must pair every trial with its original.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from motiflens.errors import ConfigError, DatasetError
from motiflens.experiments import run_experiment
from motiflens.experiments.records import export_records, is_record_file
from motiflens.experiments.reinterpret import compare, reinterpret_sweep
from motiflens.experiments.sweep import RECORD_FORMAT

TINY = """\
name: tiny-records
fidelity: code
dataset:
  kind: synthetic
  simulation: {n_sequences: 300, seed: 1}
train: {batch_size: 50, patience: null, num_threads: 1}
models:
  - {id: tiny-a, model: "4x19p25-6x5p4-d16"}
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("records")
    definition = root / "tiny.yaml"
    definition.write_text(TINY)
    out = root / "sweep"
    run_experiment(definition, out, trials=2, epochs=2, progress=False)
    return out


def test_record_keeps_what_analyses_read_and_drops_the_rest():
    assert is_record_file("runs/m/trial-0/checkpoint.pt")
    assert is_record_file("runs/m/trial-0/interpret/layer1/queries.meme")
    assert is_record_file("runs/m/trial-0/reinterpret/v/result.json")
    assert is_record_file("runs/m/trial-0/analysis/interpret/layer1/importance.tsv")
    assert not is_record_file("runs/m/trial-0/analysis/interpret/layer1/attribution_logos.pdf")
    assert is_record_file("report.html") and is_record_file("figures/pool_size.pdf")
    assert is_record_file("figures/fig4.png") and is_record_file("figures/s2fig.pdf")  # in vivo
    for dropped in ("runs/m/trial-0/last.pt", "data/synthetic.h5", "figures/CNN-1_training.png",
                    "runs/m/trial-0/interpret/layer1/logos.png", ".lock",
                    "runs/m/trial-0/.tmp-result.json-x"):
        assert not is_record_file(dropped), dropped


def test_records_resume_without_retraining_and_aggregate_the_same(sweep, tmp_path, monkeypatch):
    result = json.loads((sweep / "runs/tiny-a/trial-0/result.json").read_text())
    assert result["record_format"] == RECORD_FORMAT and result["precision"] == "fp32"
    assert result["provenance"]["machine"]["cpu_model"]
    records = tmp_path / "records"
    written = export_records(sweep, records)
    assert not any(p.name in ("last.pt", "synthetic.h5") for p in written)
    for checkpoint in records.rglob("*.pt"):  # a clone with records only: no checkpoints at all
        checkpoint.unlink()

    import motiflens.train

    def no_training(*args, **kwargs):
        raise AssertionError("a recorded trial was trained again")

    monkeypatch.setattr(motiflens.train, "train", no_training)
    before = (sweep / "summary" / "summary.tsv").read_text()
    run_experiment(records / "experiment.yaml", records, trials=2, epochs=2, progress=False)
    assert (records / "summary" / "summary.tsv").read_text() == before
    assert (records / "data" / "synthetic.h5").is_file()  # simulated again, digest checked


def test_records_refuse_a_different_dataset(sweep, tmp_path):
    records = tmp_path / "records"
    export_records(sweep, records)
    state = json.loads((records / "sweep.json").read_text())
    state["dataset_digest"] = "sha256:" + "0" * 64
    (records / "sweep.json").write_text(json.dumps(state))
    with pytest.raises(DatasetError, match="wrong ground truth"):
        run_experiment(records / "experiment.yaml", records, trials=2, epochs=2, progress=False)


def test_reinterpret_pairs_trials_and_is_resumable(sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    out = reinterpret_sweep(copy, "paper-alignment", mode="paper")
    variant = json.loads((copy / "runs/tiny-a/trial-1/reinterpret/paper-alignment/result.json").read_text())
    assert variant["interpret"]["mode"] == "paper" and variant["trial"] == 1
    assert (copy / "runs/tiny-a/trial-1/reinterpret/paper-alignment/layer1/queries.meme").is_file()
    rows = compare(copy, "paper-alignment")
    assert {r["metric"] for r in rows} == {"match_db", "match_gt"}
    assert all(r["n_pairs"] == 2 for r in rows)
    assert (out / "compare.md").is_file() and (out / "summary.tsv").is_file()
    # same name, same settings: nothing redone; other settings under the same name: refused
    stamp = (copy / "runs/tiny-a/trial-0/reinterpret/paper-alignment/result.json").stat().st_mtime_ns
    reinterpret_sweep(copy, "paper-alignment", mode="paper")
    assert (copy / "runs/tiny-a/trial-0/reinterpret/paper-alignment/result.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="other settings"):
        reinterpret_sweep(copy, "paper-alignment", mode="paper", threshold=0.6)


def test_the_report_shows_each_reinterpretation_beside_the_original(sweep, tmp_path):
    """report.html gets a section per re-interpretation (settings, paired table); a sweep
    without any has no such section."""
    from motiflens.experiments.aggregate import reinterpretation_names
    from motiflens.report.html import render_report

    assert reinterpretation_names(sweep) == []
    assert 'id="reinterpret"' not in render_report(sweep)
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    reinterpret_sweep(copy, "paper-alignment", mode="paper")
    assert reinterpretation_names(copy) == ["paper-alignment"]
    html = render_report(copy)
    section = html[html.index('id="reinterpret"'):html.index('id="figures"')]
    assert "<h3>paper-alignment</h3>" in section and "mode paper" in section
    assert "2 trials read again" in section
    rows = compare(copy, "paper-alignment")
    table = section[section.index('<table class="compare">'):]
    assert table.count("<tr>") == 1 + len(rows)  # header + one row per model, layer, metric
    assert "paired difference" in table and "paper-alignment" in table


def test_two_sweeps_pair_by_row_and_seed(sweep, tmp_path, capsys):
    from motiflens.cli import main
    from motiflens.experiments.reinterpret import compare_sweeps

    other = tmp_path / "other"
    export_records(sweep, other)
    rows = compare_sweeps(sweep, other)
    assert {r["metric"] for r in rows} == {"auroc", "match_db", "match_gt"}
    assert all(r["n_pairs"] == 2 and r["diff_mean"] == 0 for r in rows)  # the same trials
    assert main(["compare", str(sweep), str(other), "--out", str(tmp_path / "c.md")]) == 0
    assert "paired t-test" in (tmp_path / "c.md").read_text()
    assert (tmp_path / "c.tsv").is_file()
    record = json.loads((tmp_path / "c.json").read_text())
    assert record["compared"]["other"] == str(other.resolve()) and record["provenance"]["versions"]
    capsys.readouterr()
    assert main(["compare", str(sweep), str(other), "--right-variant", "nope",
                 "--out", str(tmp_path / "d.md")]) == 2
    assert "--right-variant: " in capsys.readouterr().err and not (tmp_path / "d.md").exists()


def test_a_seed_borrowing_row_pairs_with_its_twin():
    """``CNN-2-exp`` (seed_from CNN-2) pairs with ``CNN-2`` of another sweep, trial by trial, and
    only where the recorded seeds agree."""
    from motiflens.experiments.reinterpret import compare_sides

    def side(model_id, values, seeds):
        trials = [{"model_id": model_id, "layer": 1, "trial": k, "seed": s, "match_gt": v}
                  for k, (v, s) in enumerate(zip(values, seeds))]
        return {"rows": [{"model_id": model_id, "layer": 1}], "trials": trials}

    relu = side("CNN-2", [0.0, 0.1, 0.2], [11, 12, 13])
    exp = side("CNN-2-exp", [0.5, 0.7, 0.9], [11, 12, 99])  # trial 2: another seed, not paired
    assert compare_sides(relu, exp) == []  # different ids and no mapping: nothing pairs
    rows = compare_sides(relu, exp, metrics=("match_gt",), right_pairs={"CNN-2-exp": "CNN-2"})
    assert len(rows) == 1 and rows[0]["b_model_id"] == "CNN-2-exp"
    assert rows[0]["n_pairs"] == 2 and rows[0]["diff_mean"] == pytest.approx(0.55)


def test_a_constant_paired_difference_has_no_p_value():
    """Fractions move in steps of 1 / filters: two pairs that both gain one step have no
    spread, and the paired t-test no p-value (not p = 0); no change at all is p = 1."""
    from motiflens.experiments.reinterpret import _paired
    from motiflens.tables import fmt_mean_sd

    step = _paired([0.0, 0.5], [1 / 6, 0.5 + 1 / 6])
    assert step["diff_sd"] == 0.0 and step["p_paired_t"] is None
    assert step["diff_mean"] == pytest.approx(1 / 6)
    assert _paired([0.2, 0.4], [0.2, 0.4])["p_paired_t"] == 1.0
    assert 0 < _paired([0.0, 0.5, 0.3], [0.2, 0.6, 0.3])["p_paired_t"] < 1
    assert fmt_mean_sd(-1e-6, 0.1) == "0.000 ± 0.100"


def test_records_warn_when_the_report_misses_later_summaries(sweep, tmp_path, capsys):
    import os

    from motiflens.cli import main

    copy = tmp_path / "copy"
    export_records(sweep, copy)
    (copy / "report.html").write_text("<html></html>")
    os.utime(copy / "report.html", (1_000_000_000, 1_000_000_000))  # built before summary/
    capsys.readouterr()
    assert main(["records", str(copy), "--to", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "predates summary" in err and f"motiflens report {tmp_path / 'out'}" in err
    os.utime(copy / "report.html")  # rebuilt now: nothing to say
    assert main(["records", str(copy), "--to", str(tmp_path / "out2")]) == 0
    assert "predates" not in capsys.readouterr().err
