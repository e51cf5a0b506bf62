"""Tests of motiflens.interpret.filters and receptive_field on hand-written networks."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError, DatasetError
from motiflens.interpret.filters import (
    filters_to_motifs,
    is_nonlinearity,
    layer_activations,
    receptive_field,
    resolve_layer,
    weight_motifs,
)
from motiflens.interpret.receptive_field import Geometry, ReceptiveField, compose

# A 9-wide planted motif, consensus TGACTCATA, each column 0.82 on its consensus base.
CONSENSUS = "TGACTCATA"
WIDTH = len(CONSENSUS)


def planted_ppm() -> np.ndarray:
    ppm = np.full((4, WIDTH), 0.06)
    for j, base in enumerate(CONSENSUS):
        ppm["ACGT".index(base), j] = 0.82
    return ppm


def one_hot(seq: str) -> np.ndarray:
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, base in enumerate(seq):
        if base in "ACGT":
            out["ACGT".index(base), j] = 1.0
    return out


def planted_sequences(n: int = 300, length: int = 50, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Uniform background with one motif instance sampled from the PPM in every sequence."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(n, length))
    ppm = planted_ppm()
    starts = rng.integers(2, length - WIDTH - 2, size=n)
    for i, s in enumerate(starts):
        for j in range(WIDTH):
            idx[i, s + j] = rng.choice(4, p=ppm[:, j])
    X = np.zeros((n, 4, length), dtype=np.float32)
    X[np.arange(n)[:, None], idx, np.arange(length)[None, :]] = 1.0
    return X, starts


class PWMNet(nn.Module):
    """conv (filter 0 = planted log-odds, filter 1 never fires) -> ReLU -> pool -> head."""

    def __init__(self, length: int = 50) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 2, WIDTH, padding="same")
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(5)
        self.head = nn.Linear(2 * (length // 5), 1)
        with torch.no_grad():
            self.conv.weight[0] = torch.from_numpy(np.log2(planted_ppm() / 0.25))
            self.conv.weight[1] = -1.0
            self.conv.bias[:] = torch.tensor([-2.0, -5.0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.relu(self.conv(x))).flatten(1))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


# ------------------------------------------------------------------------------------------
# Planted motif recovery
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["paper", "code"])
def test_planted_motif_recovered(mode: str) -> None:
    X, _ = planted_sequences()
    result = filters_to_motifs(PWMNet(), X, layer=1, mode=mode, batch_size=64)
    assert len(result) == 2
    motif = result.motifs[0]
    assert motif.id == "filter_0" and motif.width == WIDTH
    assert result.alive.tolist() == [True, False]
    assert motif.consensus() == CONSENSUS
    assert correlation(motif.ppm, planted_ppm()) > 0.95
    assert np.allclose(motif.ppm.sum(axis=0), 1.0)
    assert result.n_sites[0] > 100
    assert result.window == WIDTH


def test_paper_mode_uses_analytic_maximum_possible_activation() -> None:
    X, _ = planted_sequences(n=100)
    net = PWMNet()
    result = filters_to_motifs(net, X, mode="paper")
    assert result.reference_basis == "possible"
    best = np.log2(0.82 / 0.25) * WIDTH - 2.0  # consensus score + bias, through ReLU
    assert result.reference_activation[0] == pytest.approx(best, rel=1e-5)
    assert result.threshold_value[0] == pytest.approx(0.7 * best, rel=1e-5)
    observed = filters_to_motifs(net, X, mode="paper", reference="observed")
    assert observed.reference_basis == "observed"
    assert observed.reference_activation[0] == pytest.approx(observed.max_activation[0])


def test_dead_filter_is_flagged_not_a_motif() -> None:
    X, _ = planted_sequences(n=50)
    result = filters_to_motifs(PWMNet(), X, mode="code")
    assert not result.alive[1]
    assert result.n_sites[1] == 0 and result.max_activation[1] == 0.0
    assert result.motifs[1].name == "dead"
    assert np.allclose(result.motifs[1].ppm, 0.25)
    assert [m.id for m in result.alive_motifs()] == ["filter_0"]
    assert result.rows()[1]["alive"] is False


def center_net() -> nn.Module:
    """One 9-wide filter that fires 1.0 on an A in its centre column."""
    conv = nn.Conv1d(4, 1, 9, padding=4, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 4] = 1.0
    return nn.Sequential(conv, nn.ReLU())


def test_paper_drops_off_end_windows_code_zero_pads() -> None:
    seqs = ["CAC" + "C" * 17, "C" * 10 + "A" + "C" * 9]  # A at position 1 and at position 10
    X = np.stack([one_hot(s) for s in seqs])
    paper = filters_to_motifs(center_net(), X, mode="paper")
    assert paper.n_sites.tolist() == [1]  # the window around position 1 runs off the start
    assert paper.motifs[0].consensus() == "CCCCACCCC"
    assert np.allclose(paper.motifs[0].ppm[:, 4], [1, 0, 0, 0])
    code = filters_to_motifs(center_net(), X, mode="code")
    assert code.n_sites.tolist() == [2]
    ppm = code.motifs[0].ppm
    # columns 0-2 exist only in the padded window for the second sequence: all C
    assert np.allclose(ppm[:, 4], [1, 0, 0, 0])
    assert np.allclose(ppm[:, 0], [0, 1, 0, 0])
    # column 3 = C (seq 2) and padding-free C (seq 1 at position 0)
    assert np.allclose(ppm[:, 3], [0, 1, 0, 0])


def test_code_mode_weights_by_activation_and_normalises_real_bases() -> None:
    conv = nn.Conv1d(4, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight[0, :, 0] = torch.tensor([1.0, 0.6, 0.2, 0.0])
    net = nn.Sequential(conv, nn.ReLU())
    X = np.stack([one_hot("ACGT"), one_hot("ANNA")])
    code = filters_to_motifs(net, X, mode="code", threshold=0.5)
    # sites >= 0.5: A (1.0) x3, C (0.6) x1 -> weights A 3.0, C 0.6
    assert code.n_sites.tolist() == [4]
    assert np.allclose(code.motifs[0].ppm[:, 0], np.array([3.0, 0.6, 0, 0]) / 3.6)


def test_n_bases_do_not_count_in_paper_columns() -> None:
    X = np.stack([one_hot("CCCCACCNCC"), one_hot("CCCCACCGCC")])
    result = filters_to_motifs(center_net(), X, mode="paper")
    # column 7 - 4 + 4 = window column 7: N in one window, G in the other -> G with p = 1
    assert np.allclose(result.motifs[0].ppm[:, 7], [0, 0, 1, 0])


def test_window_override_is_centred() -> None:
    X = np.stack([one_hot("C" * 10 + "A" + "C" * 9)])
    result = filters_to_motifs(center_net(), X, mode="paper", window=3)
    assert result.window == 3
    assert result.motifs[0].consensus() == "CAC"
    with pytest.raises(ConfigError):
        filters_to_motifs(center_net(), X, window=0)


# ------------------------------------------------------------------------------------------
# Analytic maximum possible activation
# ------------------------------------------------------------------------------------------
def test_possible_maximum_matches_brute_force_with_batch_norm() -> None:
    torch.manual_seed(0)
    conv = nn.Conv1d(4, 3, 3, padding=1)
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight[:] = torch.tensor([1.5, -2.0, 0.5])
        bn.bias[:] = torch.tensor([0.1, 0.3, -0.2])
        bn.running_mean[:] = torch.tensor([0.2, -0.1, 0.0])
        bn.running_var[:] = torch.tensor([2.0, 0.5, 1.0])
    net = nn.Sequential(conv, bn, nn.ELU())
    words = np.stack([one_hot("".join(w)) for w in itertools.product("ACGT", repeat=3)])
    net.eval()
    with torch.no_grad():
        brute = net(torch.from_numpy(words))[:, :, 1].max(dim=0).values.numpy()
    X = np.stack([one_hot("ACGTAC")])
    result = filters_to_motifs(net, X, mode="paper")
    assert result.reference_basis == "possible"
    assert np.allclose(result.reference_activation, np.maximum(brute, result.max_activation),
                       atol=1e-5)


# ------------------------------------------------------------------------------------------
# Layer and activation selection
# ------------------------------------------------------------------------------------------
class SharedReLU(nn.Module):
    """Custom forward: two convs share one ReLU module; the pooling is functional."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(4, 3, 5, padding=2)
        self.c2 = nn.Conv1d(3, 2, 3, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.c1(x))
        h = self.act(self.c2(h))
        return self.head(h.mean(dim=-1))


