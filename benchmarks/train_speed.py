"""Training speed: seconds per epoch and achieved FLOP/s, baseline loop vs motiflens variants.

For each model: ``--n`` random one-hot sequences x 200 nt (17,500 = the synthetic training
set), mini-batch 100, one epoch per measurement after a short warm-up. Variants:

- ``baseline``: the plain fp32 PyTorch loop of ``benchmarks/baseline_loop.py``;
- ``fp32``: ``motiflens.train``'s epoch loop (multi-tensor Adam, L2 gradient in one fused call,
  loss read once per epoch, reshape-max pooling);
- ``bf16``: the same under ``torch.autocast(bfloat16)`` (``TrainConfig(precision="bf16")``);
- ``fp32-fast`` / ``bf16-fast`` / ``vec5-bf16-fast``: ``fp32`` / ``bf16`` / ``vec5-bf16`` with
  the opt-in 16-bit dropout masks (``TrainConfig(dropout_masks="fast")``);
- ``bf16-torch`` / ``vec5-bf16-torch``: ``bf16`` / ``vec5-bf16`` without the numba kernels
  (window max/min of the fused batch norm + pool, overlapping max-pool): PyTorch's
  ``max(dim)`` / ``max_pool1d`` instead - the "before" of those kernels;
- ``fp32-stock`` / ``bf16-stock``: ``fp32`` / ``bf16`` with the stock batch norm and pooling
  layers instead of the fused batch norm + max-pool of ``motiflens.ops``: the "before" of that
  optimisation;
- ``compiled`` / ``compiled-bf16``: the fp32 / bf16 loop through ``torch.compile`` (opt-in with
  ``--compile``: compiling takes tens of seconds per model on a small CPU, reported separately
  in the ``setup s`` column);
- ``vec5`` / ``vec5-bf16``: five trials trained together as one vectorised model
  (``motiflens.vectorized``), time per trial = group epoch time / 5.

Variants are measured in rotation (``--repeats`` rounds, each round runs every variant once),
and each variant's best round is reported, so background load hits all variants alike; the
speed-up column is ``baseline / variant``. Achieved FLOP/s counts the conv and linear layers
analytically (batch norm, pooling and the optimizer are not counted):

- forward: 2 * MACs, with MACs = L_out * filters * in_channels * width per conv layer
  (stride 1, "same" padding, so L_out = the layer's input length) and in * out per linear layer;
- backward: 2 * MACs for the weight gradient plus 2 * MACs for the input gradient, except the
  first conv layer, whose input needs no gradient. So a step costs ~3x the forward FLOPs.

The same run measures fp32 matmul throughput (``torch.mm`` of two n x n matrices, 2 n^3 FLOPs
each) on the same device and threads, and reports each variant's FLOP/s as a fraction of it.

Usage::

    python benchmarks/train_speed.py [--models CNN-1 CNN-25] [--variants baseline fp32 bf16 vec5]
        [--threads 1] [--repeats 2] [--n 17500] [--compile] [--device auto]
        [--malloc default|retain]

``--malloc retain`` runs everything (the baseline too) with glibc malloc keeping freed memory
for reuse, as ``motiflens train``/``reproduce`` and sweep workers do (``motiflens._malloc``):
fewer page faults on the large activation tensors, measured in a separate run from the default
(malloc settings are per process).
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from motiflens._machine import describe_machine, native_bf16

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_loop import baseline_epoch, make_baseline  # noqa: E402

from motiflens import _numba  # noqa: E402
from motiflens.models import MODEL_NAMES, ModelSpec, build_model, model_spec  # noqa: E402
from motiflens.ops import set_dropout_masks  # noqa: E402
from motiflens.train import Batches as _Batches  # noqa: E402
from motiflens.train import (TrainConfig, device_tensor, make_optimizer,  # noqa: E402
                             resolve_device)
from motiflens.train import penalised_weights as _penalised_weights  # noqa: E402
from motiflens.train import train_epoch as _train_epoch  # noqa: E402
from motiflens.vectorized import VectorizedCNN  # noqa: E402
from motiflens.vectorized import train_group_epoch as vectorized_epoch  # noqa: E402

VARIANTS = ("baseline", "fp32", "fp32-fast", "bf16", "bf16-fast", "bf16-torch", "fp32-stock",
            "bf16-stock", "compiled", "compiled-bf16", "vec5", "vec5-bf16", "vec5-bf16-fast",
            "vec5-bf16-torch")


def stock_layers(model: torch.nn.Module) -> torch.nn.Module:
    """Undo this package's training kernels (``motiflens.ops``) in ``model``: unfused batch norm
    + pool, ``nn.Dropout`` masks (``bernoulli_``) - the "before" of that optimisation."""
    for module in model.modules():
        if hasattr(module, "fuse_bn_pool"):
            module.fuse_bn_pool = False
    return set_dropout_masks(model, "bernoulli")
GROUP = 5


def macs_per_sequence(spec: ModelSpec) -> list[tuple[str, int]]:
    """Multiply-accumulates of each conv/linear layer for one sequence (forward pass)."""
    layers, channels, length = [], spec.in_channels, spec.input_length
    lengths = spec.lengths()
    for i, block in enumerate(spec.conv):
        layers.append((f"conv{i + 1}", length * block.filters * channels * block.width))
        channels, length = block.filters, lengths[i]
    features = spec.flat_features
    if spec.dense:
        layers.append(("dense", features * spec.dense))
        features = spec.dense
    layers.append(("output", features * spec.n_outputs))
    return layers


def train_flops_per_sequence(spec: ModelSpec) -> int:
    """Forward + backward FLOPs of one sequence (see the module docstring)."""
    total = 0
    for i, (_, macs) in enumerate(macs_per_sequence(spec)):
        total += 2 * macs * (2 if i == 0 else 3)
    return total


def matmul_flops(device: torch.device, n: int = 2048, repeats: int = 10,
                 dtype: torch.dtype = torch.float32) -> float:
    """Achieved FLOP/s of ``torch.mm`` on n x n matrices of ``dtype`` (best of 3 rounds)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device, dtype)
    b = torch.randn(n, n, generator=gen).to(device, dtype)
    for _ in range(2):
        torch.mm(a, b)
    best = 0.0
    for _ in range(3):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        _sync(device)
        best = max(best, 2.0 * n**3 * repeats / (time.perf_counter() - t0))
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_onehot(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``X (n, 4, length)`` random one-hot float32 and ``Y (n, 12)`` random labels."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 4, length), np.float32)
    X[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)] = 1.0
    Y = (rng.random((n, 12)) < 0.15).astype(np.float32)
    return X, Y


