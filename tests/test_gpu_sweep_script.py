"""benchmarks/gpu_sweep.py, rehearsed on the CPU as a GPU machine would run it: no pyjaspar
(a JASPAR snapshot instead), the vectorised sweep as a child process, the comparison with the
committed records of the same seeds, and a budget that stops the sweep honestly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_sweep.py"


@pytest.fixture(scope="module")
def device_like_env(tmp_path_factory) -> dict[str, str]:
    """Environment of the lent GPU image: pyjaspar, captum, logomaker, pyfaidx absent."""
    from motiflens.jaspar import export_snapshot

    base = tmp_path_factory.mktemp("device")
    export_snapshot("JASPAR2016", base / "jaspar")
    for name in ("pyjaspar", "captum", "logomaker", "pyfaidx"):
        (base / "blocker" / name).mkdir(parents=True)
        (base / "blocker" / name / "__init__.py").write_text(f"raise ImportError('{name}')\n")
    env = dict(os.environ)
    env.update(PYTHONPATH=str(base / "blocker"), MOTIFLENS_JASPAR_SNAPSHOT=str(base / "jaspar"))
    return env


def run_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--allow-cpu", "--models", "CNN-25",
                           "--trials", "2", "--workers", "1", "--n-sequences", "600", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_rehearsal_compares_every_finished_trial_with_its_record(device_like_env, tmp_path):
    summary_path = tmp_path / "summary.json"
    done = run_script(device_like_env, "--out", str(tmp_path / "sweep"), "--epochs", "1",
                      "--precision", "fp32", "--summary", str(summary_path))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    assert summary["sweep"] == "finished"
    assert (summary["trials_finished"], summary["trials_expected"]) == (2, 2)
    records = ROOT / "docs" / "results" / "table1-authors-code" / "runs" / "CNN-25"
    for k, row in enumerate(summary["rows"]):
        record = json.loads((records / f"trial-{k}" / "result.json").read_text())
        assert row["seed"] == record["seed"] and row["cpu_auroc"] == record["auroc"]
        assert row["gpu_epochs"] == 1 and row["delta"] == row["gpu_auroc"] - row["cpu_auroc"]
    # 600 sequences are not the records' dataset, and the summary must say so
    assert summary["same_dataset"] is False and "DIFFERS FROM the records'" in done.stdout
    assert "--vectorize" in summary["command"] and "--fast-dropout" in summary["command"]


def test_a_sweep_stopped_at_the_budget_reports_its_trials_as_missing(device_like_env, tmp_path):
    summary_path = tmp_path / "summary.json"
    done = run_script(device_like_env, "--out", str(tmp_path / "sweep"), "--budget-s", "0.5",
                      "--precision", "fp32", "--summary", str(summary_path))
    assert done.returncode == 1
    summary = json.loads(summary_path.read_text())
    assert summary["sweep"].startswith("stopped at the")
    assert summary["trials_finished"] == 0 and summary["within_tolerance"] == 0
    assert all(row["gpu_auroc"] is None for row in summary["rows"])
