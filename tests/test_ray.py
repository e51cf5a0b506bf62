"""Trials as Ray tasks on a local Ray instance: same layout and numbers as a local sweep."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray")

from motiflens.experiments import run_experiment  # noqa: E402
from motiflens.experiments.executors import _pack_dir, unpack_trial  # noqa: E402
from motiflens.experiments.sweep import RESULT  # noqa: E402

pytestmark = pytest.mark.ray

TINY = """\
name: tiny-ray
dataset:
  kind: synthetic
  simulation: {n_sequences: 300, seed: 3}
protocol: paper
train: {batch_size: 50, patience: null, num_threads: 1}
interpret: null
models:
  - {id: tiny, model: "8x19p25-16x5p4-d16"}
"""


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    yield ray
    if started:
        ray.shutdown()


def _strip(result: dict) -> dict:
    drop = {"provenance", "wall_s", "wall_time_s", "run_dir", "trial_dir", "device"}
    if isinstance(result, dict):
        return {k: _strip(v) for k, v in result.items() if k not in drop}
    return result


def test_ray_sweep_matches_local(local_ray, tmp_path):
    definition = tmp_path / "tiny.yaml"
    definition.write_text(TINY)
    via_ray = run_experiment(definition, tmp_path / "ray", trials=2, epochs=2, ray="auto",
                             progress=False)
    local = run_experiment(definition, tmp_path / "local", trials=2, epochs=2, progress=False,
                           data=via_ray / "data" / "synthetic.h5")
    for k in range(2):
        a = json.loads((via_ray / "runs" / "tiny" / f"trial-{k}" / RESULT).read_text())
        b = json.loads((local / "runs" / "tiny" / f"trial-{k}" / RESULT).read_text())
        assert _strip(a) == _strip(b)
        for name in ("checkpoint.pt", "last.pt", "history.tsv", "metrics.json", "trial.json"):
            assert (via_ray / "runs" / "tiny" / f"trial-{k}" / name).is_file()
    sweep = json.loads((via_ray / "sweep.json").read_text())
    assert sweep["executor"].startswith("ray")
    assert (via_ray / "summary" / "summary.tsv").is_file()
    # resuming through Ray runs nothing again
    before = {p: p.stat().st_mtime_ns for p in via_ray.glob("runs/*/*/*")}
    run_experiment(definition, via_ray, trials=2, epochs=2, ray="auto", progress=False)
    assert {p: p.stat().st_mtime_ns for p in via_ray.glob("runs/*/*/*")} == before


def test_results_shipped_back_from_a_remote_worker(tmp_path):
    """Without a shared filesystem a worker returns the trial directory as an archive."""
    src = tmp_path / "remote" / "trial"
    (src / "interpret" / "layer1").mkdir(parents=True)
    (src / "interpret" / "layer1" / "tomtom.tsv").write_text("Query_ID\tTarget_ID\n")
    (src / "metrics.json").write_text("{}")
    (src / RESULT).write_text('{"trial": 0}')
    (src / ".tmp-last.pt-x").write_text("partial")
    dest = tmp_path / "driver" / "runs" / "m" / "trial-0"
    unpack_trial(_pack_dir(src), dest)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "interpret/layer1/tomtom.tsv", "metrics.json", RESULT]


def test_ray_missing_is_a_clear_error(monkeypatch):
    import sys

    from motiflens.errors import ConfigError
    from motiflens.experiments.executors import _import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'motiflens\[ray\]'"):
        _import_ray()
