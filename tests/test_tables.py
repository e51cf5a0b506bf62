"""The one TSV convention of motiflens.tables, and records written before it still read."""

from __future__ import annotations

import math

import numpy as np
import pytest

from motiflens.errors import FormatError
from motiflens.interpret.scoring import FilterScore, read_filter_table, write_filter_table
from motiflens.interpret.tomtom import read_tomtom_tsv
from motiflens.tables import (
    format_cell,
    is_true,
    parse_bool,
    parse_float,
    parse_int,
    read_tsv,
    to_tsv,
)

HEADER = ("filter\tid\talive\tn_sites\tinformation_content\tbest_target\tbest_target_name\t"
          "best_pvalue\tbest_evalue\tbest_qvalue\tmatches_database\tground_truth_tf\t"
          "ground_truth_target\tground_truth_evalue\tground_truth_qvalue\tmatches_ground_truth\n")

# filters.tsv as motiflens wrote it before the convention (docs/results records): missing
# statistics "NA", floats "%.6g", booleans true/false; a dead filter has n_sites 0.
OLD_FILTERS = HEADER + (
    "0\tfilter_0\ttrue\t10279\t5.61805\t\t\tNA\tNA\tNA\tfalse\t\t\tNA\tNA\tfalse\n"
    "1\tfilter_1\ttrue\t14679\t5.26767\tMA0877.1\tBarhl1\t2.54572e-06\t0.00131868\t0.00240662\t"
    "true\t\t\tNA\tNA\tfalse\n"
    "2\tfilter_2\ttrue\t7375\t12\tMA0079.3\tSP1\t1e-10\t5e-08\t1e-07\ttrue\tSP1\tMA0079.3\t"
    "5e-08\t1e-07\ttrue\n"
    "3\tfilter_3\tfalse\t0\t0\t\t\tNA\tNA\tNA\tfalse\t\t\tNA\tNA\tfalse\n"
)

# tomtom.tsv as write_tomtom_tsv writes it (MEME 5 layout, %g of float32, trailing comment).
OLD_TOMTOM = (
    "Query_ID\tTarget_ID\tOptimal_offset\tp-value\tE-value\tq-value\tOverlap\tQuery_consensus\t"
    "Target_consensus\tOrientation\n"
    "filter_1\tMA0877.1\t0\t2.54572e-06\t0.00131868\t0.00240662\t10\tATAAATTGACT\tGCTAATTGCT\t+\n"
    "filter_1\tMA0644.1\t0\t0.000108202\t0.0560486\t0.0198244\t10\tATAAATTGACT\tACCAATTAAC\t+\n"
    "filter_2\tMA0079.3\t1\t1e-10\t5e-08\t1e-07\t9\tGGGGCGGGG\tGCCCCGCCCC\t-\n"
    "\n# Tomtom (Motif Comparison Tool): motiflens in-process reimplementation of MEME Tomtom "
    "4.12/5.x\n"
)


def test_format_cell_convention() -> None:
    assert [format_cell(v) for v in (None, math.nan, np.float32("nan"))] == ["", "", ""]
    assert [format_cell(v) for v in (True, False, np.bool_(True))] == ["true", "false", "true"]
    assert format_cell(0.91234567) == "0.912346" and format_cell(2.5457234e-06) == "2.54572e-06"
    assert format_cell(30.0) == "30.0" and format_cell(np.float64(1e-300)) == "1e-300"
    assert format_cell(7) == "7" and format_cell("a\tb\nc") == "a b c"
    text = to_tsv([{"x": 1.5, "ok": True, "gap": None}])
    assert text == "x\tok\tgap\n1.5\ttrue\t\n"


def test_cell_parsers_accept_every_old_spelling() -> None:
    for missing in ("", "NA", "nan", "NaN", " na ", None):
        assert math.isnan(parse_float(missing)) and parse_int(missing) is None
        assert parse_bool(missing) is None and parse_bool(missing, missing=False) is False
    for yes, no in (("true", "false"), ("yes", "no"), ("TRUE", "No"), ("1", "0")):
        assert parse_bool(yes) is True and parse_bool(no) is False
        assert is_true(yes) and not is_true(no)
    assert parse_float("2.5e-06") == 2.5e-06 and parse_int("12") == 12
    assert not is_true("") and not is_true(None) and not is_true("maybe")
    with pytest.raises(ValueError, match="true or false"):
        parse_bool("maybe")
    with pytest.raises(ValueError):
        parse_float("high")


