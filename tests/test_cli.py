"""The command line: user errors are one line naming the file and the problem, exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from motiflens.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_model_name_is_one_line_error(tmp_path, capsys):
    data = tmp_path / "d.h5"
    assert run_cli(["simulate", "--out", str(data), "--n", "200", "--seed", "1"], capsys)[0] == 0
    code, _, err = run_cli(["train", "--model", "CNN-7", "--data", str(data),
                            "--out", str(tmp_path / "run")], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "CNN-7" in err and "CNN-25" in err  # names the bad value and lists valid ones


def test_broken_meme_file_names_file_and_line(tmp_path, capsys):
    meme = tmp_path / "q.meme"
    meme.write_text(
        "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1\n"
        "letter-probability matrix: alength= 4 w= 2\n0.25 0.25 0.25 0.25\n0.5 0.5 x 0\n"
    )
    code, _, err = run_cli(["tomtom", str(meme), str(meme), "--out", str(tmp_path / "t.tsv")],
                           capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert f"{meme}:8" in err
    # the bad value first in its row: still that row, not "w= 2 but 1 matrix rows follow"
    meme.write_text(meme.read_text().replace("0.5 0.5 x 0", "x 0.5 0.5 0"))
    code, _, err = run_cli(["tomtom", str(meme), str(meme)], capsys)
    assert code == 2 and f"{meme}:8: matrix value 'x' is not a number" in err


@pytest.mark.parametrize("damage, expected", [
    ("drop", "Y_valid"),
    ("shape", "X_test"),
])
def test_bad_hdf5_names_file_and_key(tmp_path, capsys, damage, expected):
    data = tmp_path / "d.h5"
    assert run_cli(["simulate", "--out", str(data), "--n", "200", "--seed", "1"], capsys)[0] == 0
    with h5py.File(data, "a") as f:
        if damage == "drop":
            del f["Y_valid"]
        else:
            del f["X_test"]
            f["X_test"] = np.zeros((40, 4, 150), dtype=np.uint8)
    code, _, err = run_cli(["train", "--model", "CNN-25", "--data", str(data),
                            "--out", str(tmp_path / "run")], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(data) in err and expected in err


def test_out_of_range_split_is_rejected(tmp_path, capsys):
    code, _, err = run_cli(["simulate", "--out", str(tmp_path / "d.h5"), "--n", "200",
                            "--split", "0.9", "0.2", "0.1"], capsys)
    assert code == 2
    assert "split" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d.h5").exists()


def test_models_lists_paper_architectures_with_counts(capsys):
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0
    line = next(l for l in out.splitlines() if l.startswith("CNN-25 "))
    assert "160,048" in line and "684,336" in line


def test_console_script_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "motiflens.cli", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    for command in ("simulate", "train", "interpret", "tomtom", "reproduce", "report"):
        assert command in proc.stdout


def test_data_fasta_builds_a_loadable_dataset(tmp_path, capsys):
    from motiflens.data.dataset import load_dataset

    rng = np.random.default_rng(0)
    for name, motif in (("A", "TGACTCA"), ("B", "CCAATGG")):
        with open(tmp_path / f"{name}.fa", "w") as handle:
            for i in range(40):
                seq = "".join(rng.choice(list("ACGT"), 50))
                handle.write(f">{name}{i}\n{seq[:20]}{motif}{seq[27:]}\n")
    out = tmp_path / "user.h5"
    code, _, err = run_cli(["data", "fasta", "--classes", f"A={tmp_path / 'A.fa'}",
                            f"B={tmp_path / 'B.fa'}", "--out", str(out)], capsys)
    assert code == 0, err
    dataset = load_dataset(out)
    assert dataset.label_names == ["A", "B"]
    total = sum(len(s) for s in dataset.splits.values()) if isinstance(dataset.splits, dict) \
        else sum(len(s) for s in dataset.splits)
    assert total == 80 and dataset.length == 50


def test_data_fasta_rejects_bad_characters(tmp_path, capsys):
    fasta = tmp_path / "bad.fa"
    fasta.write_text(">s1\nACGTACGT\n>s2\nACGXACGT\n")
    code, _, err = run_cli(["data", "fasta", "--classes", f"A={fasta}", "--shuffled-negatives",
                            "--out", str(tmp_path / "o.h5")], capsys)
    assert code == 2 and f"{fasta}:4" in err


def test_data_fasta_split_fractions_have_flags(tmp_path, capsys):
    from motiflens.data.dataset import load_dataset

    fasta = tmp_path / "a.fa"
    fasta.write_text("".join(f">s{i}\nACGTACGTAC\n" for i in range(10)))
    args = ["data", "fasta", "--classes", f"A={fasta}", "--shuffled-negatives"]
    code, _, err = run_cli(args + ["--out", str(tmp_path / "few.h5"), "--valid-fraction", "0",
                                   "--test-fraction", "0.5"], capsys)
    assert code == 2 and "--valid-fraction/--test-fraction" in err  # no validation rows
    code, _, err = run_cli(args + ["--out", str(tmp_path / "ok.h5"), "--valid-fraction", "0.2",
                                   "--test-fraction", "0.3"], capsys)
    assert code == 0, err
    assert "rows per split {'train': 10, 'valid': 4, 'test': 6}" in err  # the builder's summary
    sizes = {name: len(split) for name, split in load_dataset(tmp_path / "ok.h5").splits.items()}
    assert sizes == {"train": 10, "valid": 4, "test": 6}  # 20 rows with their negatives


def test_train_streams_from_disk_when_data_exceed_the_memory_budget(tmp_path, capsys):
    data = tmp_path / "d.h5"
    assert run_cli(["simulate", "--out", str(data), "--n", "300", "--seed", "2"], capsys)[0] == 0
    code, out, err = run_cli(["train", "--model", "CNN-25", "--data", str(data), "--epochs", "1",
                              "--out", str(tmp_path / "run"), "--memory-budget", "0.0001"], capsys)
    assert code == 0, err
    assert "streaming batches" in err
    assert (tmp_path / "run" / "metrics.json").exists()
    code, out, err = run_cli(["train", "--model", "CNN-25", "--data", str(data), "--epochs", "1",
                              "--out", str(tmp_path / "run2")], capsys)
    assert code == 0 and "streaming" not in err


def test_train_threads_option_is_used_and_recorded(tmp_path, capsys):
    import json

    import torch

    data = tmp_path / "d.h5"
    assert run_cli(["simulate", "--out", str(data), "--n", "200", "--seed", "2"], capsys)[0] == 0
    before = torch.get_num_threads()
    code, _, err = run_cli(["train", "--model", "CNN-25", "--data", str(data), "--epochs", "1",
                            "--threads", "1", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train_config"]["num_threads"] == 1
    assert torch.get_num_threads() == before  # restored after training
    code, _, err = run_cli(["train", "--model", "CNN-25", "--data", str(data), "--epochs", "1",
                            "--threads", "0", "--out", str(tmp_path / "run0")], capsys)
    assert code == 2 and "num_threads" in err


def test_reproduce_passes_ray_resources_and_refuses_them_without_ray(tmp_path, capsys,
                                                                      monkeypatch):
    import motiflens.experiments.sweep as sweep

    seen = {}

    def fake_run(name, out, **kwargs):
        seen.update(kwargs)
        return Path(out)

    monkeypatch.setattr(sweep, "run_experiment", fake_run)
    args = ["reproduce", "table1", "--out", str(tmp_path / "s"), "--no-report",
            "--gpus-per-trial", "0.25", "--cpus-per-trial", "2"]
    assert run_cli(args + ["--ray", "auto"], capsys)[0] == 0
    assert seen["gpus_per_trial"] == 0.25 and seen["cpus_per_trial"] == 2.0
    seen.clear()
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "--ray" in err and not seen


@pytest.mark.parametrize("workers, hinted", [("1", True), ("2", False)])
def test_reproduce_hints_at_workers_on_a_multicore_cpu(workers, hinted, tmp_path, capsys,
                                                        monkeypatch):
    import motiflens.cli as cli
    import motiflens.experiments.sweep as sweep

    def fake_run(name, out, on_start=None, **kw):
        if on_start is not None:  # the sweep calls it once everything is validated
            on_start()
        return Path(out)

    monkeypatch.setattr(sweep, "run_experiment", fake_run)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(cli, "_cuda_available", lambda: False)
    code, _, err = run_cli(["reproduce", "table1", "--out", str(tmp_path / "s"), "--no-report",
                            "--workers", workers], capsys)
    assert code == 0
    assert ("--workers 4" in err) == hinted


def test_reproduce_passes_precision_and_fast_dropout_to_the_sweep(tmp_path, capsys, monkeypatch):
    import motiflens.experiments.sweep as sweep

    seen = {}

    def fake_run(name, out, **kwargs):
        seen.update(kwargs)
        return Path(out)

    monkeypatch.setattr(sweep, "run_experiment", fake_run)
    args = ["reproduce", "table1", "--out", str(tmp_path / "s"), "--no-report"]
    assert run_cli(args + ["--precision", "bf16", "--fast-dropout"], capsys)[0] == 0
    assert seen["train"] == {"precision": "bf16", "dropout_masks": "fast"}
    assert run_cli(args, capsys)[0] == 0
    assert seen["train"] == {}  # nothing given: the experiment's own settings


# ----------------------------------------------------------------------------- bad input


def _onehot(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    idx = rng.integers(0, 4, (n, length))
    return (idx[:, None, :] == np.arange(4)[None, :, None]).astype(np.uint8)


def test_train_and_evaluate_report_a_label_positive_everywhere(tmp_path, capsys):
    from motiflens.data.dataset import ConstantLabelWarning, write_dataset

    rng = np.random.default_rng(0)
    splits = {s: (_onehot(rng, n, 200), np.ones((n, 1), np.uint8))
              for s, n in (("train", 60), ("valid", 20), ("test", 20))}
    with pytest.warns(ConstantLabelWarning, match=r"3 label/split pair\(s\).*label 'CTCF' in "
                                                  r"split 'train' \(all positive"):
        data = write_dataset(tmp_path / "one.h5", splits, ["CTCF"])
    code, out, err = run_cli(["train", "--model", "CNN-25", "--data", str(data), "--epochs", "1",
                              "--threads", "1", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    expected = "test AU-ROC undefined (0 of 1 classes; undefined for: CTCF (all positive))"
    assert expected in out and "Traceback" not in err
    code, out, err = run_cli(["evaluate", str(tmp_path / "run")], capsys)  # from metrics.json
    assert code == 0 and expected in out and "AU-PR undefined" in out


def test_print_metrics_counts_defined_classes():
    import io
    from contextlib import redirect_stdout

    from motiflens.cli import _print_metrics
    from motiflens.metrics import classification_metrics

    y = np.zeros((8, 3))
    y[:, 0], y[:4, 1] = 1, 1
    metrics = classification_metrics(y, np.tile(np.arange(8.0)[::-1, None], 3), ["X", "Y", "Z"])
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        _print_metrics("m", metrics)                                   # NaN in memory
        legacy = {k: v for k, v in metrics.items() if k != "undefined_reasons"}
        _print_metrics("m", {"test": {**legacy, "auroc": {"X": None, "Y": 1.0, "Z": None}}})
    first, second = buffer.getvalue().splitlines()
    assert first == ("m: test AU-ROC 1.0000 (1 of 3 classes; undefined for: X (all positive), "
                     "Z (all negative))  AU-PR 1.0000")
    assert second == first                                             # null from old JSON


def test_nan_in_sequences_is_one_line_error_naming_key_and_row(tmp_path, capsys):
    data = tmp_path / "d.h5"
    assert run_cli(["simulate", "--out", str(data), "--n", "200", "--seed", "1"], capsys)[0] == 0
    with h5py.File(data, "a") as f:
        X = f["X_valid"][()].astype(np.float32)
        X[3, 0, 7] = np.nan
        del f["X_valid"]
        f["X_valid"] = X
    code, _, err = run_cli(["train", "--model", "CNN-25", "--data", str(data),
                            "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(data) in err and "'X_valid'" in err and "NaN at row 3" in err
    assert not (tmp_path / "run").exists()


def test_model_spec_string_error_names_the_bad_part(tmp_path, capsys):
    data = tmp_path / "d.h5"
    assert run_cli(["simulate", "--out", str(data), "--n", "200", "--seed", "1"], capsys)[0] == 0
    code, _, err = run_cli(["train", "--model", "30x19p25-abc", "--data", str(data),
                            "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot parse 'abc'" in err and "--model" in err and "unknown model name" not in err


def test_single_class_fasta_error_names_the_cli_flag(tmp_path, capsys):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">s1\nACGTACGT\n>s2\nACGAACGT\n")
    code, _, err = run_cli(["data", "fasta", "--classes", f"A={fasta}",
                            "--out", str(tmp_path / "o.h5")], capsys)
    assert code == 2 and "--shuffled-negatives (negatives='shuffle')" in err
    assert not (tmp_path / "o.h5").exists()


def test_options_of_data_simulate_tomtom_interpret_evaluate_show_their_default():
    import argparse

    from motiflens.cli import build_parser

    def subparsers(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices
        return {}

    top = subparsers(build_parser())
    checked = {name: top[name] for name in ("simulate", "tomtom", "interpret", "evaluate")}
    checked.update({f"data {n}": p for n, p in subparsers(top["data"]).items()})
    assert {"data peaks", "data fasta", "data bed", "data deepsea"} <= set(checked)
    missing = []
    for name, parser in checked.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            text = (action.help or "") % {"default": action.default}
            if "default" not in text and "required" not in text:
                missing.append(f"{name} {action.option_strings[0]}")
    assert not missing, missing
    peaks_help = top["data"].format_help()
    assert "1000-nt windows" in peaks_help and "(200-nt bins, > half overlap)" not in peaks_help


def test_warnings_on_the_command_line_are_one_plain_line(tmp_path):
    """Not the library's source file and line, as Python prints a warning by default."""
    fasta = tmp_path / "a.fa"  # every record both A and B: constant labels everywhere
    fasta.write_text("".join(f">s{i} label=A,B\nACGTACGTAC\n" for i in range(10)))
    done = subprocess.run([sys.executable, "-m", "motiflens.cli", "data", "fasta", "--labelled",
                           str(fasta), "--out", str(tmp_path / "o.h5"),
                           "--valid-fraction", "0.2", "--test-fraction", "0.2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("warning: ") and "constant label" in lines[0]
    assert ".py:" not in done.stderr and len(lines) == 2 and "rows per split" in lines[1]


@pytest.mark.parametrize("args, flag", [
    (["simulate", "--n", "0"], "(--n)"),
    (["simulate", "--split", "0.5", "0.5", "0.5"], "(--split)"),
    (["train", "--model", "CNN-25", "--epochs", "0"], "(--epochs)"),
    (["train", "--model", "CNN-25", "--batch-size", "0"], "(--batch-size)"),
    (["data", "fasta", "--shuffled-negatives", "--length", "0"], "(--length)"),
])
def test_a_bad_setting_names_its_flag(tmp_path, capsys, args, flag):
    fasta = tmp_path / "a.fa"
    fasta.write_text("".join(f">s{i}\nACGTACGTAC\n" for i in range(10)))
    data = tmp_path / "d.h5"
    if args[0] == "train":
        assert main(["simulate", "--out", str(data), "--n", "200"]) == 0
        args = args + ["--data", str(data)]
    if args[0] == "data":
        args = args + ["--classes", f"A={fasta}"]
    code, _, err = run_cli(args + ["--out", str(tmp_path / "out")], capsys)
    assert code == 2 and err.strip().endswith(flag) and len(err.strip().splitlines()) == 1
