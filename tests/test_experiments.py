"""Experiment registry, seeds, aggregation and table writers (no training here)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from motiflens.errors import ConfigError, FormatError, MotiflensError
from motiflens.experiments import (
    experiment_from_dict,
    experiment_path,
    list_experiments,
    load_experiment,
    load_paper_numbers,
    trial_seed,
)
from motiflens.experiments.aggregate import mean_sd
from motiflens.experiments.sweep import build_spec, plan_trials, trial_dir
from motiflens.experiments.verdicts import evaluate_claim, evaluate_finding
from motiflens.models import MODEL_NAMES
from motiflens.tables import fmt_mean_sd, read_tsv, to_markdown, to_tsv, write_tsv


# ----------------------------------------------------------------------------- registry


def test_builtin_experiments_are_the_papers():
    assert set(list_experiments()) == {
        "table1-paper-text", "table1-authors-code", "table1-code-protocol",
        "deeper-layers-paper-text", "deeper-layers-authors-code", "table2",
        "activations-authors-code", "table2-real", "activations-real"}
    table1 = load_experiment("table1")  # earlier name of table1-paper-text
    assert table1.name == "table1-paper-text" and table1.fidelity == "text"
    ids = [m.id for m in table1.models]
    for name in ("CNN-1", "CNN-2", "CNN-4", "CNN-10", "CNN-25", "CNN-50", "CNN-100", "CNN9-4",
                 "CNN9-25", "CNN3-2", "CNN3-50", "CNN-50-2", "CNN19-1-2", "CNN-25-60",
                 "CNN-25-90", "CNN-25-120"):
        assert name in ids
    assert table1.dataset.kind == "synthetic" and table1.protocol == "paper"
    assert all(m.layers == (1,) for m in table1.models)
    code = load_experiment("table1-code")  # the same rows, trained as the authors' code did
    assert code.protocol == "code" and code.models == table1.models
    assert code.dataset == table1.dataset and code.interpret == table1.interpret

    deeper = load_experiment("deeper-layers")
    assert {m.id: m.layers for m in deeper.models} == {"CNN-1": (1, 2), "CNN-1-1-100": (1, 2, 3)}

    authors = load_experiment("table1-authors-code")  # every fidelity axis at the code's end
    assert authors.models == table1.models and authors.protocol == "code"
    assert authors.dataset.simulation == {"spacing": "code"}
    assert (authors.interpret.mode, authors.interpret.db, authors.interpret.gt_list) == ("code", "paper", "code")
    assert table1.dataset.simulation == {"spacing": "buffer"}
    assert (table1.interpret.mode, table1.interpret.db, table1.interpret.gt_list) == ("paper", "JASPAR2016", "paper")
    activations = load_experiment("activations-authors-code")  # paired with table1's ReLU rows
    assert {m.id: (m.activations, m.seed_from) for m in activations.models}["CNN-2-exp"] == (
        {1: "exponential"}, "CNN-2")
    deeper_code = load_experiment("deeper-layers-authors-code")
    assert deeper_code.models == deeper.models and deeper_code.protocol == "code"

    real = load_experiment("table2-real")  # the in vivo design on the real-data example
    assert [m.id for m in real.models] == [m.id for m in load_experiment("table2").models]
    assert real.protocol == "code" and real.train == {"batch_size": 32}
    assert real.dataset.kind == "file" and real.interpret.mode == "code"

    table2 = load_experiment("table2")
    assert table2.dataset.kind == "file" and table2.dataset.path is None
    assert [m.id for m in table2.models][:7] == [f"CNN-{p}" for p in (1, 2, 4, 10, 25, 50, 100)]
    assert "CNN-25-120" in [m.id for m in table2.models]


@pytest.mark.parametrize("name", ["table1", "deeper-layers", "table2", "table1-authors-code",
                                  "deeper-layers-authors-code"])
def test_every_builtin_model_builds_with_its_layers(name):
    experiment = load_experiment(name)
    for entry in experiment.models:
        assert entry.model in MODEL_NAMES
        spec = build_spec(entry, 1000 if name == "table2" else 200, 12)
        assert len(spec.conv) >= max(entry.layers)


def test_cnn25_variants_have_their_filter_counts():
    experiment = load_experiment("table1")
    counts = {m.id: build_spec(m, 200, 12).conv[0].filters for m in experiment.models}
    assert counts["CNN-25"] == 30
    assert (counts["CNN-25-60"], counts["CNN-25-90"], counts["CNN-25-120"]) == (60, 90, 120)


def test_user_yaml_copy_and_edit(tmp_path):
    data = yaml.safe_load(experiment_path("table1").read_text())
    data["name"] = "mine"
    data["models"] = [
        {"model": "CNN-25"},
        {"id": "wide", "label": "CNN-25 x 45", "model": "CNN-25", "filters": {1: 45}},
        {"id": "custom", "model": "12x15p20-32x5p5-d64", "layers": [1, 2]},
    ]
    data["dataset"]["simulation"] = {"n_sequences": 2000}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    experiment = load_experiment(path)
    assert experiment.name == "mine" and experiment.source == str(path)
    wide = experiment.model("wide")
    assert wide.label == "CNN-25 x 45"
    spec = build_spec(wide, 200, 12)
    assert spec.conv[0].filters == 45 and spec.conv[1].filters == 128 and spec.name == "wide"
    assert len(build_spec(experiment.model("custom"), 200, 12).conv) == 2
    # round trip through the plain-data form
    again = experiment_from_dict(experiment.to_dict())
    assert again.to_dict() == experiment.to_dict()


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(modles=[]), "unknown key"),
    (lambda d: d.pop("models"), "missing required key 'models'"),
    (lambda d: d.update(models=[{"model": "CNN-1"}, {"model": "CNN-1"}]), "duplicate model id"),
    (lambda d: d.update(models=[{"model": "CNN-1", "layers": [0]}]), "layers"),
    (lambda d: d.update(models=[{"model": "CNN-1", "id": "a/b"}]), "not a valid row id"),
    (lambda d: d.update(models=[{"model": "CNN-1", "colour": 1}]), "unknown key"),
    (lambda d: d["dataset"].update(kind="remote"), "dataset.kind"),
    (lambda d: d.update(train={"seed": 3}), "train.seed"),
    (lambda d: d.update(interpret={"mode": "paper", "dbb": "x"}), "unknown key"),
])
def test_bad_definitions_are_config_errors(edit, message):
    data = yaml.safe_load(experiment_path("deeper-layers").read_text())
    edit(data)
    with pytest.raises(ConfigError, match=message):
        experiment_from_dict(data, source="x.yaml")


def test_unknown_name_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown experiment 'table9'.*table1"):
        load_experiment("table9")
    with pytest.raises(ConfigError):
        load_experiment("paper_numbers")
    with pytest.raises(FormatError, match="not found"):
        load_experiment(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodels: [\n")
    with pytest.raises(FormatError, match=r"bad.yaml:\d+: invalid YAML"):
        load_experiment(bad)


def test_layer_beyond_the_model_is_rejected():
    experiment = experiment_from_dict({"name": "x", "models": [{"model": "CNN-25", "layers": [3]}]})
    with pytest.raises(ConfigError, match="layer 3 does not exist"):
        build_spec(experiment.models[0], 200, 12)
    experiment = experiment_from_dict({"name": "x", "models": [{"model": "CNN-9000"}]})
    with pytest.raises(MotiflensError, match="unknown model"):
        build_spec(experiment.models[0], 200, 12)


def test_paper_numbers_match_spec_section_7():
    t1 = load_paper_numbers("table1")
    assert t1["rows"]["CNN-25"][1]["match_gt"] == [0.980, 0.027]
    assert t1["rows"]["CNN-25-120"][1]["match_gt"] == [0.887, 0.025]
    assert t1["rows"]["CNN3-50"][1]["auroc"] == [0.652, 0.060]
    assert t1["rows"]["CNN3-2"][1]["auroc"] == [0.968, 0.039]
    assert t1["rows"]["CNN9-25"][1]["match_gt"] == [0.93]
    claims = {c["kind"]: c for c in t1["claims"] if c["metric"] == "match_gt"}
    assert claims["worst"]["value"] == [0.880, 0.034]
    deeper = load_paper_numbers("deeper-layers")["rows"]
    assert deeper["CNN-1"][2] == {"match_db": [0.900, 0.024], "match_gt": [0.847, 0.021]}
    assert deeper["CNN-1-1-100"][3] == {"match_db": [0.927, 0.020], "match_gt": [0.891, 0.030]}
    t2 = load_paper_numbers("table2")["rows"]
    assert t2["CNN-1"][2]["match_gt"] == [0.625, 0.030]
    assert load_paper_numbers(None)["rows"] == {}
    with pytest.raises(ConfigError, match="paper_numbers"):
        load_paper_numbers("table7")
    # every model a paper row names exists in its experiment
    for key in ("table1", "deeper-layers", "table2"):
        ids = {m.id for m in load_experiment(key).models}
        assert set(load_paper_numbers(key)["rows"]) <= ids


# ----------------------------------------------------------------------------- seeds, plan


def test_trial_seeds_are_derived_stable_and_distinct():
    seeds = {(m, k): trial_seed(0, m, k) for m in ("CNN-1", "CNN-25") for k in range(5)}
    assert len(set(seeds.values())) == 10
    assert all(0 <= s < 2**31 for s in seeds.values())
    assert trial_seed(0, "CNN-25", 3) == seeds[("CNN-25", 3)]  # deterministic
    assert trial_seed(1, "CNN-25", 3) != seeds[("CNN-25", 3)]  # depends on the sweep seed


def test_plan_does_not_depend_on_other_rows_or_trial_count(tmp_path):
    small = experiment_from_dict({"name": "x", "models": [{"model": "CNN-25"}]})
    big = experiment_from_dict({"name": "x", "models": [{"model": "CNN-1"}, {"model": "CNN-25"}]})
    a = plan_trials(small, tmp_path, 2, 7, tmp_path / "d.h5", epochs=3)
    b = plan_trials(big, tmp_path, 5, 7, tmp_path / "d.h5", epochs=3)
    b25 = [t for t in b if t.model_id == "CNN-25"]
    assert [(t.trial, t.seed, t.trial_dir) for t in a] == [(t.trial, t.seed, t.trial_dir) for t in b25[:2]]
    assert a[0].train["max_epochs"] == 3
    assert Path(a[1].trial_dir) == trial_dir(tmp_path, "CNN-25", 1).resolve()


# ----------------------------------------------------------------------------- aggregation


def test_mean_sd():
    assert mean_sd([]) == (None, None)
    assert mean_sd([0.5, None]) == (0.5, None)
    mean, sd = mean_sd([0.9, 1.0])
    assert mean == pytest.approx(0.95) and sd == pytest.approx(math.sqrt(0.005))


def _means(**values):
    out = {}
    for key, v in values.items():
        model, layer = key.rsplit("_L", 1)
        out[(model.replace("_", "-"), int(layer))] = {"n_trials": 2, "match_gt_mean": v, "auroc_mean": v}
    return out


def test_findings_threshold_and_comparison():
    means = _means(CNN_1_L1=0.1, CNN_2_L1=0.25, CNN_1_L2=0.8)
    ok = evaluate_finding({"text": "small", "metric": "match_gt", "models": ["CNN-1", "CNN-2"],
                           "op": "<=", "value": 0.3}, means)
    assert ok["status"] == "holds" and "CNN-2: 0.250" in ok["detail"]
    bad = evaluate_finding({"text": "small", "metric": "match_gt", "models": ["CNN-1", "CNN-2"],
                            "op": "<=", "value": 0.2}, means)
    assert bad["status"] == "does not hold"
    missing = evaluate_finding({"text": "x", "metric": "match_gt", "models": ["CNN-4"],
                                "op": "<", "value": 1}, means)
    assert missing["status"] == "not run"
    some = evaluate_finding({"text": "x", "metric": "match_gt", "models": ["CNN-1", "CNN-4"],
                             "op": "<", "value": 0.3}, means)
    assert some["status"] == "not run on all (1 of 2 models): holds so far"
    above = evaluate_finding({"text": "deep", "metric": "match_gt", "above": {"model": "CNN-1", "layer": 2},
                              "below": [{"model": "CNN-1", "layer": 1}], "by": 0.3}, means)
    assert above["status"] == "holds"
    small_gap = evaluate_finding({"text": "deep", "metric": "match_gt", "above": {"model": "CNN-2"},
                                  "below": [{"model": "CNN-1"}], "by": 0.3}, means)
    assert small_gap["status"] == "does not hold"
    with pytest.raises(ConfigError, match="metric"):
        evaluate_finding({"text": "x", "metric": "accuracy", "models": []}, means)
    with pytest.raises(ConfigError, match="op"):
        evaluate_finding({"text": "x", "metric": "auroc", "models": ["CNN-1"], "op": "=", "value": 1}, means)


def test_claims_pick_best_or_worst_group_member():
    means = _means(CNN_10_L1=0.9, CNN_25_L1=0.97)
    worst = evaluate_claim({"text": "t", "models": ["CNN-10", "CNN-25", "CNN-50"], "metric": "match_gt",
                            "kind": "worst", "value": [0.88, 0.034]}, means)
    assert worst["model"] == "CNN-10" and worst["ours"] == 0.9 and worst["paper"] == "0.880 ± 0.034"
    assert worst["n_models"] == 2
    best = evaluate_claim({"text": "t", "models": ["CNN-10", "CNN-25"], "metric": "match_gt",
                           "kind": "best", "value": [0.5]}, means)
    assert best["model"] == "CNN-25" and best["paper"] == "0.5"


# ----------------------------------------------------------------------------- tables


def test_tsv_and_markdown_writers(tmp_path):
    rows = [{"model": "CNN|1", "auroc": 0.91234567, "note": "a\tb\nc"},
            {"model": "CNN-2", "auroc": None, "note": float("nan")}]
    text = to_tsv(rows)
    lines = text.splitlines()
    assert lines[0] == "model\tauroc\tnote"
    assert lines[1] == "CNN|1\t0.912346\ta b c"
    assert lines[2] == "CNN-2\t\t"
    path = write_tsv(tmp_path / "t.tsv", rows, ["model", "auroc"])
    assert read_tsv(path) == [{"model": "CNN|1", "auroc": "0.912346"}, {"model": "CNN-2", "auroc": ""}]
    md = to_markdown(rows, ["model", "auroc"], headers={"auroc": "AU-ROC"})
    assert md.splitlines()[0] == "| model | AU-ROC |"
    assert "| CNN\\|1 | 0.912 |" in md and "| CNN-2 | – |" in md
    assert fmt_mean_sd(0.98, 0.027) == "0.980 ± 0.027"
    assert fmt_mean_sd(0.93) == "0.930" and fmt_mean_sd(None) == ""
    with pytest.raises(FormatError):
        read_tsv(tmp_path / "absent.tsv")


def test_fidelity_fills_unset_axes_and_explicit_keys_win():
    definition = {"name": "mix", "fidelity": "code", "models": ["CNN-4"],
                  "dataset": {"simulation": {"spacing": "buffer"}}, "interpret": {"mode": "paper"}}
    mixed = experiment_from_dict(definition)
    assert mixed.dataset.simulation == {"spacing": "buffer"}  # explicit: the text's spacing
    assert mixed.interpret.mode == "paper"                      # explicit: the text's alignment
    assert mixed.protocol == "code" and mixed.interpret.db == "paper" and mixed.interpret.gt_list == "code"
    # the written definition carries every axis explicitly, so it reloads to the same settings
    assert experiment_from_dict(mixed.to_dict()) .to_dict() == mixed.to_dict()
    with pytest.raises(ConfigError, match="fidelity: expected one of text, code"):
        experiment_from_dict({"name": "x", "fidelity": "authors", "models": ["CNN-4"]})
    with pytest.raises(ConfigError, match="interpret.trim: expected true or false"):
        experiment_from_dict({"name": "x", "models": ["CNN-4"], "interpret": {"trim": "yes"}})


def test_fidelity_table_lists_both_ends_with_sources():
    from motiflens.experiments.fidelity import fidelity_axes, fidelity_of

    axes = {a.name: a for a in fidelity_axes()}
    assert set(axes) >= {"spacing", "protocol", "alignment", "trimming", "database", "ground_truth_list"}
    assert all(a.text_source and a.code_source for a in axes.values())
    assert fidelity_of(load_experiment("table1-authors-code").to_dict())["alignment"] == "code"
    labels = fidelity_of(load_experiment("table1-code-protocol").to_dict())
    assert labels["protocol"] == "code" and labels["spacing"] == "text" and labels["alignment"] == "text"


def test_seed_from_pairs_a_row_with_its_twin(tmp_path):
    exp = experiment_from_dict({"name": "pair", "models": [
        {"model": "CNN-2"},
        {"id": "CNN-2-exp", "model": "CNN-2", "activations": {1: "exponential"}, "seed_from": "CNN-2"}]})
    tasks = plan_trials(exp, tmp_path, 2, 0, tmp_path / "d.h5")
    seeds = {(t.model_id, t.trial): t.seed for t in tasks}
    assert seeds[("CNN-2", 0)] == seeds[("CNN-2-exp", 0)] != seeds[("CNN-2", 1)]
    spec = build_spec(tasks[-1], 200, 12)
    assert spec.conv[0].activation == "exponential" and spec.conv[1].activation == "relu"


def test_activations_real_pairs_each_row_with_its_table2_real_twin(tmp_path):
    """Each exponential row trains with the seeds of its ReLU row in table2-real (same sweep
    seed), on the same dataset settings, so `motiflens compare` can pair them trial by trial."""
    relu, exp = load_experiment("table2-real"), load_experiment("activations-real")
    assert exp.dataset == relu.dataset and exp.train == relu.train
    assert exp.protocol == relu.protocol and exp.interpret == relu.interpret
    data = tmp_path / "d.h5"
    relu_seeds = {(t.model_id, t.trial): t.seed for t in plan_trials(relu, tmp_path / "a", 2, 0, data)}
    for task in plan_trials(exp, tmp_path / "b", 2, 0, data):
        twin = task.model_id.removesuffix("-exp")
        assert task.seed == relu_seeds[(twin, task.trial)]
        assert task.activations == {1: "exponential"}
