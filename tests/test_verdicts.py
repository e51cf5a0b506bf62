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
