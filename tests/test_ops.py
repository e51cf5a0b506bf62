"""Tests of motiflens.ops: fused batch norm + max-pool and the cheap dropout masks."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from motiflens import _numba
from motiflens.ops import (Dropout, batch_norm_max_pool, can_fuse_pool, dropout, keep_mask,
                           keep_threshold, set_dropout_masks, window_extrema)


def _stock(x, bn, size):
    h = bn(x)
    n, c, length = h.shape
    return h.reshape(n, c, length // size, size).max(dim=-1).values


def _pair(channels, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    bns = []
    for _ in range(2):
        bn = nn.BatchNorm1d(channels, eps=1e-3, momentum=0.1).to(dtype)
        bns.append(bn)
    with torch.no_grad():
        w = torch.randn(channels, generator=gen, dtype=dtype)
        w[::3] = -w[::3].abs()  # some negative scales: the min-pool branch
        b = torch.randn(channels, generator=gen, dtype=dtype)
        for bn in bns:
            bn.weight.copy_(w)
            bn.bias.copy_(b)
            bn.running_mean.fill_(0.3)
            bn.running_var.fill_(2.0)
    return bns


@pytest.mark.parametrize("size", [2, 5, 25])
def test_batch_norm_max_pool_equals_stock_layers_value_and_gradients(size):
    torch.manual_seed(0)
    x = torch.randn(6, 7, 50, dtype=torch.float64)
    stock_bn, fused_bn = _pair(7, torch.float64)
    grad = torch.randn(6, 7, 50 // size, dtype=torch.float64)

    xs = x.clone().requires_grad_()
    out_s = _stock(xs, stock_bn, size)
    out_s.backward(grad)
    xf = x.clone().requires_grad_()
    out_f = batch_norm_max_pool(xf, fused_bn, size)
    out_f.backward(grad)

    torch.testing.assert_close(out_f, out_s)
    torch.testing.assert_close(xf.grad, xs.grad)
    torch.testing.assert_close(fused_bn.weight.grad, stock_bn.weight.grad)
    torch.testing.assert_close(fused_bn.bias.grad, stock_bn.bias.grad)
    torch.testing.assert_close(fused_bn.running_mean, stock_bn.running_mean)
    torch.testing.assert_close(fused_bn.running_var, stock_bn.running_var)
    assert fused_bn.num_batches_tracked.item() == stock_bn.num_batches_tracked.item() == 1


def test_batch_norm_max_pool_passes_gradcheck():
    torch.manual_seed(1)
    x = torch.randn(3, 4, 12, dtype=torch.float64, requires_grad=True)
    w = torch.tensor([1.5, -0.7, 0.2, -2.0], dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: batch_norm_max_pool(x, None, 3, weight=w, bias=b, eps=1e-3),
        (x, w, b))


def test_batch_norm_max_pool_bf16_matches_fp32_reference_within_rounding():
    torch.manual_seed(2)
    x = torch.randn(20, 8, 100)
    ref_bn, bf_bn = _pair(8, torch.float32)
    ref = _stock(x, ref_bn, 25)
    out = batch_norm_max_pool(x.bfloat16(), bf_bn, 25)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=0.05, rtol=0.02)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_batch_norm_max_pool_backward_paths_agree_bit_for_bit(dtype, monkeypatch):
    """The pooled gradient is added by scatter_add_ (short windows) or gather + index_put_
    (long ones): both must give the same input gradient, rounding included, grouped too."""
    from motiflens import ops

    torch.manual_seed(3)
    x = torch.randn(2, 6, 5, 40).to(dtype)  # (T, N, C, L): two groups
    w = torch.tensor([1.5, -0.7, 0.2, -2.0, 1.0] * 2, requires_grad=True)
    b = torch.randn(10, requires_grad=True)
    grad = torch.randn(2, 6, 5, 10).to(dtype)
    grads = []
    for limit in (8, 0):
        monkeypatch.setattr(ops, "_SCATTER_MAX_WINDOW", limit)
        xi = x.clone().requires_grad_()
        batch_norm_max_pool(xi, None, 4, weight=w, bias=b).backward(grad)
        grads.append(xi.grad)
    assert torch.equal(grads[0], grads[1])


def test_batch_norm_max_pool_rejects_lengths_it_cannot_pool():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="multiple of 4"):
        batch_norm_max_pool(torch.randn(2, 3, 10), bn, 4)
    assert can_fuse_pool(4, 4, 8) and not can_fuse_pool(4, 4, 10)
    assert not can_fuse_pool(1, 1, 8) and not can_fuse_pool(4, 2, 8)


def test_keep_mask_rate_and_determinism():
    assert keep_threshold(0.9) == 58982 - 32768
    a = keep_mask((200, 30, 50), 0.9, torch.Generator().manual_seed(3))
    b = keep_mask((200, 30, 50), 0.9, torch.Generator().manual_seed(3))
    c = keep_mask((200, 30, 50), 0.9, torch.Generator().manual_seed(4))
    assert a.dtype == torch.bool and a.shape == (200, 30, 50)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(a.float().mean().item() - 0.9) < 0.003  # 300k draws: sd 0.0005
    assert abs(keep_mask((100_000,), 0.5).float().mean().item() - 0.5) < 0.01


def test_dropout_scales_kept_values_and_zeroes_the_rest():
    x = torch.ones(50, 40)
    y = dropout(x, 0.2, torch.Generator().manual_seed(0))
    kept = y != 0
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1.25))
    assert 0.75 < kept.float().mean().item() < 0.85
    assert dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))


def test_dropout_module_is_identity_in_eval_and_seeded_by_global_rng():
    layer = set_dropout_masks(nn.Sequential(Dropout(0.5)), "fast")[0]
    x = torch.randn(8, 16)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    torch.manual_seed(5)
    a = layer(x)
    torch.manual_seed(5)
    b = layer(x)
    assert torch.equal(a, b)
    assert ((a == 0) | torch.isclose(a, 2 * x)).all()
    torch.manual_seed(5)
    assert torch.equal(a, x * keep_mask(x.shape, 0.5).float() * 2)
    assert isinstance(layer, nn.Dropout)


def test_dropout_module_defaults_to_exactly_nn_dropout():
    x = torch.randn(8, 16)
    torch.manual_seed(6)
    ours = Dropout(0.3).train()(x)
    torch.manual_seed(6)
    stock = nn.Dropout(0.3).train()(x)
    assert torch.equal(ours, stock)
    with pytest.raises(ValueError, match="valid: bernoulli, fast"):
        set_dropout_masks(nn.Sequential(Dropout(0.1)), "philox")


def _reference_extrema(windows, minimum):
    """First max / first min of each window, by an explicit loop over windows."""
    t, n, c, w, _ = windows.shape
    values = torch.empty(t, n, c, w, dtype=torch.float64)
    index = torch.empty(t, n, c, w, dtype=torch.int64)
    for g in range(t):
        for ch in range(c):
            for i in range(n):
                for j in range(w):
                    row = windows[g, i, ch, j].double().tolist()
                    best = min(row) if minimum[g, ch] else max(row)
                    index[g, i, ch, j] = row.index(best)  # first occurrence
                    values[g, i, ch, j] = best
    return values, index


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("use_numba", [True, False])
def test_window_extrema_picks_the_first_extreme_of_each_window(dtype, use_numba, monkeypatch):
    if use_numba and not _numba.enabled():
        pytest.skip("numba not available")
    if not use_numba:
        monkeypatch.setattr(_numba, "kernel", lambda: None)
    gen = torch.Generator().manual_seed(3)
    # Small integers: many ties inside windows, where the first position must win.
    windows = torch.randint(-3, 4, (2, 5, 4, 3, 6), generator=gen).to(dtype)
    minimum = torch.tensor([[True, False, False, True], [False, False, True, False]])
    values, index = window_extrema(windows, minimum)
    ref_values, ref_index = _reference_extrema(windows, minimum)
    assert torch.equal(index, ref_index)
    assert torch.equal(values.double(), ref_values)
    assert values.shape == index.shape == (2, 5, 4, 3)


@pytest.mark.parametrize("use_numba", [True, False])
def test_window_extrema_orders_bf16_values_as_floats(use_numba, monkeypatch):
    """bf16 windows: negative values, signed zeros (equal, so the first one wins), infinities
    and values that differ in the last bit."""
    if use_numba and not _numba.enabled():
        pytest.skip("numba not available")
    if not use_numba:
        monkeypatch.setattr(_numba, "kernel", lambda: None)
    gen = torch.Generator().manual_seed(5)
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), -1e-38, 1e-38,
                            1.0078125, 1.0, -1.0078125, -1.0])
    picks = torch.randint(0, len(special), (3, 6, 5, 4, 7), generator=gen)
    windows = torch.where(torch.rand(picks.shape, generator=gen) < 0.5, special[picks],
                          torch.randn(picks.shape, generator=gen) * 3).to(torch.bfloat16)
    minimum = torch.rand(3, 5, generator=gen) < 0.5
    values, index = window_extrema(windows, minimum)
    ref_values, ref_index = _reference_extrema(windows, minimum)
    assert torch.equal(index, ref_index)
    assert torch.equal(values.double(), ref_values)
    # the selected element itself, sign of zero included
    chosen = torch.gather(windows, 4, index.unsqueeze(-1)).squeeze(-1)
    assert torch.equal(torch.signbit(values), torch.signbit(chosen))


def test_fused_pool_gradients_are_the_same_with_and_without_numba(monkeypatch):
    if not _numba.enabled():
        pytest.skip("numba not available")
    torch.manual_seed(4)
    x = torch.randn(8, 6, 40).round(decimals=1)  # ties: the gradient goes to the first one
    grads, outs = [], []
    for kernel in (_numba.kernel(), None):
        monkeypatch.setattr(_numba, "kernel", lambda k=kernel: k)
        bn = _pair(6, torch.float32)[0]
        xi = x.clone().requires_grad_()
        out = batch_norm_max_pool(xi, bn, 8)
        out.backward(torch.ones_like(out))
        outs.append(out.detach())
        grads.append((xi.grad, bn.weight.grad, bn.bias.grad))
    assert torch.equal(outs[0], outs[1])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def test_numba_can_be_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("MOTIFLENS_NUMBA", "0")
    monkeypatch.setattr(_numba, "_kernel", None)
    monkeypatch.setattr(_numba, "_failed", False)
    assert _numba.kernel() is None and not _numba.enabled()


@pytest.mark.parametrize("length,size,stride", [(200, 50, 2), (200, 3, 1), (17, 4, 3),
                                                (40, 7, 5), (10, 12, 2)])
def test_sliding_max_pool_equals_max_pool1d_on_the_padded_input(length, size, stride):
    from motiflens.models import SamePadMaxPool1d

    if _numba.pool_kernel() is None:
        pytest.skip("numba not available")
    pool = SamePadMaxPool1d(size, stride)
    left, right = pool.padding(length)
    gen = torch.Generator().manual_seed(length + size)
    # Rounded values: ties inside and across overlapping windows.
    x = torch.randn(3, 4, length, generator=gen, dtype=torch.float64).round(decimals=0)
    grad = torch.randn(3, 4, -(-length // stride), generator=gen, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = pool(xa)
    ref = F.max_pool1d(F.pad(xb, (left, right), value=float("-inf")), size, stride)
    out.backward(grad)
    ref.backward(grad)
    assert torch.equal(out, ref)
    assert torch.equal(xa.grad, xb.grad)
    # bf16: the same values; the gradients are summed in fp32 and rounded once (max_pool1d
    # sums them in bf16), so they equal the fp64 sums of the bf16 gradients, rounded.
    xh, xd = x.bfloat16().requires_grad_(), x.clone().requires_grad_()
    assert torch.equal(pool(xh), ref.detach().bfloat16())
    pool(xh).backward(grad.bfloat16())
    F.max_pool1d(F.pad(xd, (left, right), value=float("-inf")), size, stride).backward(
        grad.bfloat16().double())
    assert torch.equal(xh.grad, xd.grad.bfloat16())


def test_same_pad_pool_falls_back_to_pytorch_without_numba(monkeypatch):
    from motiflens.models import SamePadMaxPool1d

    x = torch.randn(2, 3, 30)
    expected = SamePadMaxPool1d(6, 2)(x)
    monkeypatch.setattr(_numba, "pool_kernel", lambda: None)
    assert torch.equal(SamePadMaxPool1d(6, 2)(x), expected)


def test_numba_disabled_block_uses_pytorch_and_restores(monkeypatch):
    if not _numba.enabled():
        pytest.skip("numba not available")
    with _numba.disabled():
        assert _numba.kernel() is None and _numba.pool_kernel() is None
    assert _numba.kernel() is not None and _numba.pool_kernel() is not None
