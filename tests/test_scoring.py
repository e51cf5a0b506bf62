"""Tests of motiflens.interpret.scoring on hand-made hit tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from motiflens.errors import ConfigError, FormatError
from motiflens.interpret.scoring import (
    FilterScore,
    read_filter_table,
    score_filters,
    summarize,
    write_filter_table,
    write_summary,
)
from motiflens.motifs import Motif

GROUND_TRUTH = {"Arid3a": ["MA0151.1", "MA0601.1"], "CEBPB": ["MA0466.1", "MA0466.2"],
                "SP1": ["MA0079.3"]}


def sharp(width: int = 6) -> np.ndarray:
    ppm = np.full((4, width), 0.02)
    ppm[np.arange(width) % 4, np.arange(width)] = 0.94
    return ppm


class FakeFilters:
    """Stands in for FilterMotifs: motifs, alive flags and site counts."""

    def __init__(self, alive: list[bool]) -> None:
        self.motifs = [Motif(f"filter_{i}", sharp() if ok else np.full((4, 6), 0.25),
                             name="" if ok else "dead") for i, ok in enumerate(alive)]
        self.alive = np.array(alive)
        self.n_sites = np.array([10 if ok else 0 for ok in alive])


def hit(q: int, target: str, p: float, e: float, qv: float) -> dict:
    return {"Query_ID": f"filter_{q}", "Target_ID": target, "p-value": p, "E-value": e,
            "q-value": qv}


HITS = [
    # filter 0: best database hit is a non-ground-truth motif; GT hit chosen by smallest q
    hit(0, "MA9999.1", 1e-6, 5e-4, 1e-3),
    hit(0, "MA0151.1", 1e-5, 5e-3, 2e-2),
    hit(0, "MA0601.1", 2e-5, 1e-2, 1e-2),
    # filter 1: CEBPB (ties in E broken by p for the best hit)
    hit(1, "MA0466.2", 2e-5, 1e-2, 3e-2),
    hit(1, "MA0466.1", 1e-5, 1e-2, 3e-2),
    # filter 2: only a weak ground-truth hit (E > 0.1) -> no match
    hit(2, "MA0079.3", 1e-3, 0.5, 0.4),
    # filter 3: database-only match
    hit(3, "MA0002.2", 1e-4, 0.05, 0.05),
    # filter 4 is dead: its hit (uniform PPM) must be ignored
    hit(4, "MA0615.1", 1e-5, 0.01, 0.01),
    # filter 5: second Arid3a filter
    hit(5, "MA0151.1", 1e-6, 5e-4, 1e-3),
]


@pytest.fixture()
def scores() -> list[FilterScore]:
    filters = FakeFilters([True, True, True, True, False, True, True])
    names = {"MA9999.1": "Other", "MA0002.2": "RUNX1"}
    return score_filters(filters, HITS, GROUND_TRUTH, target_names=names)


def test_per_filter_best_and_ground_truth(scores: list[FilterScore]) -> None:
    s0, s1, s2, s3, s4, s5, s6 = scores
    assert (s0.best_target, s0.best_target_name, s0.best_evalue) == ("MA9999.1", "Other", 5e-4)
    assert (s0.ground_truth_tf, s0.ground_truth_target, s0.ground_truth_qvalue) == (
        "Arid3a", "MA0601.1", 1e-2)
    assert s0.matches_database and s0.matches_ground_truth and s0.label == "Arid3a"
    assert s1.best_target == "MA0466.1" and s1.ground_truth_tf == "CEBPB"
    assert s2.best_target == "MA0079.3" and not s2.matches_database
    assert not s2.matches_ground_truth and s2.label == ""
    assert s3.matches_database and not s3.matches_ground_truth and s3.label == "RUNX1"
    assert not s4.alive and not s4.matches_database and s4.best_target == ""
    assert s4.information_content == 0.0
    assert not s6.matches_database and math.isnan(s6.best_evalue)
    expected_ic = 6 * (2 + 0.94 * np.log2(0.94) + 3 * 0.02 * np.log2(0.02))
    assert s6.information_content == pytest.approx(expected_ic)
    assert [s.filter for s in scores] == list(range(7))
    assert s5.n_sites == 10


def test_summary_fractions_over_all_filters(scores: list[FilterScore]) -> None:
    summary = summarize(scores, list(GROUND_TRUTH))
    assert summary["n_filters"] == 7 and summary["n_alive"] == 6 and summary["n_dead"] == 1
    assert summary["n_match_database"] == 4  # filters 0, 1, 3, 5
    assert summary["frac_match_database"] == pytest.approx(4 / 7)
    assert summary["frac_match_ground_truth"] == pytest.approx(3 / 7)
    assert summary["frac_match_ground_truth_alive"] == pytest.approx(3 / 6)
    assert summary["coverage"] == {"Arid3a": True, "CEBPB": True, "SP1": False}
    assert summary["redundancy"] == {"Arid3a": 2, "CEBPB": 1, "SP1": 0}
    assert summary["n_tfs_covered"] == 2
    assert summary["frac_tfs_covered"] == pytest.approx(2 / 3)
    assert summary["mean_redundancy"] == pytest.approx(1.5)
    assert summary["other_tfs"] == []
    assert summarize(scores)["tfs"] == ["Arid3a", "CEBPB"]


def test_threshold_changes_matches() -> None:
    filters = FakeFilters([True] * 7)
    strict = score_filters(filters, HITS, GROUND_TRUTH, evalue_threshold=1e-3)
    assert [s.matches_database for s in strict] == [True, False, False, False, False, True, False]
    # filter 0's ground-truth hits all have E > 1e-3
    assert [s.ground_truth_tf for s in strict] == ["", "", "", "", "", "Arid3a", ""]
    loose = score_filters(filters, HITS, GROUND_TRUTH, evalue_threshold=1.0)
    assert loose[2].ground_truth_tf == "SP1" and loose[4].matches_database


def test_plain_motif_list_and_hit_objects() -> None:
    from dataclasses import dataclass

    @dataclass
    class Hit:
        query_id: str
        target_id: str
        pvalue: float
        evalue: float
        qvalue: float

    motifs = [Motif("filter_0", sharp()), Motif("filter_1", sharp())]
    scores = score_filters(motifs, [Hit("filter_1", "MA0079.3", 1e-4, 0.01, 0.02)], GROUND_TRUTH,
                           target_names=[Motif("MA0079.3", sharp(), name="SP1")])
    assert [s.alive for s in scores] == [True, True]
    assert scores[1].ground_truth_tf == "SP1" and scores[1].best_target_name == "SP1"


def test_bad_inputs() -> None:
    filters = FakeFilters([True])
    with pytest.raises(ConfigError, match="not one of the filters"):
        score_filters(filters, [hit(3, "MA0151.1", 1e-4, 0.01, 0.01)], GROUND_TRUTH)
    with pytest.raises(ConfigError, match="no qvalue"):
        score_filters(filters, [{"Query_ID": "filter_0", "Target_ID": "x", "p-value": 1,
                                 "E-value": 1}], GROUND_TRUTH)
    with pytest.raises(ConfigError, match="list of motif IDs"):
        score_filters(filters, [], {"SP1": "MA0079.3"})


def test_table_round_trip_and_summary_json(scores: list[FilterScore], tmp_path) -> None:
    table = tmp_path / "filters.tsv"
    write_filter_table(scores, table)
    lines = table.read_text().splitlines()
    assert len(lines) == 8 and lines[0].startswith("filter\tid\talive")
    back = read_filter_table(table)
    assert [b.label for b in back] == [s.label for s in scores]
    assert back[0].best_evalue == pytest.approx(5e-4) and math.isnan(back[6].best_evalue)
    assert back[4].alive is False and back[1].n_sites == 10
    table.write_text(lines[0] + "\n" + lines[1].replace("true", "maybe", 1) + "\n")
    with pytest.raises(FormatError, match=":2"):
        read_filter_table(table)
    path = tmp_path / "summary.json"
    write_summary(summarize(scores, list(GROUND_TRUTH)), path, provenance={"seed": 1})
    data = json.loads(path.read_text())
    assert data["provenance"] == {"seed": 1} and data["n_filters"] == 7
    empty = summarize([], ["SP1"])
    assert math.isnan(empty["frac_match_database"])
