"""Sweeps: layout, resume (kill -9 included), worker processes, failures, settings checks.

One tiny experiment (2 small models x 2 trials x 2 epochs on 300 simulated 200-nt sequences,
1 CPU thread per trial) is run once per module as the uninterrupted baseline, with and without
interpretation. The kill/resume and worker tests use the train-only variant (interpretation is
a deterministic function of the checkpoint, whose weights they compare bit for bit).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from motiflens.errors import ConfigError, DatasetError
from motiflens.experiments import run_experiment, trial_seed
from motiflens.experiments.executors import SweepError
from motiflens.experiments.sweep import RESULT

TINY = """\
name: tiny
description: two tiny models on a tiny synthetic set
dataset:
  kind: synthetic
  simulation: {n_sequences: 300, seed: 1}
protocol: paper
train: {batch_size: 50, patience: null, num_threads: 1}
interpret: {mode: paper, db: JASPAR2016, gt_list: paper}
models:
  - {id: tiny-a, model: "4x19p25-6x5p4-d16"}
  - {id: tiny-b, label: "tiny B <3 filters>", model: "4x9p2-5x5p50-d16", filters: {1: 3}, layers: [1, 2]}
"""
TRAIN_ONLY = TINY.replace("interpret: {mode: paper, db: JASPAR2016, gt_list: paper}", "interpret: null")
MODELS = {"tiny-a": (1,), "tiny-b": (1, 2)}
TRIALS, EPOCHS = 2, 2
VOLATILE = {"provenance", "wall_s", "wall_time_s", "out_dir", "run_dir", "trial_dir", "seconds",
            "created", "device"}


def _stable(obj):
    """A result with timings, paths and provenance removed (what must be reproducible)."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def _results(sweep: Path) -> dict:
    return {
        (model, k): _stable(json.loads((sweep / "runs" / model / f"trial-{k}" / RESULT).read_text()))
        for model in MODELS for k in range(TRIALS)
    }


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("def") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, tiny_yaml) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "sweep"
    assert run_experiment(tiny_yaml, out, trials=TRIALS, epochs=EPOCHS, progress=False) == out.resolve()
    return out


@pytest.fixture(scope="module")
def train_only(tmp_path_factory, baseline) -> tuple[Path, Path, Path]:
    """(definition, dataset, uninterrupted sweep) of the experiment without interpretation."""
    root = tmp_path_factory.mktemp("train_only")
    definition = root / "train-only.yaml"
    definition.write_text(TRAIN_ONLY)
    data = baseline / "data" / "synthetic.h5"
    out = root / "sweep"
    run_experiment(definition, out, trials=TRIALS, epochs=EPOCHS, progress=False, data=data)
    return definition, data, out


def _same_weights(a: Path, b: Path) -> bool:
    import torch

    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_sweep_layout_and_results(baseline):
    assert (baseline / "data" / "synthetic.h5").is_file()
    assert (baseline / "experiment.yaml").is_file()
    sweep = json.loads((baseline / "sweep.json").read_text())
    assert sweep["trials"] == TRIALS and sweep["settings"]["epochs"] == EPOCHS
    assert sweep["settings"]["sweep_seed"] == 0 and sweep["provenance"]["versions"]["torch"]
    for model, layers in MODELS.items():
        for k in range(TRIALS):
            run = baseline / "runs" / model / f"trial-{k}"
            for name in ("trial.json", "config.json", "checkpoint.pt", "last.pt", "history.tsv",
                         "metrics.json", RESULT):
                assert (run / name).is_file(), run / name
            result = json.loads((run / RESULT).read_text())
            assert result["seed"] == trial_seed(0, model, k)
            assert result["metrics"]["epochs_run"] == EPOCHS
            assert 0.0 <= result["auroc"] <= 1.0 and 0.0 <= result["aupr"] <= 1.0
            assert sorted(result["layers"]) == [str(x) for x in layers]
            for layer in layers:
                assert (run / "interpret" / f"layer{layer}" / "tomtom.tsv").is_file()
                assert result["layers"][str(layer)]["n_filters"] == {
                    ("tiny-a", 1): 4, ("tiny-b", 1): 3, ("tiny-b", 2): 5}[(model, layer)]
    rows = (baseline / "summary" / "summary.tsv").read_text().splitlines()
    assert len(rows) == 1 + 3
    header = rows[0].split("\t")
    first = dict(zip(header, rows[1].split("\t")))
    assert first["model_id"] == "tiny-a" and first["n_trials"] == str(TRIALS)
    aurocs = [json.loads((baseline / "runs" / "tiny-a" / f"trial-{k}" / RESULT).read_text())["auroc"]
              for k in range(TRIALS)]
    assert float(first["auroc_mean"]) == pytest.approx(sum(aurocs) / TRIALS, abs=1e-6)
    md = (baseline / "summary" / "summary.md").read_text()
    assert "tiny B <3 filters>" in md and "± " in md
    trials_tsv = (baseline / "summary" / "trials.tsv").read_text().splitlines()
    assert len(trials_tsv) == 1 + TRIALS * 3


