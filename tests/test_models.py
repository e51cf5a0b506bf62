"""Architectures: parameter counts of docs/PAPER.md §2, TF-SAME pooling, shapes, specs, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from motiflens.errors import ConfigError
from motiflens.models import (
    MODEL_NAMES,
    ConvBlock,
    ConvBlockSpec,
    InputShapeError,
    ModelSpec,
    SamePadMaxPool1d,
    build_model,
    count_parameters,
    model_spec,
    parse_spec,
    receptive_field,
    spec_from_dict,
)


def _cnn25_filters(filters: int, length: int) -> int:
    """CNN-25 with ``filters`` first-layer filters: conv1 + BN, conv2 + BN, dense + BN, output."""
    flat = 128 * math.ceil(math.ceil(length / 25) / 4)
    return (4 * 19 * filters + 2 * filters + filters * 5 * 128 + 256
            + flat * 512 + 1024 + 512 * 12 + 12)


# docs/PAPER.md §2 table: (params at 200 nt, params at 1000 nt).
EXPECTED = {
    **{f"CNN-{p}": (160_048, 684_336) for p in (1, 2, 4, 10, 25, 50, 100)},
    "CNN9-4": (158_848, 683_136),
    "CNN9-25": (158_848, 683_136),
    "CNN3-2": (158_128, 682_416),
    "CNN3-50": (158_128, 682_416),
    "CNN-50-2": (25_712, 74_864),
    "CNN19-1-2": (144_688, 668_976),
    "CNN-1-1-100": (242_224, 766_512),
    **{f"CNN-25-{f}": (_cnn25_filters(f, 200), _cnn25_filters(f, 1000)) for f in (60, 90, 120)},
}


def test_every_paper_name_is_listed():
    assert sorted(MODEL_NAMES) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("length", [200, 1000])
def test_parameter_counts_match_spec_table(name, length):
    model = build_model(model_spec(name, input_length=length), seed=0)
    expected = EXPECTED[name][0 if length == 200 else 1]
    assert count_parameters(model) == expected
    # running statistics are buffers, not parameters
    assert all("running" not in n for n, _ in model.named_parameters())


def test_cnn25_filter_variants_hold_their_filters():
    assert model_spec("CNN-25-60").conv[0].filters == 60
    assert _cnn25_filters(30, 200) == 160_048 and _cnn25_filters(30, 1000) == 684_336
    assert _cnn25_filters(120, 200) == 224_668


@pytest.mark.parametrize("name", ["CNN-2", "CNN-50-2", "CNN-1-1-100"])
def test_forward_returns_logits_of_shape(name):
    spec = model_spec(name, input_length=200, n_outputs=7)
    model = build_model(spec, seed=1).eval()
    x = torch.zeros(3, 4, 200)
    x[:, 0] = 1.0
    out = model(x)
    assert out.shape == (3, 7)
    assert torch.isfinite(out).all()


def test_blocks_have_the_contract_attributes():
    model = build_model(model_spec("CNN-50-2"), seed=0)
    assert isinstance(model.blocks, nn.ModuleList) and len(model.blocks) == 2
    block = model.blocks[0]
    assert isinstance(block, ConvBlock)
    assert isinstance(block.conv, nn.Conv1d) and block.conv.bias is None
    assert block.conv.kernel_size == (19,) and block.conv.out_channels == 30
    assert isinstance(block.bn, nn.BatchNorm1d) and isinstance(block.act, nn.ReLU)
    assert (block.pool.size, block.pool.stride) == (50, 2)
    assert block.dropout.p == pytest.approx(0.1)
    assert model.dense.bias is None and model.output.bias is not None
    assert model.dense_dropout.p == pytest.approx(0.5)


def _tf_same_maxpool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Reference TensorFlow SAME max-pool on (C, L) by explicit windows."""
    length = x.shape[-1]
    out_len = -(-length // stride)
    total = max((out_len - 1) * stride + size - length, 0)
    left = total // 2
    out = np.empty((x.shape[0], out_len))
    for i in range(out_len):
        lo = max(i * stride - left, 0)
        hi = min(i * stride - left + size, length)
        out[:, i] = x[:, lo:hi].max(axis=1)
    return out


@pytest.mark.parametrize("length,size,stride", [
    (200, 3, 3), (200, 25, 25), (200, 50, 2), (8, 4, 4), (200, 100, 100), (13, 5, 2),
    (1000, 25, 25), (7, 1, 1),
])
def test_same_pooling_matches_tensorflow(length, size, stride):
    rng = np.random.default_rng(length + size)
    x = rng.normal(size=(2, 3, length)).astype(np.float32) - 5.0  # negative: -inf pad must not win
    pool = SamePadMaxPool1d(size, stride)
    got = pool(torch.from_numpy(x)).numpy()
    assert got.shape == (2, 3, math.ceil(length / stride))
    for n in range(2):
        np.testing.assert_allclose(got[n], _tf_same_maxpool(x[n], size, stride), rtol=0, atol=0)


def test_same_pooling_lengths_in_models():
    assert model_spec("CNN-1").lengths() == [200, 2]
    spec = ModelSpec("p3", [ConvBlockSpec(4, 3, 3)], dense=4)
    assert spec.lengths() == [67]
    assert model_spec("CNN-25").lengths() == [8, 2]
    assert model_spec("CNN-25", input_length=1000).lengths() == [40, 10]
    assert model_spec("CNN-50-2").lengths() == [100, 2]
    assert model_spec("CNN-50").lengths() == [4, 2]
    model = build_model(spec, seed=0)
    assert model.features(torch.zeros(2, 4, 200)).shape == (2, 4, 67)


def test_unknown_model_name_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        model_spec("CNN-7")
    message = str(info.value)
    assert "'CNN-7'" in message
    for name in ("CNN-1", "CNN-25", "CNN-50-2", "CNN-1-1-100", "CNN-25-120"):
        assert name in message


def test_names_are_case_insensitive_and_overrides_apply():
    spec = model_spec("cnn-25", input_length=1000, n_outputs=3, init="glorot", bn_eps=1e-8)
    assert (spec.name, spec.input_length, spec.n_outputs) == ("CNN-25", 1000, 3)
    assert spec.init == "glorot" and spec.bn_eps == 1e-8
    with pytest.raises(ConfigError, match="bogus"):
        model_spec("CNN-25", bogus=1)


def test_wrong_input_shape_says_expected_and_found():
    model = build_model(model_spec("CNN-25"), seed=0)
    with pytest.raises(InputShapeError) as info:
        model(torch.zeros(2, 4, 150))
    assert isinstance(info.value, ValueError) and isinstance(info.value, ConfigError)
    assert "(N, 4, 200)" in str(info.value) and "(2, 4, 150)" in str(info.value)


def test_spec_round_trips_through_json():
    spec = model_spec("CNN-50-2", input_length=1000, n_outputs=5)
    again = spec_from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    a, b = build_model(spec, seed=3), build_model(again, seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_spec_from_dict_rejects_unknown_keys():
    data = model_spec("CNN-2").to_dict()
    data["denseunits"] = 3
    with pytest.raises(ConfigError, match="denseunits.*valid: name, conv"):
        spec_from_dict(data)
    data = model_spec("CNN-2").to_dict()
    data["conv"][0]["kernel"] = 3
    with pytest.raises(ConfigError, match=r"conv\[0\].*kernel"):
        spec_from_dict(data)


def test_invalid_spec_values_name_the_key():
    with pytest.raises(ConfigError, match="activation"):
        ModelSpec("x", [ConvBlockSpec(4, 3, activation="swishy")]).validate()
    with pytest.raises(ConfigError, match="init"):
        ModelSpec("x", [ConvBlockSpec(4, 3)], init="lecun").validate()
    with pytest.raises(ConfigError, match="width"):
        ModelSpec("x", [ConvBlockSpec(4, 0)]).validate()


def test_parse_spec_string():
    spec = parse_spec("30x19p50s2-64x5p50-d96")
    ref = model_spec("CNN-50-2")
    assert spec.conv == ref.conv and spec.dense == ref.dense
    assert count_parameters(build_model(spec)) == 25_712
    assert model_spec("30x19p25-128x5p4").conv == model_spec("CNN-25").conv
    with pytest.raises(ConfigError, match="'30y19'"):
        parse_spec("30y19-128x5p4")


def test_he_and_glorot_initialisation():
    spec = ModelSpec("big", [ConvBlockSpec(256, 19, 200)], dense=256)
    he = build_model(spec, seed=0)
    fan_in = 4 * 19
    assert he.blocks[0].conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    glorot = build_model(spec.replace(init="glorot"), seed=0)
    bound = math.sqrt(6 / (fan_in + 256 * 19))
    w = glorot.blocks[0].conv.weight
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.95 * bound
    assert torch.all(he.output.bias == 0)
    assert torch.all(he.blocks[0].bn.weight == 1) and torch.all(he.blocks[0].bn.bias == 0)


def test_build_is_seeded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = build_model(model_spec("CNN-4"), seed=5)
    assert torch.equal(state, torch.get_rng_state())
    b = build_model(model_spec("CNN-4"), seed=5)
    c = build_model(model_spec("CNN-4"), seed=6)
    assert torch.equal(a.blocks[0].conv.weight, b.blocks[0].conv.weight)
    assert not torch.equal(a.blocks[0].conv.weight, c.blocks[0].conv.weight)


def test_bn_settings_reach_the_layers():
    model = build_model(model_spec("CNN-25", bn_eps=1e-8, bn_momentum=0.01))
    assert model.blocks[1].bn.eps == 1e-8 and model.blocks[1].bn.momentum == 0.01
    assert model.dense_bn.eps == 1e-8


def test_receptive_fields():
    assert receptive_field(model_spec("CNN-1"), 0) == 19
    assert receptive_field(model_spec("CNN-1"), 1) == 23
    assert receptive_field(model_spec("CNN-1-1-100"), 2) == 27
    assert receptive_field(model_spec("CNN-25"), 1) == 19 + 24 + 4 * 25
    with pytest.raises(ConfigError):
        receptive_field(model_spec("CNN-1"), 2)


def test_training_forward_pools_before_the_activation_with_equal_values_and_gradients():
    import torch

    from motiflens.models import ConvBlockSpec, ModelSpec, build_model

    for activation in ("relu", "exponential", "sigmoid"):
        spec = ModelSpec("t", [ConvBlockSpec(6, 5, 4, activation=activation, dropout=0.0),
                               ConvBlockSpec(5, 3, 5, dropout=0.0)], dense=8, dense_dropout=0.0, n_outputs=2,
                         input_length=40)
        model = build_model(spec, seed=1).double()  # fp64: differences are rounding only
        x = torch.randn(7, 4, 40, dtype=torch.float64)
        model.train()
        out = model(x)
        ref = x
        for block in model.blocks:  # the documented order, by hand
            ref = block.dropout(block.pool(block.act(block.bn(block.conv(ref)))))
        ref = model.output(model.dense_dropout(model.dense_act(model.dense_bn(model.dense(ref.flatten(1))))))
        # Training also fuses batch norm with the pool (motiflens.ops): equal up to rounding.
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
        grads = torch.autograd.grad(out.sum(), list(model.parameters()))
        ref_grads = torch.autograd.grad(ref.sum(), list(model.parameters()))
        for g, r in zip(grads, ref_grads):
            torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-11)


def test_activation_is_an_architecture_choice_and_exp_stays_finite():
    from motiflens.models import EXP_INPUT_CAP, parse_activations, with_activations

    spec = with_activations(model_spec("CNN-2"), parse_activations(["exponential"]))
    assert [b.activation for b in spec.conv] == ["exponential", "relu"]
    assert parse_activations(["2=gelu", "1=exponential"]) == {2: "gelu", 1: "exponential"}
    with pytest.raises(ConfigError, match="unknown activation 'expo'"):
        parse_activations(["expo"])
    with pytest.raises(ConfigError, match="has conv layers 1..2"):
        with_activations(model_spec("CNN-2"), {3: "relu"})
    model = build_model(spec)
    act = model.blocks[0].act
    big = torch.tensor([0.0, 10.0, 1e4])
    out = act(big)
    assert torch.isfinite(out).all() and out[2] == pytest.approx(math.exp(EXP_INPUT_CAP), rel=1e-6)
    assert out[1] == pytest.approx(math.exp(10.0), rel=1e-6)


@pytest.mark.parametrize("activation", ["exponential", "gelu"])
def test_training_forward_matches_stock_order_for_any_activation(activation):
    """The fused path (act after pool) is taken only for non-decreasing activations; GELU
    (non-monotone) must give conv -> bn -> act -> pool exactly, in value and gradient."""
    from motiflens.models import NON_DECREASING, with_activations

    torch.manual_seed(0)
    spec = with_activations(model_spec("CNN-4", n_outputs=3), {1: activation})
    model = build_model(spec).double()
    block = model.blocks[0]
    block.dropout.p = 0.0
    x = torch.randn(6, 4, 200, dtype=torch.float64, requires_grad=True)
    block.train()
    fused = block(x)
    (g_fused,) = torch.autograd.grad(fused.square().sum(), x)
    state = {k: v.clone() for k, v in block.bn.state_dict().items()}
    block.bn.load_state_dict(state)
    stock = block.pool(block.act(torch.nn.functional.batch_norm(
        block.conv(x), None, None, block.bn.weight, block.bn.bias, training=True, eps=block.bn.eps)))
    (g_stock,) = torch.autograd.grad(stock.square().sum(), x)
    assert torch.allclose(fused, stock, atol=1e-10) and torch.allclose(g_fused, g_stock, atol=1e-8)
    assert (activation in NON_DECREASING) == (activation == "exponential")


def test_channels_last_input_says_expected_shape_and_suggests_transpose():
    model = build_model(model_spec("CNN-25"), seed=0)
    x = torch.zeros(2, 200, 4)
    with pytest.raises(InputShapeError) as info:
        model(x)
    message = str(info.value)
    assert "(N, 4, 200)" in message and "(2, 200, 4)" in message
    assert "X.transpose(0, 2, 1)" in message and "\n" not in message
    assert model(x.transpose(1, 2)).shape == (2, 12)   # the suggestion works
    with pytest.raises(InputShapeError) as info:       # other wrong shapes: no transpose hint
        model(torch.zeros(2, 4, 150))
    assert "transpose" not in str(info.value)


@pytest.mark.parametrize("name, part", [
    ("30x19p25-abc", "'abc'"),
    ("30x19p25-128x5q4", "'128x5q4'"),
    ("CNN-30x19", "'CNN'"),
])
def test_spec_like_model_name_points_at_the_bad_part(name, part):
    with pytest.raises(ConfigError) as info:
        model_spec(name)
    message = str(info.value)
    assert f"model spec string {name!r}: cannot parse {part}" in message
    assert "--model" in message and "unknown model name" not in message
    with pytest.raises(ConfigError, match=r"unknown model name 'CNN-7' \(--model\); valid names"):
        model_spec("CNN-7")