class FunctionalReLU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 3, padding=1)
        self.bn = nn.BatchNorm1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x))).sum(dim=(1, 2))


class Exp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def random_x(n: int = 5, length: int = 12, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 4, length), dtype=np.float32)
    X[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)] = 1
    return X


def test_sequential_layer_activations_after_nonlinearity() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(4, 3, 5, padding=2), nn.BatchNorm1d(3), nn.GELU(),
                        nn.MaxPool1d(2), nn.Conv1d(3, 2, 3), nn.Softplus())
    X = random_x()
    net.eval()
    with torch.no_grad():
        want1 = net[:3](torch.from_numpy(X)).numpy()
        want2 = net(torch.from_numpy(X)).numpy()
    net.train()
    got1 = layer_activations(net, X, layer=1, batch_size=2)
    assert np.allclose(got1, want1, atol=1e-6)
    assert np.allclose(layer_activations(net, X, layer="4"), want2, atol=1e-6)
    assert np.allclose(layer_activations(net, X, layer=net[4], batch_size=3), want2, atol=1e-6)
    assert net.training and net[1].training  # train/eval state restored
    assert resolve_layer(net, 1, example=torch.from_numpy(X)).activation_name == "2"


def test_custom_forward_with_shared_module() -> None:
    torch.manual_seed(0)
    net = SharedReLU()
    X = random_x()
    with torch.no_grad():
        x = torch.from_numpy(X)
        h1 = torch.relu(net.c1(x))
        h2 = torch.relu(net.c2(h1))
    assert np.allclose(layer_activations(net, X, layer=1), h1.numpy(), atol=1e-6)
    assert np.allclose(layer_activations(net, X, layer=2), h2.numpy(), atol=1e-6)
    sel = resolve_layer(net, "c2", example=x)
    assert (sel.conv_name, sel.activation_name, sel.activation_call, sel.source) == (
        "c2", "act", 1, "traced")