def test_old_style_filters_tsv_still_reads(tmp_path) -> None:
    path = tmp_path / "filters.tsv"
    path.write_text(OLD_FILTERS)
    scores = read_filter_table(path)
    assert [s.alive for s in scores] == [True, True, True, False]
    assert math.isnan(scores[0].best_evalue) and math.isnan(scores[1].ground_truth_qvalue)
    assert scores[1].best_pvalue == pytest.approx(2.54572e-06) and scores[2].best_pvalue == 1e-10
    assert [s.matches_database for s in scores] == [False, True, True, False]
    assert scores[2].matches_ground_truth and scores[2].ground_truth_tf == "SP1"
    assert scores[3].n_sites == 0 and scores[2].information_content == 12.0
    # booleans spelled yes/no (as tables.to_tsv wrote them) read too
    path.write_text(OLD_FILTERS.replace("\ttrue", "\tyes").replace("\tfalse", "\tno"))
    assert [(s.alive, s.matches_database) for s in read_filter_table(path)] == \
        [(s.alive, s.matches_database) for s in scores]
    # still strict about what is neither
    path.write_text(HEADER + OLD_FILTERS.splitlines()[1].replace("true", "maybe", 1) + "\n")
    with pytest.raises(FormatError, match=":2"):
        read_filter_table(path)


def test_old_style_tomtom_tsv_still_reads(tmp_path) -> None:
    path = tmp_path / "tomtom.tsv"
    path.write_text(OLD_TOMTOM)
    hits = read_tomtom_tsv(path)
    assert [(h.query_id, h.target_id) for h in hits] == [
        ("filter_1", "MA0877.1"), ("filter_1", "MA0644.1"), ("filter_2", "MA0079.3")]
    assert hits[0].evalue == pytest.approx(0.00131868) and hits[2].pvalue == pytest.approx(1e-10)
    assert hits[2].offset == 1 and hits[2].orientation == "-" and hits[0].overlap == 10
    rows = read_tsv(path)  # the report reads it untyped; the comment line is skipped
    assert len(rows) == 3 and parse_float(rows[2]["E-value"]) == pytest.approx(5e-08)


def test_report_and_demo_read_old_style_records(tmp_path) -> None:
    from motiflens.demo import matched_names
    from motiflens.report.html import significant_matches

    (tmp_path / "filters.tsv").write_text(OLD_FILTERS)
    (tmp_path / "tomtom.tsv").write_text(OLD_TOMTOM)
    rows = significant_matches(tmp_path)
    assert [r["filter"] for r in rows] == ["1", "2"]
    assert rows[0]["other hits"] and rows[1]["ground truth"].startswith("SP1 (MA0079.3")
    assert matched_names(tmp_path) == "Barhl1, SP1"
    (tmp_path / "filters.tsv").write_text(OLD_FILTERS.replace("\ttrue", "\tyes")
                                          .replace("\tfalse", "\tno"))
    assert [r["filter"] for r in significant_matches(tmp_path)] == ["1", "2"]


def test_new_filters_tsv_follows_the_convention_and_round_trips(tmp_path) -> None:
    scores = [FilterScore(0, "filter_0", True, 12, 5.618051234),
              FilterScore(1, "filter_1", False, None, 0.0),
              FilterScore(2, "filter_2", True, 7, 6.0, "MA0079.3", "SP1", 1e-10, 5e-08, 1e-07,
                          True, "SP1", "MA0079.3", 5e-08, 1e-07, True)]
    path = tmp_path / "filters.tsv"
    write_filter_table(scores, path)
    lines = path.read_text().splitlines()
    assert lines[0] + "\n" == HEADER
    assert lines[1] == "0\tfilter_0\ttrue\t12\t5.61805\t\t\t\t\t\tfalse\t\t\t\t\tfalse"
    assert lines[2].split("\t")[2:4] == ["false", ""]
    assert "NA" not in path.read_text() and "1e-10" in lines[3]
    back = read_filter_table(path)
    assert back[1].n_sites is None and math.isnan(back[0].best_evalue)
    assert back[2] == scores[2] and back[0].information_content == pytest.approx(5.61805)