def _runner(variant: str, spec: ModelSpec, X: np.ndarray, Y: np.ndarray, device: torch.device,
            batch_size: int, warmup: int) -> tuple[Callable[[], None], float, int]:
    """(run one epoch, seconds of set-up incl. warm-up/compilation, trials per epoch)."""
    if variant.endswith("-torch"):  # the same variant with the numba kernels switched off
        with _numba.disabled():
            run, setup, trials = _runner(variant[:-len("-torch")], spec, X, Y, device,
                                         batch_size, warmup)

        def without_numba() -> None:
            with _numba.disabled():
                run()

        return without_numba, setup, trials
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    n_warm = warmup * batch_size
    if variant == "baseline":
        Xt, Yt = device_tensor(X, device).float(), device_tensor(Y, device).float()
        model, opt = make_baseline(spec, device)
        baseline_epoch(model, opt, Xt[:n_warm], Yt[:n_warm], batch_size, generator=gen)
        return (lambda: baseline_epoch(model, opt, Xt, Yt, batch_size, generator=gen),
                time.perf_counter() - t0, 1)
    masks = "fast" if variant.endswith("-fast") else "bernoulli"
    if variant in ("fp32", "fp32-fast", "bf16", "bf16-fast", "fp32-stock", "bf16-stock",
                   "compiled", "compiled-bf16"):
        config = TrainConfig.for_protocol("paper", batch_size=batch_size, device=str(device),
                                          precision="bf16" if "bf16" in variant else "fp32",
                                          dropout_masks=masks)
        model = set_dropout_masks(build_model(spec, seed=0).to(device), masks)
        if variant.endswith("-stock"):
            stock_layers(model)
        opt = make_optimizer(model.parameters(), config, device)
        weights = _penalised_weights(model)
        forward = torch.compile(model, dynamic=False) if variant.startswith("compiled") else model
        warm = _Batches(X[:n_warm], Y[:n_warm], batch_size, config.stream_chunk, device)
        _train_epoch(model, opt, warm, gen, weights, config, 0, False, forward=forward)
        batches = _Batches(X, Y, batch_size, config.stream_chunk, device)
        return (lambda: _train_epoch(model, opt, batches, gen, weights, config, 1, False,
                                     forward=forward), time.perf_counter() - t0, 1)
    if variant in ("vec5", "vec5-bf16", "vec5-bf16-fast"):
        config = TrainConfig.for_protocol("paper", batch_size=batch_size, device=str(device),
                                          precision="bf16" if "bf16" in variant else "fp32",
                                          dropout_masks=masks)
        states = [build_model(spec, seed=s).state_dict() for s in range(GROUP)]
        trials = [types.SimpleNamespace(shuffle=torch.Generator().manual_seed(s))
                  for s in range(GROUP)]
        model = VectorizedCNN.from_states(
            spec, states, [torch.Generator().manual_seed(100 + s) for s in range(GROUP)]
        ).to(device)
        model.dropout_masks = masks
        if device.type != "cpu":
            model.generators = None  # draw masks from the device RNG
        opt = make_optimizer(model.stacked_parameters(), config, device)
        Xt, Yt = device_tensor(X, device), device_tensor(Y, device)
        vectorized_epoch(model, opt, trials, Xt[:n_warm], Yt[:n_warm], config, device)
        return (lambda: vectorized_epoch(model, opt, trials, Xt, Yt, config, device),
                time.perf_counter() - t0, GROUP)
    raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")


