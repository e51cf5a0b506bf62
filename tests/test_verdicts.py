"""The verdict rules that compare our numbers with the paper's."""

from motiflens.experiments.verdicts import fidelity_rows, verdict


def test_mean_sd_rule_uses_two_combined_sd():
    assert verdict(0.90, 0.03, [0.98, 0.027])[0] == "consistent"     # |d| 0.08 <= 2*0.040
    assert verdict(0.85, 0.01, [0.98, 0.027])[0] == "inconsistent"   # |d| 0.13 > 2*0.029
    assert verdict(0.98, None, [0.98, 0.027])[0] == "consistent"     # one trial: our sd is 0


def test_number_without_sd_is_judged_within_a_tenth():
    assert verdict(0.84, 0.05, [0.93])[0] == "consistent"
    assert verdict(0.82, 0.0, [0.93])[0] == "inconsistent"
    assert verdict(None, None, [0.93])[0] == "not run"


def test_group_claims_use_the_best_or_worst_member():
    summary = {"rows": [
        {"model_id": "A", "layer": 1, "n_trials": 5, "match_gt_mean": 0.10, "match_gt_sd": 0.02},
        {"model_id": "B", "layer": 1, "n_trials": 5, "match_gt_mean": 0.50, "match_gt_sd": 0.02},
    ], "findings": []}
    paper = {"rows": {}, "claims": [
        {"text": "at best", "models": ["A", "B"], "metric": "match_gt", "kind": "best", "value": [0.127, 0.08]},
        {"text": "at worst", "models": ["A", "B", "C"], "metric": "match_gt", "kind": "worst", "value": [0.127, 0.08]},
    ]}
    best, worst = fidelity_rows(summary, paper)
    assert "[B]" in best["claim"] and best["verdict"] == "inconsistent"
    assert "[A]" in worst["claim"] and worst["verdict"].startswith("consistent (on 2 of 3 models")


def test_every_built_in_row_is_the_papers_model_of_its_name():
    from motiflens.experiments.paper_rows import unlike_the_paper
    from motiflens.experiments.registry import list_experiments, load_experiment

    for name in list_experiments():
        assert unlike_the_paper(load_experiment(name)) == {}, name


def test_a_row_of_another_architecture_is_not_judged_by_the_papers_name(tmp_path):
    """A user's row named CNN-25 with pool 2 and 6 filters must not be judged by the paper's
    CNN-25 (its numbers, its place in 'large max-pool at worst'), and is named instead."""
    from motiflens.experiments.paper_rows import paper_numbers_for, unlike_note
    from motiflens.experiments.registry import load_experiment, load_paper_numbers

    (tmp_path / "mine.yaml").write_text(
        "name: mine\npaper_numbers: table1\ndataset:\n  kind: synthetic\n"
        "models:\n  - {id: CNN-25, model: 6x19p2-6x5p50-d16}\n  - {model: CNN-2}\n"
        "  - {id: CNN-50, model: CNN-50}\n")
    paper = paper_numbers_for(load_experiment(tmp_path / "mine.yaml"))
    assert set(paper["unlike"]) == {"CNN-25"}
    assert "6x19p2-6x5p50-d16" in unlike_note(paper) and "CNN-25" in unlike_note(paper)
    full = load_paper_numbers("table1")
    assert "CNN-25" in full["rows"] and "CNN-25" not in paper["rows"]
    assert "CNN-50" in paper["rows"] or "CNN-50" not in full["rows"]
    assert all("CNN-25" not in claim["models"] for claim in paper["claims"])
    assert any("CNN-50" in claim["models"] for claim in paper["claims"])
    assert len(paper["claims"]) == len(full["claims"])  # the large-pool claim keeps CNN-50
