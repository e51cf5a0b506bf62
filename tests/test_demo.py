"""`make demo` end to end on a tiny schedule: the authors'-code sweep subset, printed side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motiflens.demo import DEMO_TRAIN, run_authors_code_demo

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def test_authors_code_demo_prints_the_models_side_by_side(tmp_path, capsys):
    rows = run_authors_code_demo(tmp_path / "demo", ["CNN-25"], seed=0, n_sequences=400, epochs=1)
    out = capsys.readouterr().out
    assert set(rows) == {"CNN-25"} and 0.0 <= rows["CNN-25"]["auroc"] <= 1.0
    assert "filters matching ground truth" in out and "0.980 ± 0.027" in out
    assert rows["CNN-25"]["precision"] in ("fp32", "bf16")
    result = tmp_path / "demo/authors-code/runs/CNN-25/trial-0/result.json"
    assert result.is_file()
    config = json.loads((result.parent / "config.json").read_text())
    assert config["train_config"]["dropout_masks"] == "fast"  # the committed sweeps' masks


@pytest.mark.parametrize("experiment,model", [("table1-authors-code", "CNN-2"),
                                              ("table1-authors-code", "CNN-25"),
                                              ("table2-real", "CNN-2"), ("table2-real", "CNN-25")])
def test_demo_trial_is_trial_0_of_the_committed_records(tmp_path, experiment, model):
    """The README's claim: with native bf16 the demo trains exactly the records' trial 0 (same
    seed, same settings; only precision reads "auto" instead of the resolved "bf16")."""
    from motiflens.experiments.registry import load_experiment
    from motiflens.experiments.sweep import _with_train_overrides, plan_trials, subset_experiment
    from motiflens.experiments.trials import _train_config

    exp = _with_train_overrides(subset_experiment(load_experiment(experiment), [model]),
                                DEMO_TRAIN)
    task = plan_trials(exp, tmp_path, trials=1, sweep_seed=0, dataset=tmp_path / "d.h5")[0]
    demo = _train_config(task).to_dict()
    record = json.loads((RESULTS / experiment / "runs" / model / "trial-0" / "config.json")
                        .read_text())["train_config"]
    assert demo.pop("precision") == "auto" and record.pop("precision") == "bf16"
    assert demo == record