def measure(specs: list[ModelSpec], variants: list[str], X: np.ndarray, Y: np.ndarray,
            device: torch.device, repeats: int, batch_size: int, warmup: int = 10
            ) -> dict[tuple[str, str], dict[str, float]]:
    """Best-of-``repeats`` seconds per epoch per trial of every (spec name, variant).

    Keys ``(spec.name, variant)``; values ``seconds`` (per epoch per trial), ``flops`` (achieved
    FLOP/s) and ``setup_s`` (build + warm-up, compilation included).
    """
    results: dict[tuple[str, str], dict[str, float]] = {}
    for spec in specs:
        name = spec.name
        runners = {v: _runner(v, spec, X, Y, device, batch_size, warmup) for v in variants}
        best = {v: float("inf") for v in variants}
        for _ in range(repeats):
            for v in variants:
                run, _, trials = runners[v]
                _sync(device)
                t0 = time.perf_counter()
                run()
                _sync(device)
                best[v] = min(best[v], (time.perf_counter() - t0) / trials)
        flops = train_flops_per_sequence(spec) * len(X)
        for v in variants:
            results[(name, v)] = {"seconds": best[v], "flops": flops / best[v],
                                  "setup_s": runners[v][1]}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["CNN-1", "CNN-2", "CNN-25"],
                        help=f"model names (of {', '.join(MODEL_NAMES)})")
    parser.add_argument("--variants", nargs="+", default=["baseline", "fp32", "bf16", "vec5",
                                                          "vec5-bf16"],
                        choices=VARIANTS)
    parser.add_argument("--compile", action="store_true", help="add the 'compiled' variant")
    parser.add_argument("--profile", action="store_true",
                        help="after the timings, print a per-op profile (torch.profiler, self "
                             "CPU time) of 5 training steps of each model's last variant: where "
                             "the time goes that the matmul rate does not explain")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of all variants")
    parser.add_argument("--n", type=int, default=17_500, help="training sequences")
    parser.add_argument("--length", type=int, default=200, help="sequence length")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--malloc", choices=["default", "retain"], default="default",
                        help="glibc malloc for the whole run (every variant, the baseline "
                             "too): its defaults, or 'retain' = freed memory kept for reuse, "
                             "as `motiflens train`/`reproduce` and sweep workers set it "
                             "(motiflens._malloc)")
    args = parser.parse_args(argv)
    malloc = apply_malloc(args.malloc)

    for name in args.models:
        model_spec(name)  # ConfigError listing the valid names before any timing
    variants = list(dict.fromkeys(
        args.variants + (["compiled", "compiled-bf16"] if args.compile else [])))
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(describe_machine())
    bf16_ok = device.type == "cuda" or native_bf16()
    if not bf16_ok:  # emulated bf16 is thousands of times slower: it would never finish
        dropped = [v for v in variants if "bf16" in v]
        variants = [v for v in variants if "bf16" not in v]
        if dropped:
            print(f"no native bf16 on this CPU: skipping {', '.join(dropped)}")
    X, Y = random_onehot(args.n, args.length)
    peak = matmul_flops(device, args.matmul_size)
    peak_bf16 = matmul_flops(device, args.matmul_size, dtype=torch.bfloat16) if bf16_ok \
        else float("nan")
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} thread(s)"
    print(f"device: {device} ({where}); torch {torch.__version__}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}; load average {_load()}")
    print(f"matmul {args.matmul_size}x{args.matmul_size}: fp32 {peak / 1e9:.1f} GFLOP/s, "
          f"bf16 {peak_bf16 / 1e9:.1f} GFLOP/s; malloc: {malloc}")
    print(f"{args.n} sequences x {args.length} nt, batch {args.batch_size}; best of "
          f"{args.repeats} rotation(s); vec5 = per trial of a 5-trial vectorised group\n")
    specs = [model_spec(name, input_length=args.length, n_outputs=Y.shape[1])
             for name in args.models]
    header = (f"{'model':<12}{'variant':<11}{'s/epoch':>9}{'speed-up':>10}{'GFLOP/s':>9}"
              f"{'of fp32 mm':>11}{'setup s':>9}")
    print(header)
    print("-" * len(header), flush=True)
    for spec in specs:  # one model at a time, printed as soon as it is measured
        name = spec.name
        results = measure([spec], variants, X, Y, device, args.repeats, args.batch_size)
        base = results.get((name, "baseline"), {}).get("seconds")
        for v in variants:
            r = results[(name, v)]
            speed = f"{base / r['seconds']:.2f}x" if base else "-"
            print(f"{name:<12}{v:<11}{r['seconds']:>9.2f}{speed:>10}{r['flops'] / 1e9:>9.1f}"
                  f"{r['flops'] / peak:>10.1%}{r['setup_s']:>9.1f}", flush=True)
        if args.profile:
            print_profile(spec, variants[-1], X[: 5 * args.batch_size], Y[: 5 * args.batch_size],
                          device, args.batch_size,
                          peak_bf16 if "bf16" in variants[-1] else peak)
    return 0


