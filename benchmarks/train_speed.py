"""Training speed: seconds per epoch and achieved FLOP/s of the paper's CNNs.

For each model: 17,500 random one-hot sequences x 200 nt (the synthetic training set's size),
mini-batch 100, the paper protocol's Adam + L2 step (``motiflens.train``'s own epoch loop), one
short warm-up, then ``--epochs`` timed epochs. Achieved FLOP/s counts the conv and linear layers
analytically (batch norm, pooling and the optimizer are not counted):

- forward: 2 * MACs, with MACs = L_out * filters * in_channels * width per conv layer
  (stride 1, "same" padding, so L_out = the layer's input length) and in * out per linear layer;
- backward: 2 * MACs for the weight gradient plus 2 * MACs for the input gradient, except the
  first conv layer, whose input needs no gradient. So a step costs ~3x the forward FLOPs.

The same script measures fp32 matmul throughput (``torch.mm`` of two n x n matrices, 2 n^3 FLOPs
each) on the same device and threads, and reports each model's FLOP/s as a fraction of it.

Usage::

    python benchmarks/train_speed.py [--models CNN-1 CNN-2 CNN-25] [--epochs 1] [--device auto]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from motiflens.models import MODEL_NAMES, ModelSpec, build_model, model_spec
from motiflens.train import TrainConfig, _Batches, _penalised_weights, _train_epoch, resolve_device


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


def matmul_flops(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Achieved fp32 FLOP/s of ``torch.mm`` on n x n matrices."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device)
    b = torch.randn(n, n, generator=gen).to(device)
    for _ in range(2):
        torch.mm(a, b)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    _sync(device)
    return 2.0 * n**3 * repeats / (time.perf_counter() - t0)


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


def time_model(name: str, X: np.ndarray, Y: np.ndarray, device: torch.device, epochs: int,
               batch_size: int, warmup_batches: int = 20) -> dict[str, float]:
    """Seconds per training epoch of ``name`` and its achieved FLOP/s."""
    spec = model_spec(name, input_length=X.shape[-1], n_outputs=Y.shape[1])
    config = TrainConfig.for_protocol("paper", batch_size=batch_size, device=str(device))
    model = build_model(spec, seed=0).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas, eps=config.eps)
    weights = _penalised_weights(model)
    warm = _Batches(X[: warmup_batches * batch_size], Y[: warmup_batches * batch_size],
                    batch_size, config.stream_chunk, device)
    gen = torch.Generator().manual_seed(0)
    _train_epoch(model, optimizer, warm, gen, weights, config, 0, progress=False)
    batches = _Batches(X, Y, batch_size, config.stream_chunk, device)
    _sync(device)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        _train_epoch(model, optimizer, batches, gen, weights, config, epoch + 1, progress=False)
    _sync(device)
    seconds = (time.perf_counter() - t0) / epochs
    flops = train_flops_per_sequence(spec) * len(X) / seconds
    return {"seconds_per_epoch": seconds, "flops": flops,
            "gflop_per_epoch": train_flops_per_sequence(spec) * len(X) / 1e9}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["CNN-1", "CNN-2", "CNN-25"],
                        help=f"model names (of {', '.join(MODEL_NAMES)})")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per model")
    parser.add_argument("--n", type=int, default=17_500, help="training sequences")
    parser.add_argument("--length", type=int, default=200, help="sequence length")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--matmul-size", type=int, default=2048)
    args = parser.parse_args(argv)

    for name in args.models:
        model_spec(name)  # ConfigError listing the valid names before any timing
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    X, Y = random_onehot(args.n, args.length)
    peak = matmul_flops(device, args.matmul_size)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {device} ({where}); torch {torch.__version__}")
    print(f"fp32 matmul {args.matmul_size}x{args.matmul_size}: {peak / 1e9:.1f} GFLOP/s")
    print(f"{args.n} sequences x {args.length} nt, batch {args.batch_size}, "
          f"{args.epochs} timed epoch(s) after a warm-up\n")
    header = f"{'model':<12}{'s/epoch':>10}{'GFLOP/epoch':>13}{'GFLOP/s':>10}{'of matmul':>11}"
    print(header)
    print("-" * len(header))
    for name in args.models:
        r = time_model(name, X, Y, device, args.epochs, args.batch_size)
        print(f"{name:<12}{r['seconds_per_epoch']:>10.2f}{r['gflop_per_epoch']:>13.1f}"
              f"{r['flops'] / 1e9:>10.2f}{r['flops'] / peak:>10.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
