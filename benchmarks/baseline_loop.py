"""The reference baseline: a plain fp32 PyTorch training loop (no motiflens trainer tricks).

An ``nn.Sequential`` of the paper's layers (conv -> BN -> ReLU -> TF-"SAME" max-pool ->
dropout, flatten, dense -> BN -> ReLU -> dropout, linear), in-memory mini-batches cut from one
``randperm`` per epoch (no DataLoader), ``torch.optim.Adam`` with default settings
(single-tensor implementation), ``zero_grad()``, BCE-with-logits loss plus the L2 term built in
the autograd graph, and ``loss.item()`` every batch - what a straightforward PyTorch script
does. Every speed figure in ``benchmarks/`` is a ratio against :func:`baseline_epoch` measured
in the same run.

Usage (one epoch of a few models)::

    python benchmarks/baseline_loop.py --models CNN-1 CNN-25 --threads 1
"""

from __future__ import annotations

from motiflens._machine import describe_machine  # noqa: E402

import argparse
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens.models import ModelSpec, model_spec, same_pool_length


class TFSamePool(nn.Module):
    """Max-pool with TensorFlow "SAME" padding: ``(N, C, L) -> (N, C, ceil(L / stride))``."""

    def __init__(self, size: int, stride: int) -> None:
        super().__init__()
        self.size, self.stride = size, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.size == 1 and self.stride == 1:
            return x
        length = x.shape[-1]
        out = same_pool_length(length, self.stride)
        total = max((out - 1) * self.stride + self.size - length, 0)
        x = F.pad(x, (total // 2, total - total // 2), value=float("-inf"))
        return F.max_pool1d(x, self.size, self.stride)


def baseline_model(spec: ModelSpec, seed: int = 0) -> nn.Sequential:
    """The architecture of ``spec`` as a plain ``nn.Sequential`` (He-normal init).

    Shapes: ``(N, 4, L) -> (N, n_outputs)`` logits.
    """
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    channels = spec.in_channels
    for block in spec.conv:
        layers += [nn.Conv1d(channels, block.filters, block.width, padding="same", bias=False),
                   nn.BatchNorm1d(block.filters, eps=spec.bn_eps, momentum=spec.bn_momentum),
                   nn.ReLU(), TFSamePool(block.pool_size, block.stride), nn.Dropout(block.dropout)]
        channels = block.filters
    layers.append(nn.Flatten())
    features = spec.flat_features
    if spec.dense:
        layers += [nn.Linear(features, spec.dense, bias=False),
                   nn.BatchNorm1d(spec.dense, eps=spec.bn_eps, momentum=spec.bn_momentum),
                   nn.ReLU(), nn.Dropout(spec.dense_dropout)]
        features = spec.dense
    layers.append(nn.Linear(features, spec.n_outputs))
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=gen)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def baseline_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor,
                   Y: torch.Tensor, batch_size: int = 100, l2: float = 1e-6,
                   generator: torch.Generator | None = None) -> float:
    """One epoch of the plain loop; returns the mean training loss.

    Parameters
    ----------
    X : (N, 4, L) float32 tensor, on the model's device
    Y : (N, C) float32 tensor
    """
    model.train()
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    perm = torch.randperm(len(X), generator=generator).to(X.device)
    total, seen = 0.0, 0
    for i in range(0, len(X), batch_size):
        idx = perm[i:i + batch_size]
        if len(idx) < 2:
            continue
        x, y = X[idx], Y[idx]
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss = loss + l2 * sum((w ** 2).sum() for w in weights)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
        seen += len(idx)
    return total / max(seen, 1)


def make_baseline(spec: ModelSpec, device: torch.device | str = "cpu", seed: int = 0,
                  lr: float = 3e-4) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The baseline model on ``device`` with its (default, single-tensor) Adam."""
    model = baseline_model(spec, seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=False)
    return model, optimizer


def time_baseline(spec: ModelSpec, X: torch.Tensor, Y: torch.Tensor, epochs: int = 1,
                  batch_size: int = 100, warmup_batches: int = 10) -> float:
    """Seconds per epoch of the baseline loop (after a short warm-up)."""
    model, optimizer = make_baseline(spec, X.device)
    gen = torch.Generator().manual_seed(0)
    n = warmup_batches * batch_size
    baseline_epoch(model, optimizer, X[:n], Y[:n], batch_size, generator=gen)
    if X.device.type == "cuda":
        torch.cuda.synchronize(X.device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        baseline_epoch(model, optimizer, X, Y, batch_size, generator=gen)
    if X.device.type == "cuda":
        torch.cuda.synchronize(X.device)
    return (time.perf_counter() - t0) / epochs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["CNN-1", "CNN-25"])
    parser.add_argument("--n", type=int, default=17_500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (args.n, 200))]
                         .transpose(0, 2, 1).copy())
    Y = torch.from_numpy((rng.random((args.n, 12)) < 0.15).astype(np.float32))
    for name in args.models:
        seconds = time_baseline(model_spec(name), X, Y)
        print(f"{name:<12} {seconds:7.2f} s/epoch (baseline, {args.threads} thread(s))", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
