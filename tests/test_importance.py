"""Tests of filter importance (silencing), motif completeness and null match rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from motiflens.errors import ConfigError
from motiflens.interpret.completeness import (
    WHOLE_THRESHOLD,
    hit_completeness,
    model_completeness,
    motif_completeness,
)
from motiflens.interpret.filters import filters_to_motifs, layer_activations
from motiflens.interpret.importance import (
    filter_importance,
    groups_by_tf,
    importance_table,
)
from motiflens.interpret.nulls import null_match_rates, shuffle_columns
from motiflens.interpret.scoring import FilterScore, write_filter_table
from motiflens.interpret.tomtom import run_tomtom
from motiflens.jaspar import ground_truth_ids, ground_truth_motifs
from motiflens.metrics import binary_cross_entropy
from motiflens.models import build_model, parse_spec
from motiflens.motifs import Motif, information_content, reverse_complement, trim_motif

N, L = 200, 100


@pytest.fixture(scope="module")
def truth() -> dict[str, Motif]:
    return {m.name: m for m in ground_truth_motifs()}


def planted(ppm: np.ndarray, n: int = N, length: int = L, seed: int = 0
            ) -> tuple[np.ndarray, np.ndarray]:
    """One-hot ``(n, 4, length)``: uniform background, one instance sampled from ``ppm`` in
    every even-indexed sequence; labels ``(n,)`` = planted."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(n, length))
    labels = np.arange(n) % 2 == 0
    w = ppm.shape[1]
    p = ppm / ppm.sum(axis=0, keepdims=True)
    for i in np.flatnonzero(labels):
        start = rng.integers(5, length - w - 5)
        for j in range(w):
            idx[i, start + j] = rng.choice(4, p=p[:, j])
    X = np.zeros((n, 4, length), dtype=np.float32)
    X[np.arange(n)[:, None], idx, np.arange(length)[None, :]] = 1.0
    return X, labels


def log_odds(ppm: np.ndarray, width: int) -> torch.Tensor:
    """Log-odds filter weights (4, width): the motif at the left, zero columns after it."""
    out = np.zeros((4, width), dtype=np.float32)
    out[:, :ppm.shape[1]] = np.log2((ppm + 0.01) / 1.04 / 0.25)
    return torch.from_numpy(out)


# ------------------------------------------------------------------------------------------
# Hand-built networks
# ------------------------------------------------------------------------------------------
class OneFilterNet(nn.Module):
    """4 filters -> ReLU -> global max -> 2 logits. Filter 0 detects the motif and is the only
    one the ranking depends on; filter 3 is a constant 1.5 (zero weights, bias 1.5) that only
    shifts logit 0; filters 1 and 2 are random with zero output weight."""

    def __init__(self, ppm: np.ndarray) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = nn.Conv1d(4, 4, 12, padding=6)
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(4, 4, 12, generator=gen))
            self.conv.weight[0] = log_odds(ppm, 12)
            self.conv.weight[3] = 0.0
            self.conv.bias[:] = torch.tensor([-4.0, 0.0, 0.0, 1.5])
            self.head.weight[:] = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.2, 0.0, 0.0, 0.0]])
            self.head.bias[:] = torch.tensor([-12.0, -1.0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.amax(self.act(self.conv(x)), dim=2))


class DilatedResNet(nn.Module):
    """Own forward: conv (11 wide) -> ReLU, then a dilated conv in a residual branch
    (``h + relu(dilated_conv(h))``), global max, linear. Filter 0 optionally planted."""

    def __init__(self, ppm: np.ndarray | None = None, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv1d(4, 6, 11, padding=5)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv1d(6, 6, 3, dilation=2, padding=2)
        self.act2 = nn.ReLU()
        self.head = nn.Linear(6, 2)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            if ppm is not None:
                self.conv1.weight[0] = log_odds(ppm, 11)
                self.conv1.bias[0] = -2.0
                self.head.weight[0, 0] = 3.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.conv1(x))
        h = h + self.act2(self.conv2(h))
        return self.head(torch.amax(h, dim=2))


def naive(model: nn.Module, X: np.ndarray, module: nn.Module, fill: np.ndarray,
          channels: list[int]) -> np.ndarray:
    """Logits with ``channels`` of ``module``'s output set to ``fill``, one full forward."""
    def hook(_m, _i, out):
        out = out.clone()
        out[:, channels] = torch.as_tensor(fill[channels], dtype=out.dtype)[None, :, None]
        return out

    handle = module.register_forward_hook(hook)
    try:
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(X)).numpy()
    finally:
        handle.remove()


