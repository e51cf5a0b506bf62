"""The run directory format and TrainConfig's protocol / runtime split: old records still load."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from motiflens._io import read_json, write_json
from motiflens.train import (PROTOCOL_FIELDS, RUN_FILES, RUNTIME_FIELDS, TrainConfig, load_run,
                             train)
from test_train import fast_config, planted_dataset, tiny_spec

RESULTS = Path(__file__).parents[1] / "docs" / "results"

#: TrainConfig's fields in their historic order (config.json's key order).
FIELDS = ["protocol", "lr", "betas", "eps", "batch_size", "max_epochs", "patience", "l2", "init",
          "bn_eps", "bn_momentum", "seed", "device", "num_threads", "eval_batch_size",
          "stream_chunk", "aupr_method", "deterministic", "precision", "compile",
          "dropout_masks"]


def test_protocol_and_runtime_fields_split_the_config():
    assert [f.name for f in dataclasses.fields(TrainConfig)] == FIELDS
    assert sorted(PROTOCOL_FIELDS + RUNTIME_FIELDS) == sorted(FIELDS)
    assert not set(PROTOCOL_FIELDS) & set(RUNTIME_FIELDS)
    config = TrainConfig.for_protocol("code", seed=7, device="cpu", num_threads=2,
                                      dropout_masks="fast")
    protocol, runtime = config.protocol_dict(), config.runtime_dict()
    assert list(protocol) == list(PROTOCOL_FIELDS) and list(runtime) == list(RUNTIME_FIELDS)
    assert protocol["lr"] == 1e-3 and protocol["betas"] == [0.95, 0.999] and protocol["seed"] == 7
    assert runtime["num_threads"] == 2 and runtime["dropout_masks"] == "fast"
    assert {**protocol, **runtime} == config.to_dict()
    assert TrainConfig.from_dict({**protocol, **runtime}) == config
    json.dumps(protocol), json.dumps(runtime)  # JSON-ready


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rundir") / "run"
    train(tiny_spec(), planted_dataset(n_train=200), fast_config(max_epochs=2), out,
          progress=False)
    return out


def test_config_json_keeps_one_flat_train_config(finished_run):
    assert sorted(p.name for p in finished_run.iterdir()) == sorted(RUN_FILES)
    stored = read_json(finished_run / "config.json")["train_config"]
    assert list(stored) == FIELDS
    config = fast_config(max_epochs=2)
    assert stored == config.to_dict() == {**config.protocol_dict(), **config.runtime_dict()}
    ckpt = torch.load(finished_run / "checkpoint.pt", weights_only=True)
    assert ckpt["train_config"] == stored


def _as_old_format(run: Path, dest: Path, drop: tuple[str, ...]) -> Path:
    """A copy of ``run`` whose config.json / checkpoints lack the train-config keys ``drop``
    (as written before those fields existed)."""
    dest.mkdir()
    for name in RUN_FILES:
        (dest / name).write_bytes((run / name).read_bytes())
    config = read_json(dest / "config.json")
    config["train_config"] = {k: v for k, v in config["train_config"].items() if k not in drop}
    write_json(dest / "config.json", config)
    for name in ("checkpoint.pt", "last.pt"):
        obj = torch.load(dest / name, weights_only=True)
        obj["train_config"] = {k: v for k, v in obj["train_config"].items() if k not in drop}
        torch.save(obj, dest / name)
    return dest


@pytest.mark.parametrize("drop", [("precision", "compile", "dropout_masks"), RUNTIME_FIELDS],
                         ids=["before-precision", "protocol-only"])
def test_an_old_format_run_directory_loads_and_resumes(finished_run, tmp_path, drop):
    old = _as_old_format(finished_run, tmp_path / "old", drop)
    model, spec, config = load_run(old)
    assert spec == tiny_spec() and not model.training
    assert config.protocol_dict() == fast_config(max_epochs=2).protocol_dict()
    assert all(getattr(config, k) == getattr(TrainConfig(), k) for k in drop)
    expected = torch.load(finished_run / "checkpoint.pt", weights_only=True)["state_dict"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    # Resuming it with today's config is accepted (missing keys count as their defaults) and
    # continues from the stored epoch.
    more = train(tiny_spec(), planted_dataset(n_train=200), fast_config(max_epochs=3), old,
                 progress=False)
    assert more["epochs_run"] == 3
    assert len((old / "history.tsv").read_text().splitlines()) == 1 + 3


@pytest.mark.parametrize("record", sorted(p.name for p in RESULTS.glob("*/sweep.json")
                                          for p in [p.parent]) or ["none"])
def test_committed_records_still_make_their_train_config(record):
    if record == "none":
        pytest.skip("no committed records")
    settings = read_json(RESULTS / record / "sweep.json")["settings"]
    config = TrainConfig.for_protocol(settings["protocol"], **settings["train"])
    assert config.protocol == settings["protocol"]
    assert TrainConfig.from_dict(config.to_dict()) == config
