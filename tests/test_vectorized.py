"""Vectorised trials: equal to single runs, per-trial early stopping, files, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiflens._io import read_json
from motiflens._machine import native_bf16
from motiflens.errors import ConfigError
from motiflens.models import ConvBlockSpec, ModelSpec, build_model
from motiflens.train import HISTORY_COLUMNS, load_run, train
from motiflens.vectorized import VectorizedCNN, train_trials
from test_train import LENGTH, fast_config, planted_dataset

SEEDS = (3, 11, 29)


def two_layer_spec() -> ModelSpec:
    """Two conv blocks (pooled, one padded by the SAME rule), dense layer, dropout everywhere."""
    return ModelSpec("tiny2", [ConvBlockSpec(6, 7, 4), ConvBlockSpec(8, 3, 3)], dense=16,
                     n_outputs=1, input_length=LENGTH)


@pytest.mark.parametrize("masks", ["bernoulli", "fast"])
def test_forward_equals_the_single_models_including_dropout_masks(masks):
    from motiflens.ops import set_dropout_masks

    torch.manual_seed(0)
    spec = two_layer_spec()
    singles = [set_dropout_masks(build_model(spec, seed=s), masks) for s in SEEDS]
    model = VectorizedCNN.from_states(spec, [m.state_dict() for m in singles])
    model.dropout_masks = masks
    x = torch.randn(len(SEEDS), 10, 4, LENGTH)
    model.generators = [torch.Generator().manual_seed(100 + t) for t in range(len(SEEDS))]
    out = model(x)
    assert out.shape == (len(SEEDS), 10, 1)
    for t, single in enumerate(singles):
        torch.manual_seed(100 + t)  # the single model's dropout draws from the global RNG
        np.testing.assert_allclose(out[t].detach(), single(x[t]).detach(), atol=1e-5)
        state = model.trial_state(t)
        assert list(state) == list(single.state_dict())
        for key, value in single.state_dict().items():  # BN running statistics updated alike
            np.testing.assert_allclose(state[key].float(), value.float(), atol=1e-6)
    model.eval()
    shared = torch.randn(5, 4, LENGTH)
    out = model(shared)
    for t, single in enumerate(singles):
        single.eval()
        np.testing.assert_allclose(out[t].detach(), single(shared).detach(), atol=1e-5)


def test_gradients_of_one_trial_do_not_depend_on_the_others():
    spec = two_layer_spec()
    states = [build_model(spec, seed=s).state_dict() for s in SEEDS]
    x = torch.randn(len(SEEDS), 8, 4, LENGTH)
    grads = []
    for scale in (1.0, 5.0):  # change trial 2's input only
        model = VectorizedCNN.from_states(spec, states)
        model.eval()
        xx = x.clone()
        xx[2] *= scale
        model(xx).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for name, g in grads[0].items():
        torch.testing.assert_close(g[:2], grads[1][name][:2])
    first = "blocks__0__conv__weight"
    assert not torch.allclose(grads[0][first][2], grads[1][first][2])


@pytest.mark.parametrize("masks", ["bernoulli", "fast"])
def test_group_matches_single_runs_and_writes_the_same_layout(tmp_path, masks):
    data = planted_dataset()
    spec = two_layer_spec()
    configs = [fast_config(seed=s, max_epochs=4, dropout_masks=masks) for s in SEEDS]
    dirs = [tmp_path / "vec" / f"trial-{i}" for i in range(len(SEEDS))]
    results = train_trials(spec, data, configs, dirs, progress=False)
    for config, out, result in zip(configs, dirs, results):
        single = train(spec, data, config, tmp_path / "single" / f"seed-{config.seed}",
                       progress=False)
        for name in ("config.json", "checkpoint.pt", "last.pt", "history.tsv", "metrics.json"):
            assert (out / name).is_file(), name
        assert (out / "history.tsv").read_text().splitlines()[0].split("\t") == list(HISTORY_COLUMNS)
        assert result["epochs_run"] == single["epochs_run"] == 4
        # Same init, batch order and dropout masks: equal up to op-order rounding.
        assert abs(result["test"]["mean_auroc"] - single["test"]["mean_auroc"]) < 1e-3
        assert abs(result["best_valid_loss"] - single["best_valid_loss"]) < 1e-3
        model, loaded_spec, loaded_config = load_run(out)  # a normal single-model checkpoint
        assert loaded_spec == spec and loaded_config.seed == config.seed
        saved = read_json(out / "config.json")
        assert saved["vectorized"]["group_size"] == len(SEEDS)
        assert saved["train_config"] == config.to_dict()


def test_each_trial_stops_early_on_its_own(tmp_path):
    data = planted_dataset()
    spec = two_layer_spec()
    # lr 0.2 makes validation loss bounce: patience 1 stops trials at different epochs.
    configs = [fast_config(seed=s, lr=0.2, max_epochs=12, patience=1) for s in (1, 2, 3, 4)]
    dirs = [tmp_path / f"t{i}" for i in range(4)]
    results = train_trials(spec, data, configs, dirs, progress=False)
    epochs = [r["epochs_run"] for r in results]
    assert len(set(epochs)) > 1, epochs  # the group shrank while the others went on
    for config, out, result in zip(configs, dirs, results):
        single = train(spec, data, config, tmp_path / f"s{config.seed}", progress=False)
        assert result["stopped_early"] == single["stopped_early"]
        assert result["epochs_run"] == single["epochs_run"]
        assert result["best_epoch"] == single["best_epoch"]
        rows = (out / "history.tsv").read_text().splitlines()[1:]
        assert len(rows) == result["epochs_run"]


def test_resume_equals_uninterrupted_run(tmp_path):
    data = planted_dataset()
    spec = two_layer_spec()
    full = [tmp_path / "full" / str(i) for i in range(3)]
    part = [tmp_path / "part" / str(i) for i in range(3)]
    train_trials(spec, data, [fast_config(seed=s, max_epochs=5) for s in SEEDS], full)
    train_trials(spec, data, [fast_config(seed=s, max_epochs=2) for s in SEEDS], part)
    assert all(read_json(d / "metrics.json")["epochs_run"] == 2 for d in part)
    train_trials(spec, data, [fast_config(seed=s, max_epochs=5) for s in SEEDS], part)
    for a, b in zip(full, part):
        sa = torch.load(a / "checkpoint.pt", weights_only=True)["state_dict"]
        sb = torch.load(b / "checkpoint.pt", weights_only=True)["state_dict"]
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key
        ha = (a / "history.tsv").read_text().splitlines()
        hb = (b / "history.tsv").read_text().splitlines()
        strip = lambda rows: [r.split("\t")[:5] for r in rows]  # noqa: E731 - seconds differ
        assert strip(ha) == strip(hb)


def test_a_vectorised_last_pt_is_resumable_by_the_single_trainer(tmp_path):
    data = planted_dataset()
    spec = two_layer_spec()
    dirs = [tmp_path / str(i) for i in range(2)]
    train_trials(spec, data, [fast_config(seed=s, max_epochs=2) for s in SEEDS[:2]], dirs)
    result = train(spec, data, fast_config(seed=SEEDS[0], max_epochs=3), dirs[0], progress=False)
    assert result["epochs_run"] == 3
    assert len((dirs[0] / "history.tsv").read_text().splitlines()) == 4


def test_configs_must_differ_in_seed_only(tmp_path):
    data = planted_dataset()
    with pytest.raises(ConfigError, match="seed only"):
        train_trials(two_layer_spec(), data, [fast_config(seed=1), fast_config(seed=2, lr=1e-3)],
                     [tmp_path / "a", tmp_path / "b"])


def test_same_seeds_same_numbers(tmp_path):
    data = planted_dataset()
    spec = two_layer_spec()
    runs = []
    for name in ("a", "b"):
        dirs = [tmp_path / name / str(i) for i in range(2)]
        runs.append(train_trials(spec, data, [fast_config(seed=s) for s in SEEDS[:2]], dirs))
    for r1, r2 in zip(*runs):
        assert r1["test"]["mean_auroc"] == r2["test"]["mean_auroc"]
        assert r1["best_valid_loss"] == r2["best_valid_loss"]


@pytest.mark.skipif(not native_bf16(), reason="bf16 training is refused on CPUs without native "
                    "bf16 (that refusal: test_reliability.py)")
def test_bf16_precision_is_recorded_and_close_to_fp32(tmp_path):
    data = planted_dataset()
    results = {}
    for precision in ("fp32", "bf16"):
        dirs = [tmp_path / precision / str(i) for i in range(2)]
        configs = [fast_config(seed=s, precision=precision, max_epochs=6) for s in SEEDS[:2]]
        results[precision] = train_trials(two_layer_spec(), data, configs, dirs)
        for out in dirs:
            assert read_json(out / "config.json")["train_config"]["precision"] == precision
    for a, b in zip(results["fp32"], results["bf16"]):
        assert a["test"]["mean_auroc"] > 0.6
        assert abs(a["test"]["mean_auroc"] - b["test"]["mean_auroc"]) < 0.05


def test_grouped_and_per_trial_convolutions_agree():
    spec = two_layer_spec()
    model = VectorizedCNN.from_states(spec, [build_model(spec, seed=s).state_dict() for s in SEEDS])
    model.eval()
    x = torch.randn(len(SEEDS), 6, 4, LENGTH)
    outs = {}
    for impl in ("grouped", "loop"):
        model.conv_impl = impl
        outs[impl] = model(x)
    torch.testing.assert_close(outs["grouped"], outs["loop"], atol=1e-5, rtol=1e-5)


def test_the_accelerator_code_path_run_on_the_cpu_agrees_with_the_cpu_path(tmp_path, monkeypatch):
    """What a GPU runs, run on the CPU: the training set resident as uint8 and cast per batch
    (bit for bit the CPU path's results), then also one grouped convolution per layer for all
    trials (the same results to float rounding)."""
    import motiflens.train.vectorized as vectorized_module
    from motiflens.train.batches import device_tensor

    data = planted_dataset()
    configs = [fast_config(seed=s, max_epochs=3) for s in SEEDS[:2]]

    def run(name: str) -> list[dict]:
        return train_trials(two_layer_spec(), data, configs,
                            [tmp_path / name / str(i) for i in range(len(configs))])

    cpu = run("cpu")
    dtypes = []

    def compact(array, device):
        tensor = device_tensor(array, device, compact=True)
        dtypes.append(tensor.dtype)
        return tensor

    monkeypatch.setattr(vectorized_module, "device_tensor", compact)
    resident = run("resident")
    assert dtypes[:3] == [torch.uint8, torch.uint8, torch.uint8]  # train X, Y and valid X
    for a, b in zip(cpu, resident):
        assert a["test"] == b["test"] and a["best_epoch"] == b["best_epoch"]
    monkeypatch.setattr(VectorizedCNN, "_grouped", lambda self, h: True)
    grouped = run("grouped")
    for a, b in zip(cpu, grouped):
        assert abs(a["test"]["mean_auroc"] - b["test"]["mean_auroc"]) < 0.01
    for i in range(len(configs)):
        w_cpu = torch.load(tmp_path / "cpu" / str(i) / "checkpoint.pt", weights_only=True)
        w_grp = torch.load(tmp_path / "grouped" / str(i) / "checkpoint.pt", weights_only=True)
        first = next(k for k in w_cpu["state_dict"] if k.endswith("weight"))
        torch.testing.assert_close(w_cpu["state_dict"][first], w_grp["state_dict"][first],
                                   atol=1e-3, rtol=1e-3)
