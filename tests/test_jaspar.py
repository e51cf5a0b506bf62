"""Tests of motiflens.jaspar: offline JASPAR access, ground-truth motifs and ID lists."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from motiflens import jaspar, jaspar_pyjaspar
from motiflens.errors import ConfigError, FormatError
from motiflens.motifs import Motif, read_meme, write_jaspar, write_meme

SHARED_MEME = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "tomtom"
    / "jaspar2016_vertebrates.meme"
)

# docs/PAPER.md §1 table: TF -> (matrix, width), class order.
SPEC_GROUND_TRUTH = {
    "Arid3a": ("MA0151.1", 6), "CEBPB": ("MA0466.2", 10), "FOSL1": ("MA0477.1", 11),
    "Gabpa": ("MA0062.2", 11), "MAFK": ("MA0496.1", 15), "MAX": ("MA0058.3", 10),
    "MEF2A": ("MA0052.3", 12), "NFYB": ("MA0502.1", 15), "SP1": ("MA0079.3", 11),
    "SRF": ("MA0083.3", 16), "STAT1": ("MA0137.3", 11), "YY1": ("MA0095.2", 12),
}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_paper_tfs_class_order():
    assert jaspar.PAPER_TFS == list(SPEC_GROUND_TRUTH)
    assert list(jaspar.GROUND_TRUTH_MATRICES) == jaspar.PAPER_TFS


def test_ground_truth_motifs_match_spec_table(no_network):
    jaspar_pyjaspar.pyjaspar_by_ids.cache_clear()
    motifs = jaspar.ground_truth_motifs()
    assert [(m.name, (m.id, m.width)) for m in motifs] == list(SPEC_GROUND_TRUTH.items())
    arid3a = motifs[0]
    assert arid3a.nsites == 27  # counts / column sum, no pseudocount: multiples of 1/27
    np.testing.assert_allclose(arid3a.ppm * 27, np.round(arid3a.ppm * 27), atol=1e-9)
    for motif in motifs:
        np.testing.assert_allclose(motif.ppm.sum(axis=0), 1.0, atol=1e-12)
    # callers get copies: changing one does not change the cache
    arid3a.ppm[:] = 0.25
    assert not np.allclose(jaspar.ground_truth_motifs()[0].ppm, 0.25)


def test_database_sizes_offline(no_network):
    jaspar_pyjaspar.pyjaspar_database.cache_clear()
    db = jaspar.jaspar_database()
    assert len(db) == 519
    assert "MA0615.1" in {m.id for m in db}
    paper = jaspar.paper_database()
    assert len(paper) == 518 and "MA0615.1" not in {m.id for m in paper}
    assert len(jaspar.jaspar_database(exclude=("MA0004.1", "MA0006.1"))) == 517
    assert len(jaspar.jaspar_database(latest=False)) == 635
    # ground-truth matrices are all in the database
    ids = {m.id for m in db}
    assert set(jaspar.GROUND_TRUTH_MATRICES.values()) <= ids


def test_database_matches_reference_meme_file():
    if not SHARED_MEME.is_file():
        pytest.skip(f"{SHARED_MEME} not present")
    reference = read_meme(SHARED_MEME)
    db = jaspar.jaspar_database("JASPAR2016")
    assert [m.id for m in db] == [m.id for m in reference]
    assert [m.name for m in db] == [m.name for m in reference]
    worst = max(np.abs(a.ppm - b.ppm).max() for a, b in zip(db, reference))
    assert worst < 2e-6  # the file holds 6 decimals


def test_unknown_release_collection_tax_group():
    with pytest.raises(ConfigError, match="JASPAR2016"):  # lists the valid releases
        jaspar.jaspar_database("JASPAR1999")
    with pytest.raises(ConfigError, match="collection 'NOPE'.*CORE"):
        jaspar.jaspar_database(collection="NOPE")
    with pytest.raises(ConfigError, match="tax group 'martians'.*vertebrates"):
        jaspar.jaspar_database(tax_group="martians")
    with pytest.raises(ConfigError, match="tax group"):  # never pasted into pyjaspar's SQL
        jaspar.jaspar_database(tax_group="vertebrates' or '1'='1")
    assert "JASPAR2016" in jaspar.available_releases()


def test_ground_truth_id_lists_differ_only_in_the_two_mef2_ids():
    paper = jaspar.ground_truth_ids()
    code = jaspar.ground_truth_ids("code")
    assert list(paper) == list(code) == jaspar.PAPER_TFS
    assert sorted(jaspar.ground_truth_id_lists()) == ["code", "paper"]
    diff = {tf: (set(paper[tf]) ^ set(code[tf])) for tf in paper if set(paper[tf]) != set(code[tf])}
    assert diff == {"MEF2A": {"MA0660.1", "MA0773.1"}, "STAT1": {"MA0660.1", "MA0773.1"}}
    assert "MA0660.1" in paper["MEF2A"] and "MA0773.1" in code["STAT1"]
    assert code["STAT1"] == ["MA0137.1", "MA0137.2", "MA0137.3", "MA0660.1", "MA0773.1"]
    assert code["Arid3a"] == ["MA0151.1", "MA0601.1", "PB0001.1"]
    for tf, matrix_id in jaspar.GROUND_TRUTH_MATRICES.items():
        assert matrix_id in paper[tf] and matrix_id in code[tf]
    paper["MAX"].append("junk")  # a copy
    assert "junk" not in jaspar.ground_truth_ids()["MAX"]
    with pytest.raises(ConfigError, match="unknown ground-truth ID list 'nope'.*paper"):
        jaspar.ground_truth_ids("nope")


def test_tf_of_id():
    assert jaspar.tf_of_id("MA0660.1") == "MEF2A"
    assert jaspar.tf_of_id("MA0660.1", "code") == "STAT1"
    assert jaspar.tf_of_id("MA0058.1") == "MAX"
    assert jaspar.tf_of_id("PB0001.1", "code") == "Arid3a"
    assert jaspar.tf_of_id("MA0615.1") is None


def test_load_motif_source_names_and_files(tmp_path):
    assert len(jaspar.load_motif_source("JASPAR2016")) == 519
    assert len(jaspar.load_motif_source("JASPAR2016:CORE:vertebrates")) == 519
    assert len(jaspar.load_motif_source("paper")) == 518
    motifs = [Motif("q1", np.eye(4)), Motif("q2", np.full((4, 2), 0.25), name="flat")]
    write_meme(motifs, tmp_path / "a.meme")
    write_jaspar(motifs, tmp_path / "a.jaspar")
    write_meme(motifs, tmp_path / "sniffed.txt")
    for name in ("a.meme", "a.jaspar", "sniffed.txt"):
        loaded = jaspar.load_motif_source(str(tmp_path / name))
        assert [m.id for m in loaded] == ["q1", "q2"]
        np.testing.assert_allclose(loaded[0].ppm, np.eye(4))


def test_load_motif_source_errors(tmp_path):
    with pytest.raises(ConfigError, match="neither an existing file nor a JASPAR release.*"
                                          "JASPAR2016"):
        jaspar.load_motif_source("JASPAR1999")
    with pytest.raises(ConfigError, match="RELEASE"):
        jaspar.load_motif_source("JASPAR2016:CORE:vertebrates:extra")
    with pytest.raises(FormatError, match="not found"):
        jaspar.load_motif_source(str(tmp_path / "missing.meme"))
    odd = tmp_path / "odd.txt"
    odd.write_text("hello\n")
    with pytest.raises(FormatError, match="cannot tell the motif format") as info:
        jaspar.load_motif_source(str(odd))
    assert str(info.value).startswith(f"{odd}:1:")