def naive_metrics(y: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, float]:
    auroc = np.array([roc_auc_score(y[:, c], logits[:, c]) for c in range(y.shape[1])])
    return auroc, binary_cross_entropy(y, logits)


# ------------------------------------------------------------------------------------------
# Importance
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_filter(truth):
    X, planted_ = planted(truth["CEBPB"].ppm)
    y = np.stack([planted_, np.random.default_rng(1).random(N) < 0.4], axis=1).astype(np.float32)
    return OneFilterNet(truth["CEBPB"].ppm), X, y


def test_importance_concentrated_on_the_one_filter(one_filter) -> None:
    net, X, y = one_filter
    res = filter_importance(net, X, y, label_names=["motif", "noise"], batch_size=64)
    assert res.baseline_auroc[0] > 0.95
    assert res.delta_auroc[0, 0] < -0.4  # silenced: constant prediction, AU-ROC 0.5
    assert res.delta_auroc[0, 0] == pytest.approx(0.5 - res.baseline_auroc[0], abs=1e-9)
    assert res.delta_loss[0] > 0.05
    np.testing.assert_array_equal(res.delta_auroc[1:], 0.0)  # zero output weight / constant
    np.testing.assert_array_equal(res.delta_loss[1:], 0.0)
    assert res.most_hurt_class() == ["motif", "", "", ""]
    assert res.batched and res.activation.startswith("act")


def test_mean_and_zero_silencing_differ_as_expected(one_filter) -> None:
    net, X, y = one_filter
    mean = filter_importance(net, X, y, mode="mean")
    zero = filter_importance(net, X, y, mode="zero")
    acts = layer_activations(net, X)
    np.testing.assert_allclose(mean.fill, acts.mean(axis=(0, 2)), rtol=1e-5)
    assert mean.fill[3] == pytest.approx(1.5) and np.all(zero.fill == 0)
    # a constant filter: mean-silencing changes nothing, zero-silencing shifts logit 0 by -1.5
    assert mean.delta_loss[3] == 0.0
    assert zero.delta_loss[3] != pytest.approx(0.0, abs=1e-3)
    assert zero.delta_auroc[3] == pytest.approx(np.zeros(2), abs=1e-3)  # ranking unchanged
    # the motif filter: both ablations remove the signal, but to different constants
    assert zero.delta_auroc[0, 0] == pytest.approx(mean.delta_auroc[0, 0], abs=1e-9)
    assert zero.delta_loss[0] != pytest.approx(mean.delta_loss[0], abs=1e-3)
    with pytest.raises(ConfigError, match="mode"):
        filter_importance(net, X, y, mode="gaussian")


@pytest.fixture(scope="module")
def cnn():
    spec = parse_spec("8x7p4-16x5p4-d16", input_length=L, n_outputs=3)
    model = build_model(spec, seed=0)
    rng = np.random.default_rng(2)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(N, L))].transpose(0, 2, 1).copy()
    y = (rng.random((N, 3)) < 0.3).astype(np.float32)
    return model, X, y