def test_functional_relu_falls_back_to_batch_norm_with_warning() -> None:
    torch.manual_seed(0)
    net = FunctionalReLU()
    X = random_x()
    with pytest.warns(UserWarning, match="batch norm"):
        acts = layer_activations(net, X, layer=1)
    net.eval()
    with torch.no_grad():
        assert np.allclose(acts, net.bn(net.conv(torch.from_numpy(X))).numpy(), atol=1e-6)
    # an explicit activation silences the search
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sel = resolve_layer(net, 1, activation="bn", example=torch.from_numpy(X))
    assert sel.source == "explicit"


def test_exp_like_activation_and_errors() -> None:
    assert is_nonlinearity(Exp()) and is_nonlinearity(nn.ELU())
    assert not is_nonlinearity(nn.Linear(2, 2))
    net = nn.Sequential(nn.Conv1d(4, 2, 3, padding=1), Exp())
    X = random_x()
    sel = resolve_layer(net, 1, example=torch.from_numpy(X))
    assert sel.activation_name == "1" and sel.source == "traced"
    with pytest.raises(ConfigError, match="1 Conv1d"):
        layer_activations(net, X, layer=2)
    with pytest.raises(ConfigError, match="no module"):
        layer_activations(net, X, layer="nope")
    with pytest.raises(ConfigError, match="not part"):
        layer_activations(net, X, layer=nn.Conv1d(4, 1, 3))
    with pytest.raises(DatasetError):
        layer_activations(net, X[0], layer=1)
    with pytest.raises(ConfigError, match="mode"):
        filters_to_motifs(net, X, mode="other")