def test_rerun_skips_complete_trials(baseline, tiny_yaml, monkeypatch):
    import motiflens.train

    before = {p: p.stat().st_mtime_ns for p in baseline.glob("runs/*/*/*") if p.is_file()}

    def no_training(*args, **kwargs):
        raise AssertionError("a complete trial was trained again")

    monkeypatch.setattr(motiflens.train, "train", no_training)
    run_experiment(tiny_yaml, baseline, trials=TRIALS, epochs=EPOCHS, progress=False)
    after = {p: p.stat().st_mtime_ns for p in baseline.glob("runs/*/*/*") if p.is_file()}
    assert after == before


def test_changed_settings_are_refused(baseline, tiny_yaml):
    with pytest.raises(ConfigError, match="sweep_seed"):
        run_experiment(tiny_yaml, baseline, trials=TRIALS, epochs=EPOCHS, sweep_seed=1, progress=False)
    with pytest.raises(ConfigError, match="epochs"):
        run_experiment(tiny_yaml, baseline, trials=TRIALS, epochs=EPOCHS + 1, progress=False)


def test_incomplete_trial_is_redone_identically(baseline, tiny_yaml, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(baseline, copy)
    run = copy / "runs" / "tiny-a" / "trial-1"
    (run / RESULT).unlink()
    shutil.rmtree(run / "interpret")
    (run / ".tmp-last.pt-abc123").write_bytes(b"half a checkpoint")
    run_experiment(tiny_yaml, copy, trials=TRIALS, epochs=EPOCHS, progress=False)
    assert not list(run.glob(".tmp-*"))
    assert _results(copy) == _results(baseline)


CHILD = textwrap.dedent("""\
    import os, signal, sys
    import torch
    import motiflens.experiments.sweep as sweep
    import motiflens.experiments.trials as trials

    mode, definition, out, data = sys.argv[1:5]
    if mode == "after-first-done":
        original = trials.mark_done
        def mark_done(directory, result):
            original(directory, result)          # result.json renamed into place ...
            os.kill(os.getpid(), signal.SIGKILL)  # ... then the sweep dies
        trials.mark_done = mark_done
    elif mode == "mid-training":
        original_save = torch.save
        saves = []
        def save(obj, f, *args, **kwargs):
            original_save(obj, f, *args, **kwargs)
            if "tiny-b" in str(f) and "last.pt" in str(f):
                saves.append(f)
                if len(saves) == 2:                   # epoch 2 of tiny-b trial 0: the temporary
                    os.kill(os.getpid(), signal.SIGKILL)  # file is written, not yet renamed
        torch.save = save
    sweep.run_experiment(definition, out, trials=2, epochs=2, data=data, progress=False)
    sys.exit(3)  # not reached: the process is killed
""")


def test_kill9_twice_then_resume_equals_uninterrupted(train_only, tmp_path):
    definition, data, uninterrupted = train_only
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = tmp_path / "killed"
    for mode in ("after-first-done", "mid-training"):
        proc = subprocess.run([sys.executable, str(script), mode, str(definition), str(out), str(data)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        if mode == "after-first-done":
            done = sorted(p.parent.name for p in out.glob(f"runs/*/*/{RESULT}"))
            assert done == ["trial-0"] and (out / "runs/tiny-a/trial-0" / RESULT).is_file()
            assert not (out / "summary").exists()
        else:
            killed = out / "runs" / "tiny-b" / "trial-0"
            assert (out / "runs/tiny-a/trial-1" / RESULT).is_file()
            assert not (killed / RESULT).exists() and list(killed.glob(".tmp-last.pt-*"))
            history = (killed / "history.tsv").read_text().splitlines()
            assert len(history) == 1 + 2  # epoch 2 finished, its last.pt never renamed
    run_experiment(definition, out, trials=TRIALS, epochs=EPOCHS, data=data, progress=False)
    assert not list(out.rglob(".tmp-*"))
    assert _results(out) == _results(uninterrupted)
    for model in MODELS:
        for k in range(TRIALS):
            rel = Path("runs") / model / f"trial-{k}" / "checkpoint.pt"
            assert _same_weights(out / rel, uninterrupted / rel)
    assert (out / "summary" / "summary.tsv").read_text() == \
        (uninterrupted / "summary" / "summary.tsv").read_text()


def test_worker_processes_match_sequential(train_only, tmp_path):
    definition, data, uninterrupted = train_only
    out = tmp_path / "parallel"
    run_experiment(definition, out, trials=TRIALS, epochs=EPOCHS, workers=2, progress=False, data=data)
    assert _results(out) == _results(uninterrupted)
    assert "2 worker processes" in json.loads((out / "sweep.json").read_text())["executor"]


@pytest.mark.parametrize("vectorize", [False, True])
def test_worker_processes_report_each_epoch_before_the_trial_ends(vectorize, train_only, tmp_path,
                                                                  monkeypatch, capsys):
    from motiflens.experiments import executors

    definition, data, _ = train_only
    events = []
    real_run = executors.ProcessExecutor.run

    def spy(self, tasks, on_done, on_epoch=None):
        assert on_epoch is not None  # a sweep with progress asks for epochs

        def epoch_seen(task, epoch):
            events.append((task.model_id, task.trial, epoch))
            on_epoch(task, epoch)

        def done_seen(task, result):
            events.append((task.model_id, task.trial, "done"))
            on_done(task, result)

        return real_run(self, tasks, done_seen, epoch_seen)

    monkeypatch.setattr(executors.ProcessExecutor, "run", spy)
    run_experiment(definition, tmp_path / "progress", trials=TRIALS, epochs=EPOCHS, workers=2,
                   progress=True, data=data, vectorize=vectorize)
    for model in MODELS:
        for k in range(TRIALS):
            assert [e for m, t, e in events if (m, t) == (model, k)] == [1, 2, "done"]
    assert f"epoch {EPOCHS}/{EPOCHS}" in capsys.readouterr().err  # on the sweep's progress bar


def test_failed_trial_reported_others_kept(train_only, tmp_path, monkeypatch):
    import motiflens.train

    definition, data, _ = train_only
    real_train = motiflens.train.train

    def flaky(spec, *args, **kwargs):
        if spec.name == "tiny-b":
            raise RuntimeError("simulated out-of-memory")
        return real_train(spec, *args, **kwargs)

    monkeypatch.setattr(motiflens.train, "train", flaky)
    out = tmp_path / "flaky"
    with pytest.raises(SweepError, match=r"2 trial\(s\) failed \(tiny-b/trial-0, tiny-b/trial-1\)"):
        run_experiment(definition, out, trials=TRIALS, epochs=1, progress=False, data=data)
    assert sorted(p.parent.name for p in out.glob(f"runs/tiny-a/*/{RESULT}")) == ["trial-0", "trial-1"]
    assert not list(out.glob(f"runs/tiny-b/*/{RESULT}"))
    summary_md = (out / "summary" / "summary.md").read_text()
    assert "tiny-a" in summary_md
    assert ("Incomplete sweep: 2 of 4 planned trials finished (tiny-b 0 of 2)" in summary_md)


def test_partial_sweep_report_says_it_is_incomplete(train_only, tmp_path):
    from motiflens.report.html import write_report

    definition, data, uninterrupted = train_only
    out = tmp_path / "partial"
    shutil.copytree(uninterrupted, out)
    shutil.rmtree(out / "runs" / "tiny-b" / "trial-1")
    report = write_report(out).read_text()
    assert "Incomplete sweep: 3 of 4 planned trials finished (tiny-b 1 of 2)" in report
    assert "Incomplete sweep" in (out / "summary" / "summary.md").read_text()
    assert "Incomplete sweep" not in (uninterrupted / "summary" / "summary.md").read_text()


def test_dataset_errors(tmp_path, tiny_yaml):
    in_vivo = tmp_path / "vivo.yaml"
    in_vivo.write_text(TINY.replace("kind: synthetic", "kind: file"))
    with pytest.raises(ConfigError, match="--data"):
        run_experiment(in_vivo, tmp_path / "a", trials=1, epochs=1, progress=False)
    with pytest.raises(DatasetError, match="not found"):
        run_experiment(tiny_yaml, tmp_path / "b", trials=1, epochs=1, progress=False,
                       data=tmp_path / "absent.h5")
    with pytest.raises(ConfigError, match="trials"):
        run_experiment(tiny_yaml, tmp_path / "c", trials=0, progress=False)


def test_concurrent_sweep_in_same_directory_is_refused(baseline, tiny_yaml):
    fcntl = pytest.importorskip("fcntl")
    with open(baseline / ".lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            with pytest.raises(ConfigError, match="another sweep is running"):
                run_experiment(tiny_yaml, baseline, trials=TRIALS, epochs=EPOCHS, progress=False)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    run_experiment(tiny_yaml, baseline, trials=TRIALS, epochs=EPOCHS, progress=False)  # free again


def test_vectorized_sweep_same_layout_close_results_and_resumable(train_only, tmp_path):
    """--vectorize: one group per model, trial directories as without it, equal to rounding."""
    definition, data, uninterrupted = train_only
    out2 = tmp_path / "vectorized2"
    run_experiment(definition, out2, trials=TRIALS, epochs=EPOCHS, progress=False, data=data,
                   vectorize=True)
    for model in MODELS:
        for k in range(TRIALS):
            run = out2 / "runs" / model / f"trial-{k}"
            for name in ("trial.json", "config.json", "checkpoint.pt", "last.pt", "history.tsv",
                         "metrics.json", RESULT):
                assert (run / name).is_file(), run / name
            a = json.loads((run / RESULT).read_text())
            b = json.loads((uninterrupted / "runs" / model / f"trial-{k}" / RESULT).read_text())
            assert a["seed"] == b["seed"] and a["metrics"]["epochs_run"] == EPOCHS
            assert a["auroc"] == pytest.approx(b["auroc"], abs=2e-3)
            assert json.loads((run / "config.json").read_text())["vectorized"]["group_size"] == TRIALS
    assert (out2 / "summary" / "summary.tsv").is_file()
    assert json.loads((out2 / "sweep.json").read_text())["vectorize"] is True
    # The per-trial runner accepts trial directories written by the vectorised one.
    before = _results(out2)
    for p in out2.glob(f"runs/tiny-a/*/{RESULT}"):
        p.unlink()
    run_experiment(definition, out2, trials=TRIALS, epochs=EPOCHS, progress=False, data=data)
    assert _results(out2) == before


def test_vectorize_refuses_ray(tiny_yaml, tmp_path):
    with pytest.raises(ConfigError, match="--vectorize"):
        run_experiment(tiny_yaml, tmp_path / "x", trials=1, ray="local", vectorize=True)


def test_command_line_train_overrides_are_recorded_and_checked_on_resume(train_only, tmp_path):
    """reproduce --precision auto --fast-dropout: every trial trains with them, the sweep
    records them, and resuming without them is refused (the results would mix settings).
    ``auto`` rather than ``bf16``: the test must pass on CPUs without native bf16 too."""
    from motiflens._machine import native_bf16

    definition, data, _ = train_only
    out = tmp_path / "auto"
    overrides = {"precision": "auto", "dropout_masks": "fast"}
    run_experiment(definition, out, trials=1, epochs=1, progress=False, data=data,
                   train=overrides)
    trial = out / "runs" / "tiny-a" / "trial-0"
    resolved = "bf16" if native_bf16() else "fp32"  # what "auto" means on this CPU
    config = json.loads((trial / "config.json").read_text())
    assert config["train_config"]["precision"] == resolved
    assert config["train_config"]["dropout_masks"] == "fast"
    assert json.loads((trial / "result.json").read_text())["precision"] == resolved
    settings = json.loads((out / "sweep.json").read_text())["settings"]
    assert settings["train"]["precision"] == "auto"
    assert "auto" in (out / "experiment.yaml").read_text()
    with pytest.raises(ConfigError, match="other settings"):
        run_experiment(definition, out, trials=1, epochs=1, progress=False, data=data)
    with pytest.raises(ConfigError, match="precision"):
        run_experiment(definition, tmp_path / "bad", trials=1, epochs=1, progress=False,
                       data=data, train={"precision": "fp8"})


def test_a_models_subset_resumed_later_keeps_every_row(tmp_path):
    """Running rows B then A of one sweep directory (``--models``): experiment.yaml and the
    summary hold both rows in the experiment's order, not only the last subset."""
    from motiflens.experiments import run_experiment
    from motiflens.experiments.aggregate import load_sweep_experiment
    from motiflens.tables import read_tsv

    definition = tmp_path / "two.yaml"
    definition.write_text(
        "name: two-rows\nfidelity: code\ndataset:\n  kind: synthetic\n"
        "  simulation: {n_sequences: 300, seed: 1}\n"
        "train: {batch_size: 50, patience: null, num_threads: 1}\n"
        "models:\n  - {id: row-a, model: \"4x19p25-6x5p4-d16\"}\n"
        "  - {id: row-b, model: \"4x19p4-6x5p4-d16\"}\n")
    out = tmp_path / "sweep"
    run_experiment(definition, out, trials=1, epochs=1, models=["row-b"], progress=False)
    assert [m.id for m in load_sweep_experiment(out).models] == ["row-b"]
    run_experiment(definition, out, trials=1, epochs=1, models=["row-a"], progress=False)
    assert [m.id for m in load_sweep_experiment(out).models] == ["row-a", "row-b"]
    rows = read_tsv(out / "summary" / "summary.tsv")
    assert [r["model_id"] for r in rows] == ["row-a", "row-b"]


def test_a_file_dataset_sweep_finds_its_recorded_dataset(tmp_path):
    """`analyze`/`reinterpret`/`report` on a table2-real sweep need no --data while the file the
    sweep ran on is still there; when it is gone, the error names it and the flag."""
    import json

    from motiflens.errors import ConfigError
    from motiflens.experiments.registry import load_experiment
    from motiflens.experiments.sweep import prepare_dataset

    experiment = load_experiment("table2-real")
    data = tmp_path / "real.h5"
    data.write_bytes(b"stand-in")
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"settings": {"dataset": str(data)}}))
    assert prepare_dataset(experiment, out) == data.resolve()
    data.unlink()
    with pytest.raises(ConfigError, match=r"ran on .*real\.h5.*--data PATH.*motiflens data example"):
        prepare_dataset(experiment, out)
