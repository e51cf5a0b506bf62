"""The command line on run directories: what is not a run, a damaged checkpoint, a sweep's trial,
a moved or mismatched dataset. One line each, exit status 2, nothing half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from motiflens import _io
from motiflens.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-runs")
    data = root / "d.h5"
    assert main(["simulate", "--out", str(data), "--n", "300", "--seed", "2"]) == 0
    assert main(["train", "--model", "6x19p25-6x5p4-d16", "--data", str(data), "--epochs", "1",
                 "--threads", "1", "--out", str(root / "run")]) == 0
    return root / "run"


def _fails(args: list[str], capsys) -> str:
    capsys.readouterr()
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "warning" not in err
    return err


def test_what_is_not_a_run_is_named_without_a_false_warning(run, tmp_path, capsys):
    assert "run directory not found" in _fails(["interpret", str(tmp_path / "none")], capsys)
    assert "run directory not found" in _fails(["evaluate", str(tmp_path / "none")], capsys)
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text("{}")
    err = _fails(["interpret", str(tmp_path / "sweep")], capsys)
    assert "a sweep directory, not a run" in err and "reinterpret" in err
    (tmp_path / "file.pt").write_bytes(b"x")
    assert "a file, not a run directory" in _fails(["interpret", str(tmp_path / "file.pt")],
                                                     capsys)


@pytest.mark.parametrize("content, reason", [(b"junk\n", "not a PyTorch file"),
                                             (b"", "empty file")])
def test_a_damaged_checkpoint_is_one_line_that_keeps_weights_only(run, tmp_path, capsys,
                                                                  content, reason):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "checkpoint.pt").write_bytes(content)
    for command in (["interpret", str(copy)], ["evaluate", str(copy), "--recompute"]):
        err = _fails(command, capsys)
        assert "checkpoint.pt: not a readable checkpoint" in err and reason in err
        assert "weights_only=False" not in err


def test_a_sweep_trials_interpretation_is_not_overwritten(run, tmp_path, capsys):
    trial = tmp_path / "trial-0"
    shutil.copytree(run, trial)
    assert main(["interpret", str(trial), "--n-sequences", "30", "--mode", "code"]) == 0
    (trial / "trial.json").write_text("{}")  # now it is a sweep's trial
    before = (trial / "interpret/layer1/summary.json").read_bytes()
    err = _fails(["interpret", str(trial), "--n-sequences", "30"], capsys)
    assert "a trial of a sweep" in err and "--out DIR" in err
    assert main(["interpret", str(trial), "--n-sequences", "30",
                 "--out", str(tmp_path / "mine")]) == 0
    assert (trial / "interpret/layer1/summary.json").read_bytes() == before
    mine = json.loads((tmp_path / "mine/layer1/summary.json").read_text())
    assert mine["interpret_config"]["mode"] == "paper"


def test_bad_settings_and_data_write_nothing(run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    err = _fails(["interpret", str(copy), "--threshold", "2"], capsys)
    assert "threshold" in err and "--threshold" in err
    assert "--n-sequences" in _fails(["interpret", str(copy), "--n-sequences", "0"], capsys)
    short = tmp_path / "short.h5"
    assert main(["simulate", "--out", str(short), "--n", "300", "--length", "100"]) == 0
    err = _fails(["interpret", str(copy), "--data", str(short)], capsys)
    assert str(short) in err and "length 100" in err and "--data" in err
    assert not (copy / "interpret").exists()
    other = tmp_path / "other.h5"  # right length, one label instead of the model's 12
    fasta = tmp_path / "a.fa"
    fasta.write_text("".join(f">s{i}\n{'ACGT' * 50}\n" for i in range(20)))
    assert main(["data", "fasta", "--classes", f"A={fasta}", "--shuffled-negatives",
                 "--out", str(other)]) == 0
    for command in (["interpret", str(copy)], ["evaluate", str(copy), "--recompute"]):
        err = _fails(command + ["--data", str(other)], capsys)
        assert str(other) in err and "1 label(s)" in err and "12 outputs" in err
    # the recorded dataset moved away
    config = json.loads((copy / "config.json").read_text())
    config["dataset"]["path"] = str(tmp_path / "moved.h5")
    (copy / "config.json").write_text(json.dumps(config))
    err = _fails(["interpret", str(copy)], capsys)
    assert "moved.h5: the dataset recorded in" in err and "--data PATH" in err


def test_a_failed_folder_write_leaves_the_old_folder(tmp_path):
    target = tmp_path / "new" / "layer1"
    with pytest.raises(RuntimeError):
        with _io.atomic_dir(target) as tmp:
            (tmp / "half.tsv").write_text("x")
            raise RuntimeError("stopped")
    assert not (tmp_path / "new").exists()  # the parent it made is gone too
    with _io.atomic_dir(target) as tmp:
        (tmp / "old.tsv").write_text("old")
    with pytest.raises(RuntimeError):
        with _io.atomic_dir(target) as tmp:
            (tmp / "new.tsv").write_text("new")
            raise RuntimeError("stopped")
    assert sorted(p.name for p in target.parent.iterdir()) == ["layer1"]
    assert [p.name for p in target.iterdir()] == ["old.tsv"]
    with _io.atomic_dir(target) as tmp:
        (tmp / "new.tsv").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.tsv"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["layer1"]


def test_out_of_the_wrong_kind_is_named_before_any_work(run, tmp_path, capsys):
    folder, file = tmp_path / "folder", tmp_path / "file.h5"
    folder.mkdir()
    file.write_bytes(b"")
    err = _fails(["simulate", "--out", str(folder), "--n", "100"], capsys)
    assert err.strip().endswith(f"{folder}: a folder; --out takes the file to write")
    err = _fails(["train", "--model", "CNN-25", "--data", str(file), "--out", str(file)], capsys)
    assert f"{file}: a file; --out takes a folder" in err


def test_records_are_not_exported_into_their_sweep(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    (sweep / "runs").mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    err = _fails(["records", str(sweep), "--to", str(sweep / "runs")], capsys)
    assert "inside the sweep directory" in err and "--to" in err
    assert sorted(p.name for p in (sweep / "runs").iterdir()) == []


def test_a_sweep_without_its_dataset_file_makes_no_folder(tmp_path, capsys):
    err = _fails(["reproduce", "table2-real", "--out", str(tmp_path / "sweep"), "--no-report"],
                 capsys)
    assert "--data PATH" in err and not (tmp_path / "sweep").exists()


def test_a_loaded_runs_model_names_its_classes_in_importance_tables(run):
    import numpy as np

    from motiflens import filter_importance
    from motiflens.data.dataset import load_dataset
    from motiflens.train import load_run

    model, _, _ = load_run(run)
    data = load_dataset(json.loads((run / "config.json").read_text())["dataset"]["path"])
    assert model.label_names == data.label_names and len(model.label_names) == 12
    X, Y = data.test.take(np.arange(30))
    result = filter_importance(model, X, Y)
    assert result.label_names == data.label_names
    assert set(result.most_hurt_class()) <= set(data.label_names) | {""}


def test_a_run_is_resumed_only_on_its_own_dataset(run, tmp_path, capsys):
    """Rerunning `train` on a run directory continues it (or returns it, finished) only with the
    dataset it was trained on; another one, even of the same shape, is refused."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    own = json.loads((copy / "config.json").read_text())["dataset"]["path"]
    args = ["train", "--model", "6x19p25-6x5p4-d16", "--epochs", "1", "--threads", "1",
            "--out", str(copy)]
    capsys.readouterr()
    assert main(args + ["--data", own]) == 0
    assert "already finished" in capsys.readouterr().err
    other = tmp_path / "other.h5"
    assert main(["simulate", "--out", str(other), "--n", "300", "--seed", "9"]) == 0
    err = _fails(args + ["--data", str(other)], capsys)
    assert "holds a run trained on another dataset" in err and "--no-resume" in err
    err = _fails(args + ["--data", own, "--protocol", "code"], capsys)  # another init, BN
    assert "different model spec (key(s) ['bn_eps', 'bn_momentum', 'init']" in err
    assert main(args + ["--data", str(other), "--no-resume"]) == 0
    assert json.loads((copy / "config.json").read_text())["dataset"]["path"] == str(other)


@pytest.mark.parametrize("device", ["mps", "xpu"])
def test_an_unsupported_device_is_one_line_and_no_folder(run, tmp_path, capsys, device):
    data = json.loads((run / "config.json").read_text())["dataset"]["path"]
    err = _fails(["train", "--model", "CNN-25", "--data", data, "--device", device,
                  "--out", str(tmp_path / "r")], capsys)
    assert f"device: '{device}' is not supported" in err and "--device" in err
    assert not (tmp_path / "r").exists()