@pytest.mark.parametrize("layer", [1, 2])
def test_batched_equals_naive_loop_and_groups(cnn, layer: int) -> None:
    model, X, y = cnn
    groups = {"a": [0, 2], "b": [1, 3, 5], "single": [4]}
    res = filter_importance(model, X, y, layer=layer, groups=groups, batch_size=64,
                            max_rows=128, max_stored=N * 3 * 3, return_logits=True)
    act = model.blocks[layer - 1].act
    F = 8 if layer == 1 else 16
    assert res.delta_auroc.shape == (F, 3) and res.silenced_logits.shape == (F + 3, N, 3)
    base_auroc, base_loss = naive_metrics(y, naive(model, X, act, res.fill, []))
    np.testing.assert_allclose(res.baseline_auroc, base_auroc, atol=1e-9)
    assert res.baseline_loss == pytest.approx(base_loss, rel=1e-6)
    members = [[f] for f in range(F)] + list(groups.values())
    for k, channels in enumerate(members):
        logits = naive(model, X, act, res.fill, channels)
        np.testing.assert_allclose(res.silenced_logits[k], logits, rtol=1e-4, atol=1e-5)
        auroc, loss = naive_metrics(y, logits)
        got_auroc = res.delta_auroc[k] if k < F else res.group_delta_auroc[k - F]
        got_loss = res.delta_loss[k] if k < F else res.group_delta_loss[k - F]
        np.testing.assert_allclose(got_auroc + res.baseline_auroc, auroc, atol=2e-3)
        assert got_loss + res.baseline_loss == pytest.approx(loss, rel=1e-4)
    # a singleton group is the filter itself; the default chunking gives the same numbers
    np.testing.assert_allclose(res.group_delta_auroc[2], res.delta_auroc[4], atol=1e-12)
    default = filter_importance(model, X, y, layer=layer, groups=groups)
    np.testing.assert_allclose(default.delta_auroc, res.delta_auroc, atol=2e-3)
    np.testing.assert_allclose(default.group_delta_loss, res.group_delta_loss, rtol=1e-4)
    assert res.group_names == ["a", "b", "single"] and res.groups[1] == (1, 3, 5)


def test_groups_are_checked(cnn) -> None:
    model, X, y = cnn
    with pytest.raises(ConfigError, match="groups"):
        filter_importance(model, X[:20], y[:20], groups=[[0, 99]])
    with pytest.raises(ConfigError, match="y"):
        filter_importance(model, X[:20], y[:10])


def test_importance_on_a_foreign_dilated_residual_network(truth) -> None:
    X, planted_ = planted(truth["CEBPB"].ppm)
    y = np.stack([planted_, np.random.default_rng(3).random(N) < 0.5], axis=1).astype(np.float32)
    net = DilatedResNet(truth["CEBPB"].ppm)
    for layer, module in ((1, net.act1), (2, net.act2)):
        res = filter_importance(net, X, y, layer=layer, batch_size=50, return_logits=True)
        # layer 2: the residual adds a (B, ...) tensor to the enlarged branch -> repeat input
        assert res.batched is (layer == 1)
        for f in range(6):
            logits = naive(net, X, module, res.fill, [f])
            np.testing.assert_allclose(res.silenced_logits[f], logits, rtol=1e-4, atol=1e-5)
    first = filter_importance(net, X, y, layer=1)
    assert first.baseline_auroc[0] > 0.9
    assert int(np.argmin(first.delta_auroc[:, 0])) == 0  # the planted filter matters most
    assert first.most_hurt_class()[0] == "0"