def test_motiflens_model_block_activation() -> None:
    from motiflens.models import build_model, model_spec

    model = build_model(model_spec("CNN-25"))
    X = random_x(n=2, length=200)
    sel1 = resolve_layer(model, 1, example=torch.from_numpy(X))
    assert (sel1.conv_name, sel1.activation_name, sel1.source) == (
        "blocks.0.conv", "blocks.0.act", "block")
    assert sel1.receptive_field == ReceptiveField(size=19, jump=1, start=-9)
    sel2 = resolve_layer(model, 2, example=torch.from_numpy(X))
    assert sel2.activation_name == "blocks.1.act"
    # conv 19 (same: start -9) -> pool 25 (SAME, no padding at 200) -> conv 5 (same, pad 2)
    assert sel2.receptive_field == ReceptiveField(size=19 + 24 + 4 * 25, jump=25, start=-9 - 50)


# ------------------------------------------------------------------------------------------
# Receptive field
# ------------------------------------------------------------------------------------------
def two_layer_avg() -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(4, 3, 5, padding=2), nn.ReLU(), nn.AvgPool1d(2),
                         nn.Conv1d(3, 2, 3, padding=1), nn.ReLU())


def test_receptive_field_two_layers_matches_hand_computation() -> None:
    # size = 5 + (2-1)*1 + (3-1)*2 = 10; jump = 2; start = -2 - 1*2 = -4
    field = receptive_field(two_layer_avg(), 2, input_length=20)
    assert field == ReceptiveField(size=10, jump=2, start=-4)
    assert field.window(3) == (2, 12)
    assert compose([Geometry(5, 1, 1, 2), Geometry(2, 2, 1, 0), Geometry(3, 1, 1, 1)]) == field
    dilated = nn.Sequential(nn.Conv1d(4, 1, 3, dilation=2, padding="same"), nn.ReLU())
    assert receptive_field(dilated, 1, 20) == ReceptiveField(size=5, jump=1, start=-2)


def test_receptive_field_matches_gradient_support() -> None:
    torch.manual_seed(0)
    net = two_layer_avg()
    with torch.no_grad():
        for conv in (net[0], net[3]):
            conv.weight.fill_(0.1)
            conv.bias.fill_(1.0)  # keeps every ReLU open
    x = torch.ones(1, 4, 20, requires_grad=True)
    out = net(x)
    field = receptive_field(net, 2, input_length=20)
    for j in (0, 4, 9):
        (grad,) = torch.autograd.grad(out[0, 0, j], x, retain_graph=True)
        support = np.flatnonzero(grad[0].abs().sum(dim=0).numpy() > 0)
        lo, hi = field.window(j)
        assert support.tolist() == list(range(max(lo, 0), min(hi, 20)))


def test_deeper_layer_windows_are_receptive_field() -> None:
    net = two_layer_avg()
    X = random_x(n=20, length=30)
    result = filters_to_motifs(net, X, layer=2, mode="code")
    assert result.window == 10
    assert result.receptive_field == ReceptiveField(size=10, jump=2, start=-4)
    assert result.reference_basis == "observed"


def test_weight_motifs_softmax() -> None:
    net = PWMNet()
    motifs = weight_motifs(net.conv)
    assert len(motifs) == 2 and motifs[0].consensus() == CONSENSUS
    assert np.allclose(motifs[1].ppm, 0.25)
    with pytest.raises(ConfigError):
        weight_motifs(nn.Conv1d(3, 2, 3))


def test_tf_same_pool_padding_when_length_not_divisible() -> None:
    from motiflens.models import build_model, model_spec

    model = build_model(model_spec("CNN-25", input_length=210))
    # pool 25 on 210: out 9, total padding 8 * 25 + 25 - 210 = 15, 7 on the left
    field = receptive_field(model, 2, input_length=210)
    assert field == ReceptiveField(size=143, jump=25, start=-9 - 7 - 50)


def test_padding_modules_and_unknown_length_changes() -> None:
    padded = nn.Sequential(nn.ConstantPad1d((3, 1), 0.0), nn.Conv1d(4, 1, 5), nn.ReLU())
    assert receptive_field(padded, 1, 20) == ReceptiveField(size=5, jump=1, start=-3)
    upsampled = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv1d(4, 1, 3), nn.ReLU())
    with pytest.raises(ConfigError, match="window="):
        receptive_field(upsampled, 1, 20)


