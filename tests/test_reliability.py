"""Bad input and unfinished work: one-line errors before any work, honest warnings, tidy ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from motiflens._io import check_writable
from motiflens.cli import main
from motiflens.errors import ConfigError


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_unwritable_outputs_are_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder.*--out"):
        check_writable(blocker / "sub" / "out.h5", "--out")
    check_writable(tmp_path / "new" / "deeper", "--out")  # creatable: fine
    for args in (["simulate", "--out", str(blocker / "d.h5"), "--n", "200"],
                 ["reproduce", "table1-authors-code", "--out", str(blocker / "sweep")],
                 ["records", str(tmp_path), "--to", str(blocker / "rec")]):
        code, _, err = run_cli(args, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot write here" in err, args


@pytest.mark.parametrize("yaml_text, message", [
    ("name: bad\nmodels: [CNN-2]\ntrain: {lrr: 0.1}\n", "unknown key(s) ['lrr']"),
    ("name: bad\nmodels: [CNN-2x]\n", "models[CNN-2x]: unknown model name"),
    ("name: bad\nprotocol: fast\nmodels: [CNN-2]\n", "protocol: unknown 'fast'"),
    ("name: bad\nmodels: [CNN-2]\ninterpret: {mode: sharp}\n", "interpret.mode"),
])
def test_reproduce_validates_everything_before_any_work(tmp_path, capsys, yaml_text, message):
    definition = tmp_path / "bad.yaml"
    definition.write_text(yaml_text)
    out = tmp_path / "sweep"
    code, _, err = run_cli(["reproduce", str(definition), "--out", str(out)], capsys)
    assert code == 2 and message in err and "hint" not in err
    assert not out.exists()  # nothing simulated, nothing written


def test_reproduce_counts_and_subsets(tmp_path, capsys):
    out = tmp_path / "sweep"
    code, _, err = run_cli(["reproduce", "table1-authors-code", "--out", str(out),
                            "--workers", "0"], capsys)
    assert code == 2 and "--workers: expected >= 1" in err and not out.exists()
    code, _, err = run_cli(["reproduce", "table1-authors-code", "--out", str(out),
                            "--models", "CNN-7"], capsys)
    assert code == 2 and "--models: unknown row(s) CNN-7" in err and "CNN-25" in err


def test_small_sweep_runs_a_subset_on_a_small_set_and_leaves_no_lock(tmp_path, capsys):
    from motiflens.experiments.registry import load_experiment
    from motiflens.experiments.sweep import subset_experiment

    small = subset_experiment(load_experiment("table1-authors-code"), models=["CNN-25"],
                              n_sequences=500)
    assert [m.id for m in small.models] == ["CNN-25"]
    assert small.dataset.simulation == {"spacing": "code", "n_sequences": 500}
    out = tmp_path / "sweep"
    code, _, err = run_cli(["reproduce", "table1-authors-code", "--out", str(out), "--models",
                            "CNN-25", "--n-sequences", "400", "--trials", "1", "--epochs", "1",
                            "--no-report"], capsys)
    assert code == 0, err
    assert (out / "runs" / "CNN-25" / "trial-0" / "result.json").is_file()
    assert not (out / "runs" / "CNN-2").exists() and not (out / ".lock").exists()


def test_unfinished_runs_say_so(tmp_path, capsys):
    from motiflens.data.dataset import load_dataset
    from motiflens.models import model_spec
    from motiflens.simulate import SimulationConfig, simulate_to_hdf5
    from motiflens.train import TrainConfig, train, unfinished_reason

    data = simulate_to_hdf5(SimulationConfig(n_sequences=300, seed=4), tmp_path / "d.h5")
    run = tmp_path / "run"
    train(model_spec("4x19p25-6x5p4-d16", n_outputs=12), load_dataset(data),
          TrainConfig.for_protocol("paper", seed=0, max_epochs=1, batch_size=50), run,
          progress=False)
    assert unfinished_reason(run) is None
    (run / "metrics.json").unlink()  # as a run killed before its end leaves it
    assert "did not finish" in unfinished_reason(run)
    code, out, err = run_cli(["evaluate", str(run)], capsys)
    assert code == 0 and "warning" in err and "did not finish" in err and "AU-ROC" in out


def test_precision_follows_what_the_cpu_runs_natively(monkeypatch):
    import torch

    from motiflens.train import resolve_precision

    cpu = torch.device("cpu")
    monkeypatch.setenv("MOTIFLENS_NATIVE_BF16", "0")  # as on an AVX2-only host
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ConfigError, match="no native bf16.*--precision fp32 or --precision auto"):
        resolve_precision("bf16", cpu)
    monkeypatch.setenv("MOTIFLENS_NATIVE_BF16", "1")  # as on an AVX512-BF16 / AMX host
    assert resolve_precision("auto", cpu) == "bf16" and resolve_precision("bf16", cpu) == "bf16"


def test_instruction_set_limits_are_respected_and_recorded(monkeypatch):
    """Running this CPU as an AVX2-only one (oneDNN limited) must not pick bf16, and every
    benchmark header and machine record says the limit was on."""
    import torch

    from motiflens._machine import describe_machine, machine_info
    from motiflens.train import resolve_precision

    for name in ("MOTIFLENS_NATIVE_BF16", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS",
                 "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert machine_info()["isa_limits"] == {"ONEDNN_MAX_CPU_ISA": "avx2"}
    assert describe_machine().endswith("| limited by ONEDNN_MAX_CPU_ISA=avx2")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    assert "isa_limits" not in machine_info() and "limited by" not in describe_machine()


def test_history_seconds_count_every_session(tmp_path):
    from motiflens.experiments.sweep import _history_seconds

    (tmp_path / "history.tsv").write_text(
        "epoch\ttrain_loss\tseconds\n1\t0.5\t10.5\n2\t0.4\t11.0\n3\t0.3\t9.5\n")
    assert _history_seconds(tmp_path) == pytest.approx(31.0)
    assert _history_seconds(tmp_path / "missing") == 0.0


def test_resuming_says_what_it_resumes(tmp_path, capsys):
    from motiflens.data.dataset import load_dataset
    from motiflens.models import model_spec
    from motiflens.simulate import SimulationConfig, simulate_to_hdf5
    from motiflens.train import TrainConfig, train

    data = load_dataset(simulate_to_hdf5(SimulationConfig(n_sequences=300, seed=4), tmp_path / "d.h5"))
    spec = model_spec("4x19p25-6x5p4-d16", n_outputs=12)
    run = tmp_path / "run"
    train(spec, data, TrainConfig.for_protocol("paper", seed=0, max_epochs=1, batch_size=50), run)
    capsys.readouterr()
    train(spec, data, TrainConfig.for_protocol("paper", seed=0, max_epochs=2, batch_size=50), run)
    err = capsys.readouterr().err
    assert "resuming" in err and "after epoch 1" in err
