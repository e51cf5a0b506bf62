"""The synthetic data generator (docs/PAPER.md §1): determinism, layout rules, sampling, HDF5 round trip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from motiflens.data import load_dataset
from motiflens.errors import ConfigError
from motiflens.motifs import Motif, write_meme
from motiflens.simulate import (
    SimulationConfig,
    motif_pool,
    simulate,
    simulate_to_hdf5,
    split_sizes,
)


def make_motifs() -> list[Motif]:
    """Three motifs of widths 5, 8, 12 with sharp, distinct, non-palindromic columns."""
    rng = np.random.default_rng(42)
    motifs = []
    for i, width in enumerate((5, 8, 12)):
        ppm = rng.dirichlet([0.4] * 4, size=width).T
        motifs.append(Motif(f"T{i}", ppm, name=f"tf{i}"))
    return motifs


MOTIFS = make_motifs()


def config(**kw) -> SimulationConfig:
    base = dict(n_sequences=1500, length=100, motifs=MOTIFS, seed=7)
    base.update(kw)
    return SimulationConfig(**base)


@pytest.fixture(scope="module")
def code_data():
    return simulate(config(spacing="code"))


@pytest.fixture(scope="module")
def buffer_data():
    return simulate(config(spacing="buffer"))


def all_splits(data):
    return list(data.splits.values())


# ------------------------------------------------------------------------------------------
# determinism and splits
# ------------------------------------------------------------------------------------------


def test_same_seed_same_data_and_different_seed_differs(code_data):
    again = simulate(config(spacing="code"))
    other = simulate(config(spacing="code", seed=8))
    for name, split in code_data.splits.items():
        twin = again.splits[name]
        for field in ("X", "Y", "model", "index"):
            np.testing.assert_array_equal(getattr(split, field), getattr(twin, field))
        for key, value in split.ground_truth.as_dict().items():
            np.testing.assert_array_equal(value, twin.ground_truth.as_dict()[key])
    assert not np.array_equal(code_data.train.X, other.train.X)
    assert not np.array_equal(code_data.train.index, other.train.index)


def test_split_sizes_and_permutation(code_data):
    assert split_sizes(25000, (0.7, 0.1, 0.2)) == (17500, 2500, 5000)
    sizes = [len(s.X) for s in all_splits(code_data)]
    assert sizes == [1050, 150, 300]
    index = np.concatenate([s.index for s in all_splits(code_data)])
    np.testing.assert_array_equal(np.sort(index), np.arange(1500))
    assert not np.array_equal(index, np.arange(1500))   # shuffled, not a contiguous cut


# ------------------------------------------------------------------------------------------
# layout rules
# ------------------------------------------------------------------------------------------


def instances_by_sequence(split):
    gt = split.ground_truth
    return np.split(np.arange(len(gt)), np.flatnonzero(np.diff(gt.seq)) + 1)


@pytest.mark.parametrize("which", ["code", "buffer"])
def test_labels_match_ground_truth_and_every_sequence_is_positive(which, code_data, buffer_data):
    data = code_data if which == "code" else buffer_data
    for split in all_splits(data):
        gt = split.ground_truth
        expected = np.zeros_like(split.Y)
        expected[gt.seq, gt.tf] = 1
        np.testing.assert_array_equal(split.Y, expected)
        assert split.Y.sum(axis=1).min() >= 1
        counts = np.bincount(gt.seq, minlength=len(split.X))
        assert counts.min() >= 1 and counts.max() <= 5
        np.testing.assert_array_equal(gt.width, [MOTIFS[t].width for t in gt.tf])
        assert set(np.unique(gt.strand)) == {-1, 1}


def gaps_of(split, length):
    """All gaps (before, between and after motifs) of every sequence of a split."""
    gt = split.ground_truth
    gaps = []
    for rows in instances_by_sequence(split):
        starts, ends = gt.start[rows], gt.start[rows] + gt.width[rows]
        assert np.all(np.diff(starts) > 0)                      # sorted left to right
        gaps.extend([starts[0], *(starts[1:] - ends[:-1]), length - ends[-1]])
    return np.array(gaps)


def test_code_spacing_never_overlaps_but_may_touch(code_data):
    gaps = np.concatenate([gaps_of(s, 100) for s in all_splits(code_data)])
    assert gaps.min() == 0            # the authors' rule allows touching motifs / ends
    assert np.all(gaps >= 0)


def test_buffer_spacing_keeps_one_nucleotide(buffer_data):
    gaps = np.concatenate([gaps_of(s, 100) for s in all_splits(buffer_data)])
    assert gaps.min() == 1


def test_model_holds_ppms_at_instances_and_background_elsewhere(code_data):
    pool = motif_pool(MOTIFS)
    split = code_data.valid
    gt = split.ground_truth
    covered = np.zeros((len(split.X), 100), dtype=bool)
    for i in range(len(gt)):
        ppm = pool[2 * gt.tf[i] + (gt.strand[i] < 0)]
        cols = slice(gt.start[i], gt.start[i] + gt.width[i])
        np.testing.assert_allclose(split.model[gt.seq[i], :, cols], ppm, atol=1e-6)
        covered[gt.seq[i], cols] = True
    assert np.all(split.model.transpose(0, 2, 1)[~covered] == 0.25)
    # X is one-hot and never shows a base the model gives probability 0
    assert np.all(split.X.sum(axis=1) == 1)
    assert not np.any((split.X == 1) & (split.model == 0))


def test_reverse_complement_flips_both_axes():
    pool = motif_pool(MOTIFS)
    np.testing.assert_array_equal(pool[1], MOTIFS[0].ppm[::-1, ::-1])


# ------------------------------------------------------------------------------------------
# statistics
# ------------------------------------------------------------------------------------------


def test_counts_and_base_frequencies_follow_the_config():
    data = simulate(config(n_sequences=4000, motifs=MOTIFS[:2], seed=1))
    seqs = [s for s in all_splits(data)]
    counts = np.concatenate([np.bincount(s.ground_truth.seq, minlength=len(s.X)) for s in seqs])
    freq = np.bincount(counts, minlength=6)[1:] / counts.size
    np.testing.assert_allclose(freq, (0.5, 0.25, 0.17, 0.05, 0.03), atol=0.03)
    for p, ppm in enumerate(motif_pool(MOTIFS[:2])):
        total, n = np.zeros_like(ppm), 0
        for s in seqs:
            gt = s.ground_truth
            rows = np.flatnonzero(2 * gt.tf + (gt.strand < 0) == p)
            cols = gt.start[rows, None] + np.arange(ppm.shape[1])[None, :]
            total += s.X[gt.seq[rows, None], :, cols].sum(axis=0).T
            n += rows.size
        assert n > 1000
        np.testing.assert_allclose(total / n, ppm, atol=0.06)
    background = np.concatenate([s.X[s.model == 0.25] for s in seqs])
    assert abs(background.mean() - 0.25) < 0.01


# ------------------------------------------------------------------------------------------
# HDF5 round trip and motif sources
# ------------------------------------------------------------------------------------------


def test_hdf5_round_trip(tmp_path):
    cfg = config(n_sequences=300, spacing="buffer")
    path = simulate_to_hdf5(cfg, tmp_path / "sim.h5")
    data = simulate(cfg)
    ds = load_dataset(path)
    assert ds.label_names == ["tf0", "tf1", "tf2"]
    assert ds.attrs["config"]["spacing"] == "buffer" and ds.attrs["config"]["seed"] == 7
    assert ds.attrs["config"]["motif_ids"] == ["T0", "T1", "T2"]
    assert ds.attrs["provenance"]["seed"] == 7
    for name, split in data.splits.items():
        np.testing.assert_array_equal(ds.split(name).X, split.X)
        np.testing.assert_array_equal(ds.split(name).Y, split.Y)
        np.testing.assert_array_equal(ds.read_model(name), split.model)
        gt = ds.read_ground_truth(name)
        for key, value in split.ground_truth.as_dict().items():
            np.testing.assert_array_equal(gt[key], value)
            assert gt[key].dtype == value.dtype


def test_default_motifs_are_the_paper_twelve():
    data = simulate(SimulationConfig(n_sequences=100, seed=0))
    assert data.label_names == ["Arid3a", "CEBPB", "FOSL1", "Gabpa", "MAFK", "MAX", "MEF2A",
                                "NFYB", "SP1", "SRF", "STAT1", "YY1"]
    assert [m.id for m in data.motifs][:2] == ["MA0151.1", "MA0466.2"]
    assert data.train.X.shape == (70, 4, 200) and data.train.Y.shape == (70, 12)


def test_motifs_from_ids_and_from_a_meme_file(tmp_path):
    by_id = simulate(config(n_sequences=50, motifs=["MA0083.3", "MA0151.1"]))
    assert [m.id for m in by_id.motifs] == ["MA0083.3", "MA0151.1"]
    path = tmp_path / "m.meme"
    write_meme(MOTIFS, path)
    from_file = simulate(config(n_sequences=50, motifs=str(path)))
    assert [m.id for m in from_file.motifs] == ["T0", "T1", "T2"]
    assert from_file.train.Y.shape[1] == 3


# ------------------------------------------------------------------------------------------
# configuration errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"split": (0.7, 0.2, 0.2)}, r"key 'split': expected values summing to 1"),
        ({"split": (1.1, -0.1, 0.0)}, r"key 'split': expected every value > 0"),
        ({"split": (0.5, 0.5)}, r"key 'split': expected 3 numbers"),
        ({"count_probs": (0.5, 0.4)}, r"key 'count_probs': expected values summing to 1"),
        ({"spacing": "tight"}, r"key 'spacing': expected one of code, buffer, found 'tight'"),
        ({"n_sequences": 0}, r"key 'n_sequences': expected a positive integer"),
        ({"n_sequences": 4}, r"key 'n_sequences': 4 sequences leave an empty split"),
        ({"length": 59, "spacing": "code"}, r"key 'length': 5 motifs of width 12 need 60 nt, found length 59"),
        ({"length": 65, "spacing": "buffer"}, r"key 'length': 5 motifs of width 12 \+ 6 buffer positions need 66 nt"),
        ({"motifs": "JASPAR1999"}, r"key 'motifs': 'JASPAR1999' is neither a motif file nor a JASPAR release"),
        ({"motifs": ["MA9999.1"]}, r"key 'motifs': IDs not in JASPAR2016: MA9999.1"),
        ({"motifs": []}, r"key 'motifs': expected at least one motif"),
    ],
)
def test_bad_configs_name_the_key(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        simulate(dataclasses.replace(config(), **changes))


def test_length_that_just_fits_is_accepted():
    data = simulate(config(n_sequences=30, length=60, spacing="code"))
    assert data.train.X.shape[2] == 60


# ------------------------------------------------------------------------------------------
# --motifs given as comma / space separated JASPAR IDs; duplicate motifs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["MA0151.1,MA0466.2", "MA0151.1 MA0466.2", " MA0151.1, MA0466.2 "])
def test_motifs_as_one_string_of_jaspar_ids(text):
    data = simulate(config(n_sequences=50, motifs=text))
    assert [m.id for m in data.motifs] == ["MA0151.1", "MA0466.2"]
    assert data.label_names == ["Arid3a", "CEBPB"]


@pytest.mark.parametrize("argv", [["MA0151.1,MA0466.2"], ["MA0151.1", "MA0466.2"],
                                  ["MA0151.1 MA0466.2"]])
def test_cli_simulate_accepts_comma_and_space_separated_ids(tmp_path, capsys, argv):
    from motiflens.cli import main

    out = tmp_path / "d.h5"
    code = main(["simulate", "--out", str(out), "--n", "60", "--motifs", *argv])
    assert code == 0, capsys.readouterr().err
    ds = load_dataset(out)
    assert ds.label_names == ["Arid3a", "CEBPB"]
    assert ds.attrs["config"]["motif_ids"] == ["MA0151.1", "MA0466.2"]


def test_duplicate_motifs_are_refused_before_writing(tmp_path, capsys):
    from motiflens.cli import main

    with pytest.raises(ConfigError, match=r"ID\(s\) given twice: MA0151\.1 \(--motifs"):
        simulate(config(n_sequences=50, motifs="MA0151.1,MA0466.2,MA0151.1"))
    path = tmp_path / "dup.meme"
    write_meme([MOTIFS[0], MOTIFS[1], Motif("T0", MOTIFS[2].ppm)], path)
    code = main(["simulate", "--out", str(tmp_path / "d.h5"), "--n", "60", "--motifs", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{path}:" in err and "duplicate motif ID 'T0'" in err
    assert not (tmp_path / "d.h5").exists()