def test_importance_table_joins_filters_tsv(one_filter, tmp_path) -> None:
    net, X, y = one_filter
    res = filter_importance(net, X, y, label_names=["motif", "noise"],
                            groups={"CEBPB": [0, 2]})
    scores = [FilterScore(i, f"filter_{i}", True, 10, 5.0) for i in range(4)]
    for i in (0, 2):
        scores[i].ground_truth_tf, scores[i].matches_ground_truth = "CEBPB", True
        scores[i].best_target, scores[i].matches_database = "MA0466.2", True
    write_filter_table(scores, tmp_path / "filters.tsv")
    assert groups_by_tf(tmp_path / "filters.tsv") == {"CEBPB": [0, 2]}
    rows = importance_table(res, tmp_path / "filters.tsv")
    assert [r["filter"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["ground_truth_tf"] == "CEBPB" and rows[0]["most_hurt_class"] == "motif"
    assert rows[0]["delta_auroc[motif]"] == pytest.approx(res.delta_auroc[0, 0])
    assert rows[1]["ground_truth_tf"] == "" and rows[1]["most_hurt_class"] == ""
    assert list(rows[0])[:3] == ["filter", "id", "alive"]
    group = res.group_rows()[0]
    assert group["group"] == "CEBPB" and group["filters"] == "0,2"
    assert group["delta_loss"] == pytest.approx(res.group_delta_loss[0])
    with pytest.raises(ConfigError, match="filters table"):
        importance_table(res, scores[:3])


# ------------------------------------------------------------------------------------------
# Completeness
# ------------------------------------------------------------------------------------------
def informative_share(ppm: np.ndarray, columns: slice) -> float:
    ic = information_content(ppm)
    strong = np.where(ic > 0.5, ic, 0.0)
    return float(strong[columns].sum() / strong.sum())


def test_completeness_explicit_alignments(truth) -> None:
    m = truth["YY1"]
    w, h = m.width, m.width // 2
    strong = [j for j in range(w) if information_content(m.ppm)[j] > 0.5]
    assert len(strong) < w  # YY1 has weak columns: they are covered by no filter column
    assert motif_completeness(m.ppm, m, 0).completeness == pytest.approx(1.0)
    rc = motif_completeness(reverse_complement(m.ppm), m, 0, "-")
    assert rc.completeness == pytest.approx(1.0) and rc.whole
    half = motif_completeness(m.ppm[:, :h], m, 0, "+")
    assert half.completeness == pytest.approx(informative_share(m.ppm, slice(0, h)))
    assert half.covered_columns == tuple(j for j in strong if j < h) and not half.whole
    # rc of the first half sits at the end of the reverse-complemented target
    rc_half = motif_completeness(reverse_complement(m.ppm[:, :h]), m, w - h, "-")
    assert rc_half.covered_columns == half.covered_columns
    assert rc_half.completeness == pytest.approx(half.completeness)
    shifted = motif_completeness(m.ppm, m, 3, "+")  # misaligned by 3: loses 3 columns
    assert shifted.covered_columns == tuple(j + 3 for j in strong if j + 3 < w)
    assert shifted.completeness < 1.0
    flat = np.full((4, 8), 0.25)
    assert motif_completeness(flat, m, 0).completeness == 0.0
    assert 0 < WHOLE_THRESHOLD < 1
    with pytest.raises(ConfigError, match="orientation"):
        motif_completeness(m.ppm, m, 0, "x")


def test_completeness_from_tomtom_hits(truth) -> None:
    m = truth["YY1"]
    h = m.width // 2
    u = np.full((4, 5), 0.25)
    queries = [
        Motif("whole", m.ppm.copy()), Motif("half", m.ppm[:, :h].copy()),
        Motif("rc", reverse_complement(m.ppm)),
        Motif("padded_rc", np.hstack([u, reverse_complement(m.ppm), u[:, :2]])),
    ]
    db = list(truth.values())
    compared = [trim_motif(q) for q in queries]
    hits = run_tomtom(compared, db).hits
    summary = model_completeness(queries, db, hits, ground_truth_ids("paper"), trim=True)
    got = {c.query_id: c for c in summary.items}
    assert set(got) == {"whole", "half", "rc", "padded_rc"}
    assert all(c.target_name == "YY1" for c in got.values())
    assert got["whole"].completeness == pytest.approx(1.0)
    assert got["rc"].completeness == pytest.approx(1.0) and got["rc"].orientation == "-"
    assert got["padded_rc"].completeness == pytest.approx(1.0) and got["padded_rc"].offset < 0
    assert got["half"].completeness == pytest.approx(informative_share(m.ppm, slice(0, h)))
    assert got["half"].completeness == pytest.approx(
        information_content(m.ppm)[:h].sum() / information_content(m.ppm).sum(), abs=0.1)
    d = summary.to_dict()
    assert d["n_matched"] == 4 and d["n_whole"] == 3 and d["n_partial"] == 1
    assert sum(d["histogram"]["counts"]) == 4 and d["basis"] == "ground_truth"
    # the untrimmed padded query is not what Tomtom compared: refused, not silently misread
    with pytest.raises(ConfigError, match="width"):
        model_completeness(queries, db, hits, ground_truth_ids("paper"), trim=False)
    hit = next(x for x in hits if x.query_id == "rc" and x.target_id == m.id)
    assert hit_completeness(compared[2], m, hit).completeness == pytest.approx(1.0)


def test_completeness_on_a_foreign_network(truth) -> None:
    X, _ = planted(truth["CEBPB"].ppm)
    fm = filters_to_motifs(DilatedResNet(truth["CEBPB"].ppm), X, layer=1)
    db = list(truth.values())
    hits = run_tomtom([trim_motif(q) for q in fm.alive_motifs()], db).hits
    summary = model_completeness(fm.alive_motifs(), db, hits, ground_truth_ids("paper"),
                                 trim=True)
    first = next(c for c in summary.items if c.query_id == "filter_0")
    assert first.target_name == "CEBPB"
    assert first.completeness >= WHOLE_THRESHOLD and first.category == "whole"


# ------------------------------------------------------------------------------------------
# Nulls
# ------------------------------------------------------------------------------------------
def test_null_rates_on_a_tiny_random_model(truth) -> None:
    X, _ = planted(truth["SRF"].ppm)
    spec = parse_spec("6x11p4-d8", input_length=L, n_outputs=12)
    model = build_model(spec, seed=5)
    rates = null_match_rates(model, X, list(truth.values()), ground_truth_ids("paper"),
                             seeds=(0, 1))
    assert [(r.null, r.mode) for r in rates] == [
        (null, mode) for mode in ("paper", "code") for null in ("trained", "untrained", "shuffled")]
    for r in rates:
        n_runs = 1 if r.null == "trained" else 2
        assert r.n_filters == 6 * n_runs and 0 < r.n_alive <= r.n_filters
        assert 0.0 <= r.rate_gt <= r.rate_db <= 1.0
        assert r.rate_db == pytest.approx(r.n_match_db / r.n_filters)
        assert r.rate_db_alive == pytest.approx(r.n_match_db / r.n_alive)
        assert len(r.per_seed) == (0 if r.null == "trained" else 2)
        assert r.to_dict()["seeds"] == ([] if r.null == "trained" else [0, 1])
    trained = {r.mode: r for r in rates if r.null == "trained"}
    for r in rates:
        if r.null == "shuffled":  # same filters, same alive counts, per seed
            assert r.n_alive == 2 * trained[r.mode].n_alive
    # a non-motiflens network needs a factory; the factory is called once per seed
    calls = []
    net = DilatedResNet(truth["CEBPB"].ppm)
    out = null_match_rates(net, X, list(truth.values()), ground_truth_ids("paper"),
                           factory=lambda s: calls.append(s) or DilatedResNet(seed=s),
                           nulls=("untrained",), modes=("code",), seeds=(3, 4),
                           include_trained=False)
    assert calls == [3, 4] and len(out) == 1 and out[0].n_filters == 12
    with pytest.raises(ConfigError, match="factory"):
        null_match_rates(net, X, list(truth.values()), {}, nulls=("untrained",))


def test_shuffle_columns_is_a_seeded_permutation(truth) -> None:
    X, _ = planted(truth["CEBPB"].ppm)
    fm = filters_to_motifs(DilatedResNet(truth["CEBPB"].ppm), X, layer=1)
    a, b, c = shuffle_columns(fm, 1), shuffle_columns(fm, 1), shuffle_columns(fm, 2)
    for orig, x, y_, z in zip(fm.motifs, a.motifs, b.motifs, c.motifs):
        np.testing.assert_array_equal(x.ppm, y_.ppm)
        cols = lambda p: sorted(map(tuple, np.round(p.T, 12)))  # noqa: E731
        assert cols(x.ppm) == cols(orig.ppm)
    assert any(not np.array_equal(x.ppm, z.ppm) for x, z in zip(a.motifs, c.motifs))
    assert not np.array_equal(a.motifs[0].ppm, fm.motifs[0].ppm)
    np.testing.assert_array_equal(a.alive, fm.alive)
