"""Attribution maps (motiflens.interpret.attribution) and interpretability scoring
(motiflens.interpret.interpretability), on models whose answers are known by construction."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from motiflens.data import write_dataset
from motiflens.errors import ConfigError
from motiflens.interpret.attribution import (
    GRADIENT_METHODS,
    METHODS,
    attribute,
    correct_gradients,
    reference_sequences,
)
from motiflens.interpret.interpretability import (
    interpretability_scores,
    motif_information,
    position_scores,
    score_pair,
)
from motiflens.models import SamePadMaxPool1d, build_model, parse_spec, with_activations
from motiflens.motifs import Motif, information_content, reverse_complement
from motiflens.simulate import SimulationConfig, simulate_to_hdf5

ALL_EXCEPT_ISM = [m for m in METHODS if m != "ism"]


def one_hot(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """(n, 4, length) float32 random one-hot sequences."""
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()


def forward(model: nn.Module, X: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(X, dtype=torch.float32)).numpy().astype(np.float64)


# ------------------------------------------------------------------------------------------
# models with known answers
# ------------------------------------------------------------------------------------------


class ConvSum(nn.Module):
    """Linear: conv (zero "same" padding, bias) -> sum over positions -> logits (N, C)."""

    def __init__(self, n_classes: int = 2, width: int = 5, seed: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, n_classes, width, padding="same")
        with torch.no_grad():
            g = torch.Generator().manual_seed(seed)
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))
            self.conv.bias.copy_(torch.randn(n_classes, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).sum(dim=-1)

    def input_weights(self, length: int) -> np.ndarray:
        """(C, 4, L) d logit_c / d x[b, l]: the sum of the taps that reach position l."""
        w = self.conv.weight.detach().numpy().astype(np.float64)             # (C, 4, width)
        width = w.shape[-1]
        left = (width - 1) // 2
        out = np.zeros((w.shape[0], 4, length))
        for j in range(length):                     # output position j reads x[j - left + k]
            for k in range(width):
                if 0 <= j - left + k < length:
                    out[:, :, j - left + k] += w[:, :, k]
        return out


class DenseLinear(nn.Module):
    """logit = sum_{b,l} W[b, l] x[b, l] + bias; its gradient is W exactly."""

    def __init__(self, weights: np.ndarray) -> None:
        super().__init__()
        self.linear = nn.Linear(weights.size, 1)
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(weights.reshape(1, -1), dtype=torch.float32))
            self.linear.bias.fill_(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def small_exp_cnn(seed: int = 1) -> nn.Module:
    """A MotifCNN: exponential activation, overlapping and plain SamePadMaxPool1d, dense ReLU,
    batch norm with non-trivial running statistics."""
    spec = with_activations(parse_spec("8x7p4s2-8x3p5-d16", input_length=40, n_outputs=3),
                            {1: "exponential"})
    model = build_model(spec, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                n = module.num_features
                module.running_mean.copy_(0.3 * torch.randn(n, generator=g))
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
                module.weight.copy_(0.5 + torch.rand(n, generator=g))
                module.bias.copy_(0.3 * torch.randn(n, generator=g))
    return model


def log_odds(ppm: np.ndarray) -> np.ndarray:
    return np.log2((ppm + 1e-3) / (1 + 4e-3) / 0.25)


class MotifDetector(nn.Module):
    """Hand-built detector: per class, filters = the log-odds of its motif and of the reverse
    complement; max over positions (SamePadMaxPool1d), then over the two strands."""

    def __init__(self, ppms: list[np.ndarray], length: int) -> None:
        super().__init__()
        width = max(p.shape[1] for p in ppms) | 1                          # odd: symmetric pad
        weight = np.zeros((2 * len(ppms), 4, width), np.float32)
        for c, ppm in enumerate(ppms):
            weight[2 * c, :, :ppm.shape[1]] = log_odds(ppm)
            weight[2 * c + 1, :, :ppm.shape[1]] = log_odds(reverse_complement(ppm))
        self.conv = nn.Conv1d(4, weight.shape[0], width, padding="same", bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.as_tensor(weight))
        self.positions = SamePadMaxPool1d(length)
        self.strands = SamePadMaxPool1d(2)
        self.n_classes = len(ppms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        best = self.positions(self.conv(x))                                   # (N, 2C, 1)
        return self.strands(best.reshape(x.shape[0], self.n_classes, 2)).squeeze(-1)


class DilatedResNet(nn.Module):
    """A network motiflens did not define: stem conv, two dilated residual blocks, global
    average pool, linear head (1000-nt input)."""

    def __init__(self, channels: int = 8, n_classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Conv1d(4, channels, 9, padding=4)
        self.stem_act = nn.ReLU()
        self.blocks = nn.ModuleList()
        for dilation in (2, 4):
            self.blocks.append(nn.ModuleDict({
                "conv1": nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
                "bn": nn.BatchNorm1d(channels),
                "act": nn.ReLU(),
                "conv2": nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
            }))
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem_act(self.stem(x))
        for block in self.blocks:
            h = h + block["conv2"](block["act"](block["bn"](block["conv1"](h))))
        return self.head(h.mean(dim=-1))


# ------------------------------------------------------------------------------------------
# known answers on linear models
# ------------------------------------------------------------------------------------------


def test_saliency_of_a_linear_conv_model_is_its_weights_at_every_position():
    model, X = ConvSum(), one_hot(np.random.default_rng(0), 3, 30)
    expected = model.input_weights(30)                                        # (C, 4, L)
    saliency = attribute(model, X, "saliency")
    assert saliency.shape == (3, 2, 4, 30) and saliency.dtype == np.float32
    np.testing.assert_allclose(saliency, np.broadcast_to(expected, saliency.shape), atol=1e-5)
    # the interior positions see every tap: the summed filter
    w = model.conv.weight.detach().numpy()
    np.testing.assert_allclose(saliency[0, 1, :, 2:-2], np.repeat(w[1].sum(-1)[:, None], 26, 1),
                               atol=1e-5)
    np.testing.assert_allclose(attribute(model, X, "grad_x_input", target=1),
                               saliency[:, 1] * X, atol=1e-6)


def test_ism_of_a_linear_model_is_the_exact_output_difference():
    model, X = ConvSum(), one_hot(np.random.default_rng(1), 2, 25)
    ism = attribute(model, X, "ism", batch_size=7)                            # (N, C, 4, L)
    reference = forward(model, X)
    for i, b, pos in [(0, 0, 0), (0, 3, 12), (1, 2, 24), (1, 1, 5)]:
        mutant = X[i:i + 1].copy()
        mutant[0, :, pos] = 0
        mutant[0, b, pos] = 1
        np.testing.assert_allclose(ism[i, :, b, pos], forward(model, mutant)[0] - reference[i],
                                   atol=1e-4)
    # linear model: ISM(b, l) = w(b, l) - w(observed, l), zero at the observed base
    w = model.input_weights(25)[None]
    observed = np.sum(w * X[:, None], axis=2, keepdims=True)
    np.testing.assert_allclose(ism, w - observed, atol=1e-4)
    assert np.all(ism[np.broadcast_to(X[:, None] == 1, ism.shape)] == 0)
    np.testing.assert_array_equal(attribute(model, X, "ism", target=0, batch_size=1000),
                                  ism[:, 0])


def test_ig_and_deeplift_of_a_linear_model_are_weights_times_input_change():
    model, X = ConvSum(), one_hot(np.random.default_rng(2), 2, 20)
    w = model.input_weights(20)[1]
    np.testing.assert_allclose(attribute(model, X, "integrated_gradients", target=1), w * X,
                               atol=1e-4)
    np.testing.assert_allclose(attribute(model, X, "deeplift", target=1), w * (X - 0.25),
                               atol=1e-4)
    uniform = attribute(model, X, "integrated_gradients", target=1, baseline="uniform")
    np.testing.assert_allclose(uniform, w * (X - 0.25), atol=1e-4)


def test_correction_removes_an_off_simplex_component_exactly():
    rng = np.random.default_rng(3)
    weights = rng.normal(size=(4, 15)).astype(np.float32)
    shift = rng.normal(scale=5.0, size=(1, 15)).astype(np.float32)   # same at all 4 bases
    X = one_hot(rng, 2, 15)
    clean, shifted = DenseLinear(weights), DenseLinear(weights + shift)
    corrected = weights - weights.mean(axis=0, keepdims=True)
    raw = attribute(shifted, X, "saliency", target=0)
    np.testing.assert_allclose(raw, np.broadcast_to(weights + shift, raw.shape), atol=1e-5)
    for method in GRADIENT_METHODS:
        kwargs = {"n_references": 2} if method == "deepshap" else {}
        a = attribute(shifted, X, method, target=0, correct_gradient=True, **kwargs)
        b = attribute(clean, X, method, target=0, correct_gradient=True, **kwargs)
        np.testing.assert_allclose(a, b, atol=1e-4, err_msg=method)
    np.testing.assert_allclose(attribute(shifted, X, "saliency", 0, correct_gradient=True),
                               np.broadcast_to(corrected, X.shape), atol=1e-5)
    g = rng.normal(size=(3, 4, 7))
    np.testing.assert_allclose(correct_gradients(g + rng.normal(size=(3, 1, 7))),
                               correct_gradients(g), atol=1e-12)
    assert np.allclose(correct_gradients(torch.as_tensor(g)).sum(dim=1).numpy(), 0)


# ------------------------------------------------------------------------------------------
# DeepLIFT / DeepSHAP on motiflens's own nonlinear modules
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exp_cnn():
    return small_exp_cnn()


def test_deeplift_sums_to_delta_with_exponential_activation_and_same_pad_pool(exp_cnn):
    X = one_hot(np.random.default_rng(4), 6, 40)
    exp_cnn.train()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)             # no summation warning
        maps = attribute(exp_cnn, X, "deeplift", batch_size=8)              # (N, C, 4, L)
    assert exp_cnn.training and all(m.training for m in exp_cnn.modules())  # mode restored
    delta = forward(exp_cnn, X) - forward(exp_cnn, np.full_like(X, 0.25))
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), delta, rtol=1e-4, atol=1e-4)
    assert np.abs(delta).max() > 0.5                                 # not a trivial check


def test_deepshap_sums_to_mean_delta_over_its_references(exp_cnn):
    X = one_hot(np.random.default_rng(5), 4, 40)
    refs = reference_sequences(X, "shuffle", n_references=3, seed=11)       # (N, K, 4, L)
    maps = attribute(exp_cnn, X, "deepshap", target=2, n_references=3, seed=11, batch_size=5)
    ref_out = np.stack([forward(exp_cnn, refs[:, k]) for k in range(3)], axis=1).mean(axis=1)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), forward(exp_cnn, X)[:, 2] - ref_out[:, 2],
                               rtol=1e-4, atol=1e-4)
    shared = attribute(exp_cnn, X, "deepshap", target=2, baseline=refs[0])  # (K, 4, L) array
    np.testing.assert_allclose(shared.sum(axis=(1, 2)), forward(exp_cnn, X)[:, 2]
                               - forward(exp_cnn, refs[0])[:, 2].mean(), rtol=1e-4, atol=1e-4)


def test_dinucleotide_references_keep_dinucleotide_counts_and_are_reproducible():
    X = one_hot(np.random.default_rng(6), 3, 50)
    refs = reference_sequences(X, "shuffle", n_references=4, seed=2)
    codes = X.argmax(axis=1)
    for i in range(3):
        counts = np.bincount(codes[i, :-1] * 4 + codes[i, 1:], minlength=16)
        for k in range(4):
            r = refs[i, k].argmax(axis=0)
            np.testing.assert_array_equal(np.bincount(r[:-1] * 4 + r[1:], minlength=16), counts)
    assert not np.array_equal(refs[0, 0], X[0])
    # sequence i's references depend on (seed, i) only, not on the batch it is drawn in
    np.testing.assert_array_equal(reference_sequences(X[1:], "shuffle", 4, 2, offset=1), refs[1:])


def test_deeplift_warns_when_a_nonlinearity_is_out_of_captums_reach():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(4, 3, 5, padding=2)
            self.out = nn.Linear(3, 2)

        def forward(self, x):
            return self.out(torch.exp(self.conv(x)).amax(dim=-1))

    X = one_hot(np.random.default_rng(7), 2, 30)
    with pytest.warns(RuntimeWarning, match="summation-to-delta"):
        attribute(Functional(), X, "deeplift", target=0)


# ------------------------------------------------------------------------------------------
# motif detector, foreign network, input checks
# ------------------------------------------------------------------------------------------


def test_attributions_of_a_motif_detector_peak_on_the_planted_motif():
    rng = np.random.default_rng(8)
    ppm = np.full((4, 8), 0.02)
    ppm[[0, 2, 1, 3, 3, 0, 2, 1], np.arange(8)] = 0.94                    # AGCTTAGC-like
    X = one_hot(rng, 4, 60)
    starts = [5, 20, 33, 50]
    for i, s in enumerate(starts):
        X[i, :, s:s + 8] = np.eye(4, dtype=np.float32)[ppm.argmax(axis=0)].T
    model = MotifDetector([ppm], 60)
    for method in METHODS:
        maps = attribute(model, X, method, target=0, n_references=4)
        score = position_scores(maps, X, method)
        peaks = score.argmax(axis=1)
        assert all(s <= p < s + 8 for p, s in zip(peaks, starts)), (method, peaks)


def test_a_foreign_dilated_residual_network_goes_through_every_method():
    model = DilatedResNet()
    X = one_hot(np.random.default_rng(9), 2, 1000)
    for method in METHODS:
        kwargs = {"n_steps": 8} if method == "integrated_gradients" else {}
        if method == "deepshap":
            kwargs = {"n_references": 2}
        X_used = X[:1] if method == "ism" else X
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)   # residual + ReLU modules: exact
            one = attribute(model, X_used, method, target=2, batch_size=512, **kwargs)
        assert one.shape == (len(X_used), 4, 1000) and np.isfinite(one).all(), method
        assert np.abs(one).max() > 0, method
        if method in ("saliency", "deepshap"):
            every = attribute(model, X_used, method, batch_size=512, **kwargs)
            assert every.shape == (len(X_used), 3, 4, 1000)
            np.testing.assert_allclose(every[:, 2], one, rtol=1e-5, atol=1e-6)


def test_input_layout_and_options_are_checked():
    model, X = ConvSum(), one_hot(np.random.default_rng(10), 2, 20)
    with pytest.raises(ConfigError, match=r"\(N, 4, L\).*\(2, 20, 4\).*transpose"):
        attribute(model, X.transpose(0, 2, 1), "saliency")
    with pytest.raises(ConfigError, match="method: unknown 'shap'"):
        attribute(model, X, "shap")
    with pytest.raises(ConfigError, match=r"target: expected a class index in 0\.\.1"):
        attribute(model, X, "saliency", target=2)
    with pytest.raises(ConfigError, match="baseline: not used by 'ism'"):
        attribute(model, X, "ism", baseline="zeros")
    with pytest.raises(ConfigError, match="baseline: expected .* shape"):
        attribute(model, X, "deeplift", baseline=np.zeros((3, 4, 20)))
    with pytest.raises(ConfigError, match="batch_size: expected a positive integer"):
        attribute(model, X, "saliency", batch_size=0)
    with pytest.raises(ConfigError, match="correct_gradient"):
        attribute(model, X, "ism", correct_gradient=True)


# ------------------------------------------------------------------------------------------
# interpretability scoring
# ------------------------------------------------------------------------------------------


def sharp_motifs() -> list[Motif]:
    rng = np.random.default_rng(12)
    motifs = []
    for i, width in enumerate((8, 10, 12)):
        ppm = rng.dirichlet([0.15] * 4, size=width).T
        ppm[:, 0] = 0.25                                 # one uninformative column per motif
        motifs.append(Motif(f"M{i}", ppm, name=f"tf{i}"))
    return motifs


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    motifs = sharp_motifs()
    path = tmp_path_factory.mktemp("sim") / "sim.h5"
    simulate_to_hdf5(SimulationConfig(n_sequences=300, length=100, motifs=motifs, seed=3), path)
    return path, motifs


def test_motif_information_places_reverse_strand_columns_backwards():
    ppm = np.array([[0.97, 0.01, 0.01, 0.01], [0.25] * 4, [0.7, 0.1, 0.1, 0.1]]).T   # (4, 3)
    truth = {"seq": np.array([0, 1]), "tf": np.array([0, 0]), "strand": np.array([1, -1]),
             "start": np.array([2, 4]), "width": np.array([3, 3])}
    info = motif_information(truth, [ppm], np.array([0, 1]), 1, 10)
    ic = information_content(ppm)
    np.testing.assert_allclose(info[0, 0, 2:5], ic)
    np.testing.assert_allclose(info[1, 0, 4:7], ic[::-1])
    assert info[0, 0, :2].sum() == 0 and info[1, 0, 7:].sum() == 0


def test_the_two_label_rules_differ_on_low_information_motif_columns():
    information = np.array([0.0, 0.0, 1.5, 0.05, 1.5, 0.005, 0.0])
    score = np.array([0.0, 0.0, 1.0, 2.0, 1.0, 0.5, 0.0])
    # > 0.01 bits: position 3 is a positive (the best score), position 5 a negative
    assert score_pair(score, information, 0.01, False) == pytest.approx((1.0, 1.0))
    # > 0.1 bits with 0 < IC <= 0.1 left out: positions 3 and 5 are not scored
    assert score_pair(score, information, 0.1, True) == pytest.approx((1.0, 1.0))
    # kept as negatives instead, position 3 outranks both positives
    auroc, _ = score_pair(score, information, 0.1, False)
    assert auroc == pytest.approx(8 / 10)
    assert score_pair(score, np.zeros(7), 0.01, False) is None
    maps = np.random.default_rng(14).normal(size=(2, 3, 4, 7))
    X = one_hot(np.random.default_rng(15), 2, 7)
    np.testing.assert_allclose(position_scores(maps, X, "saliency")[1, 2],
                               maps[1, 2][X[1].argmax(axis=0), np.arange(7)])
    np.testing.assert_allclose(position_scores(maps, X, "ism"), np.linalg.norm(maps, axis=2))


def test_hand_built_detector_scores_well_above_chance(simulated):
    path, motifs = simulated
    model = MotifDetector([m.ppm for m in motifs], 100)
    methods = ("saliency", "deepshap", "ism")
    scores = interpretability_scores(model, path, methods=methods, n_sequences=500, seed=0,
                                     options={"deepshap": {"n_references": 3}})
    assert set(scores) == set(methods)
    n_pairs = scores["saliency"]["n_pairs"]
    assert 60 <= n_pairs <= 60 * 3 and all(s["n_pairs"] == n_pairs for s in scores.values())
    for method, s in scores.items():
        assert s["auroc_ic0.01"] > 0.85 and s["auroc_ic0.1"] > 0.85, (method, s)
        assert s["aupr_ic0.01"] > 0.5 and s["aupr_ic0.1"] > 0.5, (method, s)
    again = interpretability_scores(model, path, methods=("saliency",), n_sequences=20, seed=1)
    assert again["saliency"]["n_pairs"] < n_pairs                   # 20 of the 60 sequences


def test_scoring_needs_ground_truth_and_matching_classes(tmp_path, simulated):
    rng = np.random.default_rng(13)
    splits = {name: (one_hot(rng, 4, 100), rng.integers(0, 2, (4, 3))) for name in
              ("train", "valid", "test")}
    plain = write_dataset(tmp_path / "plain.h5", splits, ["a", "b", "c"])
    model = MotifDetector([m.ppm for m in simulated[1]], 100)
    with pytest.raises(ConfigError, match="no ground truth"):
        interpretability_scores(model, plain, methods=("saliency",))
    with pytest.raises(ConfigError, match="model: expected 3 outputs"):
        interpretability_scores(ConvSum(n_classes=2), simulated[0], methods=("saliency",))
    with pytest.raises(ConfigError, match="methods: unknown"):
        interpretability_scores(model, simulated[0], methods=("lime",))
