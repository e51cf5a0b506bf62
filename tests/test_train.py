"""Training: learning a planted motif, early stopping, checkpoints, resume, determinism."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch

from motiflens._io import read_json
from motiflens._machine import native_bf16
from motiflens.data import Dataset, Split, load_dataset, write_dataset
from motiflens.errors import ConfigError, FormatError
from motiflens.models import ConvBlockSpec, ModelSpec, build_model
from motiflens.train import (
    HISTORY_COLUMNS,
    TrainConfig,
    Batches as _Batches,
    evaluate,
    load_run,
    predict,
    train,
)

LENGTH = 40
MOTIF = [0, 1, 2, 3, 2, 1]  # ACGTGC


def _random_onehot(rng: np.random.Generator, n: int, length: int = LENGTH) -> np.ndarray:
    idx = rng.integers(0, 4, (n, length))
    X = np.zeros((n, 4, length), np.float32)
    X[np.arange(n)[:, None], idx, np.arange(length)] = 1.0
    return X


def _planted(rng: np.random.Generator, n: int) -> Split:
    """Label 1 = the 6-mer ACGTGC was planted (half the sequences)."""
    X = _random_onehot(rng, n)
    Y = np.zeros((n, 1), np.float32)
    for i in np.flatnonzero(rng.random(n) < 0.5):
        p = rng.integers(0, LENGTH - len(MOTIF))
        X[i, :, p:p + len(MOTIF)] = 0.0
        X[i, MOTIF, np.arange(p, p + len(MOTIF))] = 1.0
        Y[i, 0] = 1.0
    return Split(X, Y)


def planted_dataset(seed: int = 0, n_train: int = 400) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(_planted(rng, n_train), _planted(rng, 200), _planted(rng, 200),
                   ["ACGTGC"], {"config": {"kind": "planted"}}, None)


def tiny_spec(n_outputs: int = 1) -> ModelSpec:
    return ModelSpec("tiny", [ConvBlockSpec(8, 7, LENGTH)], dense=8, n_outputs=n_outputs,
                     input_length=LENGTH)


def fast_config(**overrides) -> TrainConfig:
    base = dict(lr=1e-2, batch_size=50, max_epochs=3, patience=None, device="cpu")
    base.update(overrides)
    return TrainConfig.for_protocol("paper", **base)


def _state(path) -> dict:
    return torch.load(path, weights_only=True)


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_learns_a_planted_motif(tmp_path):
    spec = ModelSpec("tiny16", [ConvBlockSpec(16, 7, LENGTH)], dense=16, n_outputs=1,
                     input_length=LENGTH)
    result = train(spec, planted_dataset(n_train=600), fast_config(max_epochs=15), tmp_path / "run",
                   progress=False)
    assert result["test"]["mean_auroc"] > 0.95
    assert result["test"]["auroc"]["ACGTGC"] == result["test"]["mean_auroc"]
    run = tmp_path / "run"
    for name in ("config.json", "history.tsv", "checkpoint.pt", "last.pt", "metrics.json"):
        assert (run / name).exists(), name
    lines = (run / "history.tsv").read_text().splitlines()
    assert lines[0].split("\t") == list(HISTORY_COLUMNS)
    assert len(lines) == 16
    aurocs = [float(line.split("\t")[3]) for line in lines[1:]]
    assert aurocs[-1] > aurocs[0]
    config = read_json(run / "config.json")
    assert config["spec"]["name"] == "tiny16" and config["train_config"]["lr"] == 1e-2
    assert config["dataset"]["config"] == {"kind": "planted"}
    assert "versions" in config["provenance"] and config["provenance"]["seed"] == 0
    metrics = read_json(run / "metrics.json")
    assert metrics["epochs_run"] == 15 and metrics["label_names"] == ["ACGTGC"]
    assert metrics["test"]["mean_aupr"] > 0.9


def test_checkpoint_loads_weights_only_and_reproduces_the_test_metrics(tmp_path):
    ds = planted_dataset()
    result = train(tiny_spec(), ds, fast_config(), tmp_path, progress=False)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert {"state_dict", "spec", "train_config", "epoch", "provenance"} <= set(ckpt)
    assert ckpt["epoch"] == result["best_epoch"]
    torch.load(tmp_path / "last.pt", weights_only=True)
    model, spec, config = load_run(tmp_path)
    assert not model.training and spec == tiny_spec() and config == fast_config()
    again = evaluate(model, ds.test, label_names=ds.label_names)
    assert again["mean_auroc"] == pytest.approx(result["test"]["mean_auroc"], abs=1e-12)
    probs = predict(model, ds.test.X)
    assert probs.shape == (200, 1) and np.all((probs > 0) & (probs < 1))


def test_early_stopping_stops_and_keeps_the_best_epoch(tmp_path, capsys):
    rng = np.random.default_rng(1)
    noise = lambda n: Split(_random_onehot(rng, n), (rng.random((n, 1)) < 0.5).astype(np.float32))
    ds = Dataset(noise(60), noise(100), noise(100), ["noise"], {}, None)
    spec = ModelSpec("wide", [ConvBlockSpec(32, 7, 4, dropout=0.0)], dense=64, dense_dropout=0.0,
                     n_outputs=1, input_length=LENGTH)
    config = fast_config(lr=3e-2, batch_size=20, max_epochs=40, patience=3, l2=0.0)
    result = train(spec, ds, config, tmp_path, progress=True)
    assert result["stopped_early"]
    assert "valid_auroc" in capsys.readouterr().err
    history = (tmp_path / "history.tsv").read_text().splitlines()[1:]
    valid = [float(line.split("\t")[2]) for line in history]
    best = int(np.argmin(valid)) + 1
    assert result["best_epoch"] == best
    assert result["epochs_run"] == best + 3 == len(valid) < 40
    model, _, _ = load_run(tmp_path)
    assert evaluate(model, ds.valid)["loss"] == pytest.approx(valid[best - 1], rel=1e-6)


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    ds = planted_dataset()
    config = fast_config(max_epochs=3)
    full = train(tiny_spec(), ds, config, tmp_path / "full", progress=False)

    def interrupt(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_spec(), ds, config, tmp_path / "cut", progress=False, callback=interrupt)
    assert _state(tmp_path / "cut" / "last.pt")["epoch"] == 2
    assert not (tmp_path / "cut" / "metrics.json").exists()
    epochs = []
    resumed = train(tiny_spec(), ds, config, tmp_path / "cut", progress=False,
                    callback=lambda row: epochs.append(row["epoch"]))
    assert epochs == [3]
    _assert_same_state(_state(tmp_path / "full" / "last.pt")["model"],
                       _state(tmp_path / "cut" / "last.pt")["model"])
    _assert_same_state(_state(tmp_path / "full" / "checkpoint.pt")["state_dict"],
                       _state(tmp_path / "cut" / "checkpoint.pt")["state_dict"])
    assert resumed["test"]["auroc"] == full["test"]["auroc"]
    cols = lambda p: [line.split("\t")[:5] for line in p.read_text().splitlines()]
    assert cols(tmp_path / "full" / "history.tsv") == cols(tmp_path / "cut" / "history.tsv")
    # A finished run is returned as is, without training again.
    again = train(tiny_spec(), ds, config, tmp_path / "cut", progress=False,
                  callback=lambda row: epochs.append(row["epoch"]))
    assert epochs == [3] and again["test"] == resumed["test"]


def test_resume_refuses_a_different_config(tmp_path):
    ds = planted_dataset()
    train(tiny_spec(), ds, fast_config(max_epochs=1), tmp_path, progress=False)
    with pytest.raises(ConfigError, match="lr"):
        train(tiny_spec(), ds, fast_config(max_epochs=2, lr=1e-3), tmp_path, progress=False)
    result = train(tiny_spec(), ds, fast_config(max_epochs=2, lr=1e-3), tmp_path,
                   resume=False, progress=False)
    assert result["epochs_run"] == 2


def test_same_seed_same_numbers_other_seed_differs(tmp_path):
    ds = planted_dataset()
    global_state = torch.get_rng_state()
    a = train(tiny_spec(), ds, fast_config(max_epochs=2), tmp_path / "a", progress=False)
    assert torch.equal(global_state, torch.get_rng_state())
    b = train(tiny_spec(), ds, fast_config(max_epochs=2), tmp_path / "b", progress=False)
    c = train(tiny_spec(), ds, fast_config(max_epochs=2, seed=1), tmp_path / "c", progress=False)
    _assert_same_state(_state(tmp_path / "a" / "last.pt")["model"],
                       _state(tmp_path / "b" / "last.pt")["model"])
    assert a["test"]["auroc"] == b["test"]["auroc"]
    assert a["best_valid_loss"] == b["best_valid_loss"]
    assert a["best_valid_loss"] != c["best_valid_loss"]


def test_lazy_hdf5_dataset_streams_and_trains(tmp_path):
    ds = planted_dataset(n_train=300)
    path = write_dataset(tmp_path / "d.h5", {s: (getattr(ds, s).X, getattr(ds, s).Y)
                                              for s in ("train", "valid", "test")},
                         ["ACGTGC"], config={"kind": "planted"})
    config = fast_config(max_epochs=2, stream_chunk=64)
    with load_dataset(path, in_memory=False) as lazy:
        assert lazy.train.lazy
        streamed = train(tiny_spec(), lazy, config, tmp_path / "lazy", progress=False)
    assert streamed["epochs_run"] == 2 and 0.0 <= streamed["test"]["mean_auroc"] <= 1.0
    assert read_json(tmp_path / "lazy" / "config.json")["dataset"]["path"].endswith("d.h5")


def test_lazy_batches_visit_every_row_once(tmp_path):
    n, length = 237, 5
    with h5py.File(tmp_path / "rows.h5", "w") as handle:
        X = handle.create_dataset("X", data=np.arange(n * 4 * length, dtype=np.float32)
                                  .reshape(n, 4, length), chunks=(16, 4, length))
        Y = handle.create_dataset("Y", data=np.arange(n, dtype=np.float32)[:, None])
        batches = _Batches(X, Y, batch_size=20, chunk=50, device=torch.device("cpu"))
        assert batches.lazy and len(batches) == 12
        gen = torch.Generator().manual_seed(0)
        seen, sizes = [], []
        for x, y in batches.epoch(gen):
            rows = y[:, 0].long()
            assert torch.equal(x[:, 0, 0], rows.float() * 4 * length)  # X and Y stay paired
            seen += rows.tolist()
            sizes.append(len(rows))
        assert sorted(seen) == list(range(n)) and seen != sorted(seen)
        assert sizes[:-1] == [20] * 11 and sizes[-1] == 17
        again = [int(v) for _, y in batches.epoch(gen) for v in y[:, 0]]
        assert again != seen


def test_evaluate_reports_undefined_classes():
    rng = np.random.default_rng(0)
    X = _random_onehot(rng, 50)
    Y = np.zeros((50, 2), np.float32)
    Y[:25, 0] = 1.0  # class "b" is all zeros
    model = build_model(tiny_spec(n_outputs=2), seed=0)
    result = evaluate(model, Split(X, Y), label_names=["a", "b"])
    assert math.isnan(result["auroc"]["b"]) and math.isnan(result["aupr"]["b"])
    assert result["undefined_classes"] == ["b"]
    assert result["mean_auroc"] == result["auroc"]["a"]
    assert result["loss"] > 0 and result["n"] == 50


def test_protocols_and_config_errors():
    code = TrainConfig.for_protocol("code")
    assert (code.lr, code.betas, code.eps, code.init) == (1e-3, (0.95, 0.999), 1e-8, "glorot")
    spec = code.apply_to(tiny_spec())
    assert (spec.bn_eps, spec.bn_momentum, spec.init) == (1e-8, 0.01, "glorot")
    paper = TrainConfig.for_protocol("paper", patience=None)
    assert (paper.lr, paper.betas, paper.batch_size, paper.max_epochs) == (3e-4, (0.9, 0.999), 100, 100)
    assert paper.l2 == 1e-6 and paper.patience is None
    assert paper.apply_to(tiny_spec()).bn_eps == tiny_spec().bn_eps
    assert TrainConfig.from_dict(code.to_dict()) == code
    with pytest.raises(ConfigError, match="'keras'.*paper, code"):
        TrainConfig.for_protocol("keras")
    with pytest.raises(ConfigError, match="learning_rate.*valid:.*lr"):
        TrainConfig.for_protocol("paper", learning_rate=1.0)
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0).validate()


def test_dataset_shape_mismatch_is_a_config_error(tmp_path):
    spec = ModelSpec("tiny", [ConvBlockSpec(8, 7, 4)], dense=8, n_outputs=1, input_length=50)
    with pytest.raises(ConfigError, match=r"expects \(N, 4, 50\).*input_length=40"):
        train(spec, planted_dataset(), fast_config(), tmp_path, progress=False)
    with pytest.raises(ConfigError, match="n_outputs=3"):
        train(tiny_spec(n_outputs=3), planted_dataset(), fast_config(), tmp_path, progress=False)


def test_load_run_errors_are_clear(tmp_path):
    with pytest.raises(FormatError, match="run directory not found"):
        load_run(tmp_path / "nope")
    with pytest.raises(FormatError, match="no checkpoint.pt"):
        load_run(tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match="checkpoint.pt: not a readable checkpoint"):
        load_run(tmp_path)


def test_precision_and_compile_are_validated():
    with pytest.raises(ConfigError, match="precision"):
        fast_config(precision="fp8")
    with pytest.raises(ConfigError, match="fp16"):
        fast_config(precision="fp16", device="cpu")
    with pytest.raises(ConfigError, match="compile"):
        fast_config(compile="yes")


@pytest.mark.skipif(not native_bf16(), reason="bf16 training is refused on CPUs without native "
                    "bf16 (that refusal: test_reliability.py)")
def test_bf16_runs_are_recorded_and_deterministic(tmp_path):
    data = planted_dataset()
    result = train(tiny_spec(), data, fast_config(precision="bf16", max_epochs=2), tmp_path / "b",
                   progress=False)
    saved = read_json(tmp_path / "b" / "config.json")["train_config"]
    assert saved["precision"] == "bf16" and saved["compile"] is False
    assert result["epochs_run"] == 2
    # bf16 runs are deterministic too.
    again = train(tiny_spec(), data, fast_config(precision="bf16", max_epochs=2), tmp_path / "c",
                  progress=False)
    assert again["test"]["mean_auroc"] == result["test"]["mean_auroc"]


def test_a_run_saved_before_precision_existed_resumes(tmp_path):
    data = planted_dataset()
    out = tmp_path / "old"
    train(tiny_spec(), data, fast_config(max_epochs=1), out, progress=False)
    last = torch.load(out / "last.pt", weights_only=True)
    for key in ("precision", "compile"):  # what a checkpoint of the previous version holds
        del last["train_config"][key]
    torch.save(last, out / "last.pt")
    result = train(tiny_spec(), data, fast_config(max_epochs=2), out, progress=False)
    assert result["epochs_run"] == 2


def test_same_pool_fast_path_equals_max_pool1d():
    from torch.nn import functional as F

    from motiflens.models import SamePadMaxPool1d

    torch.manual_seed(0)
    for size, length in ((25, 200), (4, 50), (3, 10), (2, 7)):
        x = torch.randn(3, 5, length, requires_grad=True)
        pool = SamePadMaxPool1d(size)
        left, right = pool.padding(length)
        ref_in = x.detach().clone().requires_grad_(True)
        ref = F.max_pool1d(F.pad(ref_in, (left, right), value=float("-inf")), size, size)
        out = pool(x)
        assert torch.equal(out, ref)
        g = torch.randn_like(out)
        out.backward(g)
        ref.backward(g)
        assert torch.equal(x.grad, ref_in.grad)


def test_numba_kernels_do_not_change_training_results(tmp_path):
    """The compiled window max/min and overlapping pool pick the same positions as PyTorch's
    ops, so a run is the same number for number with or without numba (fp32, CPU)."""
    from motiflens import _numba

    if not _numba.enabled():
        pytest.skip("numba not available")
    spec = ModelSpec("pools", [ConvBlockSpec(8, 7, 4, dropout=0.1),      # fused BN + pool
                               ConvBlockSpec(6, 3, 6, pool_stride=2)],   # overlapping pool
                     dense=8, n_outputs=1, input_length=LENGTH)
    ds = planted_dataset()
    a = train(spec, ds, fast_config(max_epochs=2), tmp_path / "a", progress=False)
    with _numba.disabled():
        b = train(spec, ds, fast_config(max_epochs=2), tmp_path / "b", progress=False)
    _assert_same_state(_state(tmp_path / "a" / "last.pt")["model"],
                       _state(tmp_path / "b" / "last.pt")["model"])
    assert a["test"]["auroc"] == b["test"]["auroc"]


# --------------------------------------------------------------------------------------------
# Bad input: constant labels, resume messages
# --------------------------------------------------------------------------------------------
def test_metrics_name_undefined_classes_with_reason_and_count():
    from motiflens.metrics import classification_metrics

    y = np.zeros((6, 3), np.float32)
    y[:, 0] = 1.0                      # "up": positive for every sequence
    y[:3, 1] = 1.0                     # "mid": defined
    scores = np.arange(18, dtype=np.float32).reshape(6, 3)[::-1]
    result = classification_metrics(y, scores, label_names=["up", "mid", "down"])
    assert result["undefined_classes"] == ["up", "down"]
    assert result["undefined_reasons"] == {"up": "all positive", "down": "all negative"}
    assert result["n_defined"] == 1 and result["n_undefined"] == 2
    assert math.isnan(result["auroc"]["up"]) and math.isnan(result["aupr"]["down"])
    assert result["mean_auroc"] == result["auroc"]["mid"] == 1.0
    none = classification_metrics(y[:, [0]], scores[:, [0]], label_names=["up"])
    assert none["n_defined"] == 0 and math.isnan(none["mean_auroc"])


def test_train_with_an_always_positive_label_reports_it(tmp_path):
    ds = planted_dataset(n_train=100)
    for split in (ds.train, ds.valid, ds.test):
        split.Y = np.concatenate([split.Y, np.ones_like(split.Y)], axis=1)
    ds.label_names = ["ACGTGC", "always"]
    result = train(tiny_spec(n_outputs=2), ds, fast_config(max_epochs=1), tmp_path / "run",
                   progress=False)
    test = result["test"]
    assert test["auroc"]["always"] is None          # NaN -> null in metrics.json
    assert test["undefined_reasons"] == {"always": "all positive"}
    assert test["mean_auroc"] == test["auroc"]["ACGTGC"]
    assert read_json(tmp_path / "run" / "metrics.json")["test"]["undefined_classes"] == ["always"]


def test_resume_mismatch_names_the_cli_flag(tmp_path):
    ds = planted_dataset(n_train=100)
    train(tiny_spec(), ds, fast_config(max_epochs=1), tmp_path, progress=False)
    with pytest.raises(ConfigError, match=r"--no-resume \(resume=False\)"):
        train(tiny_spec(), ds, fast_config(max_epochs=1, lr=1e-3), tmp_path, progress=False)
    other = ModelSpec("tiny", [ConvBlockSpec(4, 7, LENGTH)], dense=8, n_outputs=1,
                      input_length=LENGTH)
    with pytest.raises(ConfigError,
                       match=r"different model spec \(key\(s\) \['conv'\].*pass --no-resume"):
        train(other, ds, fast_config(max_epochs=1), tmp_path, progress=False)