def test_channels_last_sequences_suggest_transpose() -> None:
    model = nn.Sequential(nn.Conv1d(4, 3, 5), nn.ReLU())
    X = np.stack([one_hot("ACGTACGTACGTACGT")] * 3)          # (3, 4, 16)
    for call in (lambda x: layer_activations(model, x, layer=1),
                 lambda x: filters_to_motifs(model, x, layer=1)):
        with pytest.raises(DatasetError) as info:
            call(X.transpose(0, 2, 1))                       # (3, 16, 4): channels last
        message = str(info.value)
        assert "(N, 4, L)" in message and "(3, 16, 4)" in message
        assert "X.transpose(0, 2, 1)" in message and "\n" not in message
    assert layer_activations(model, X, layer=1).shape == (3, 3, 12)


def test_a_functional_relu_gives_the_same_ppms_as_a_relu_module():
    """README: hooks cannot see ``F.relu`` in a forward; the convolution output is read instead
    (with a warning), which for ReLU gives the same windows and PPMs, dead filters included."""
    torch.manual_seed(0)

    class WithModule(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.act = nn.Conv1d(4, 12, 19, padding=9), nn.ReLU()
            self.pool, self.fc = nn.MaxPool1d(25), nn.Linear(12 * 8, 2)

        def forward(self, x):
            return self.fc(self.pool(self.act(self.c1(x))).flatten(1))

    class Functional(WithModule):
        def forward(self, x):
            return self.fc(self.pool(F.relu(self.c1(x))).flatten(1))

    module, functional = WithModule(), Functional()
    with torch.no_grad():
        module.c1.bias[:4] -= 3.0  # some dead filters
    functional.load_state_dict(module.state_dict())
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (200, 200))].transpose(0, 2, 1).copy()
    for mode in ("paper", "code"):
        expected = filters_to_motifs(module, X, layer=1, mode=mode)
        with pytest.warns(UserWarning, match="functional calls such as F.relu"):
            found = filters_to_motifs(functional, X, layer=1, mode=mode)
        assert [m.name for m in found.alive_motifs()] == [m.name for m in expected.alive_motifs()]
        for a, b in zip(found.motifs, expected.motifs):
            np.testing.assert_array_equal(np.asarray(a.ppm), np.asarray(b.ppm))


@pytest.mark.parametrize("damage, found", [
    (lambda X: X.__setitem__((3, 0, 5), np.nan), "sequence 3: nan at channel 0, position 5"),
    (lambda X: X.__setitem__((2, slice(None), 7), 1.0), "sequence 2: 4 ones at position 7"),
    (lambda X: X.__imul__(2.0), "sequence 0: value 2 at channel"),
])
def test_the_interpretation_api_refuses_sequences_that_are_not_one_hot(damage, found):
    """Silently all-dead filters (NaN) or PPMs of nonsense (Gaussian input) are worse than an
    error naming the sequence and position."""
    from motiflens import attribute, filter_importance

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 4, 9), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (20, 50))].transpose(0, 2, 1).copy()
    damage(X)
    y = rng.integers(0, 2, (20, 2))
    calls = [lambda: filters_to_motifs(model, X, layer=1, mode="code"),
             lambda: filter_importance(model, X, y),
             lambda: attribute(model, X, "saliency", target=0),
             lambda: filters_to_motifs(model, torch.from_numpy(X), layer=1)]
    for call in calls:
        with pytest.raises(DatasetError, match=re.escape(found)):
            call()


def test_filter_importance_refuses_a_bad_hdf5_dataset_too(tmp_path):
    """An HDF5 dataset is read batch by batch; its first pass checks every sequence."""
    import h5py

    from motiflens import filter_importance

    model = nn.Sequential(nn.Conv1d(4, 4, 9), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (20, 50))].transpose(0, 2, 1).copy()
    X[13, 1, 4] = np.nan
    with h5py.File(tmp_path / "x.h5", "w") as handle:
        handle["X"] = X
    with h5py.File(tmp_path / "x.h5", "r") as handle:
        with pytest.raises(DatasetError, match=r"sequence 13: nan at channel 1, position 4"):
            filter_importance(model, handle["X"], rng.integers(0, 2, (20, 2)), batch_size=8)