def conv_flops(spec: ModelSpec, n: int) -> tuple[float, float]:
    """(forward, backward) FLOPs of the conv layers for ``n`` sequences (the first layer's
    backward computes the weight gradient only)."""
    macs = [m for name, m in macs_per_sequence(spec) if name.startswith("conv")]
    forward = 2.0 * sum(macs) * n
    backward = 2.0 * (macs[0] + 2 * sum(macs[1:])) * n
    return forward, backward


def print_profile(spec: ModelSpec, variant: str, X: np.ndarray, Y: np.ndarray,
                  device: torch.device, batch_size: int, peak: float) -> None:
    """Self CPU time per op over 5 training steps of ``variant`` (after one warm-up step), then
    the rate of the convolution kernels alone against ``peak``, the matmul rate (FLOP/s) of the
    variant's arithmetic: a ceiling that no saving elsewhere in the step can raise."""
    from torch.profiler import ProfilerActivity, profile

    run, _, _ = _runner(variant, spec, X, Y, device, batch_size, warmup=1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    print(f"\nper-op profile, {spec.name} {variant}, 5 steps of {batch_size}:")
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=15), flush=True)
    self_s = {e.key: e.self_cpu_time_total / 1e6 for e in events}
    total = sum(self_s.values())
    fwd_s = self_s.get("aten::mkldnn_convolution", 0.0)
    bwd_s = self_s.get("aten::convolution_backward", 0.0)
    if fwd_s > 0 and bwd_s > 0 and total > 0:
        fwd, bwd = conv_flops(spec, len(X))
        print(f"convolution kernels alone: forward {fwd / fwd_s / 1e9:.1f} GFLOP/s "
              f"({fwd / fwd_s / peak:.0%} of the {variant} matmul rate), backward {bwd / bwd_s / 1e9:.1f} GFLOP/s "
              f"({bwd / bwd_s / peak:.0%}); {(fwd_s + bwd_s) / total:.0%} of the step's op time "
              "(the rest: batch norm, pooling, dropout, optimizer, casts)", flush=True)


def apply_malloc(mode: str) -> str:
    """Apply ``--malloc`` to this process; a description for the header."""
    if mode == "retain":
        from motiflens._malloc import retain_freed_memory

        return "retain (freed memory reused)" if retain_freed_memory() else \
            "glibc defaults (retain unavailable here)"
    return "glibc defaults"


def _load() -> str:
    try:
        import os

        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
