"""interpret_run: a trained run directory -> filters.meme, tomtom.tsv, filters.tsv, summary, logos."""

from __future__ import annotations

import json

import pytest

from motiflens.errors import ConfigError
from motiflens.interpret.pipeline import interpret_run
from motiflens.interpret.scoring import read_filter_table
from motiflens.interpret.tomtom import read_tomtom_tsv
from motiflens.motifs import read_meme


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from motiflens.data.dataset import load_dataset
    from motiflens.models import model_spec
    from motiflens.simulate import SimulationConfig, simulate_to_hdf5
    from motiflens.train import TrainConfig, train

    root = tmp_path_factory.mktemp("pipeline")
    data = simulate_to_hdf5(SimulationConfig(n_sequences=600, seed=3), root / "d.h5")
    run = root / "run"
    train(model_spec("CNN-25"), load_dataset(data),
          TrainConfig.for_protocol("paper", seed=0, max_epochs=2), run, progress=False)
    return run


def test_interpret_writes_consistent_outputs(run_dir):
    summaries = interpret_run(run_dir, layers=(1, 2), n_sequences=120)
    assert set(summaries) == {1, 2}
    first = summaries[1]
    out = run_dir / "interpret" / "layer1"
    for name in ("filters.meme", "tomtom.tsv", "filters.tsv", "summary.json", "logos.png",
                 "logos.pdf"):
        assert (out / name).stat().st_size > 0, name
    table = read_filter_table(out / "filters.tsv")
    assert len(table) == first["n_filters"] == 30
    assert len(read_meme(out / "filters.meme")) == first["n_alive"]
    assert sum(s.matches_database for s in table) == first["n_match_database"]
    assert first["frac_match_db"] == pytest.approx(first["n_match_database"] / 30)
    hits = read_tomtom_tsv(out / "tomtom.tsv")
    assert all(h.evalue <= 0.1 for h in hits)
    assert {h.query_id for h in hits} <= {f"filter_{i}" for i in range(30)}
    record = json.loads((out / "summary.json").read_text())
    assert record["interpret_config"]["mode"] == "paper"
    assert record["provenance"]["versions"]["torch"]
    # layer 2 of CNN-25: 128 filters, window = the receptive field (19 + 4 * 25 = 119 ... )
    assert summaries[2]["n_filters"] == 128
    assert summaries[2]["window"] > 19


def test_layer_out_of_range_is_a_config_error(run_dir):
    with pytest.raises(ConfigError, match="layer 3"):
        interpret_run(run_dir, layers=(3,), n_sequences=50)


def test_ground_truth_comes_from_the_dataset(run_dir, tmp_path):
    """A dataset whose labels are not the paper's TFs is scored against no ground truth (not
    the 12 synthetic TFs); the paper's labels and a dataset's own relevant-motif map are used."""
    import json as _json

    import h5py

    from motiflens.interpret.pipeline import dataset_ground_truth

    assert dataset_ground_truth(["bound", "unbound"], {}) == {}
    truth = dataset_ground_truth(["MAFK", "mine"], {})
    assert list(truth) == ["MAFK"] and "MA0496.1" in truth["MAFK"]
    own = dataset_ground_truth(["MafK"], {"relevant_motifs": _json.dumps({"MafK": ["MA0495.1"]})})
    assert own == {"MafK": ["MA0495.1"]}
    # a user's own FASTA labelled Oct4 / POU5F1: the committed relevant-motif map by name/alias
    user = dataset_ground_truth(["pou5f1", "bound"], {})
    assert list(user) == ["pou5f1"] and "MA0142.1" in user["pou5f1"]

    data = json.loads((run_dir / "config.json").read_text())["dataset"]["path"]
    renamed = tmp_path / "user.h5"
    renamed.write_bytes(open(data, "rb").read())
    with h5py.File(renamed, "r+") as handle:
        handle.attrs["label_names"] = json.dumps([f"peakset{i}" for i in range(12)])
    summary = interpret_run(run_dir, layers=(1,), n_sequences=60, data=str(renamed),
                            out_dir=tmp_path / "interp")[1]
    assert summary["frac_match_gt"] is None and summary["n_tfs"] == 0
    assert summary["frac_match_db"] is not None
