"""What the single-model and the multi-trial trainer share for their optimisation steps.

Randomness: three seeds are derived from ``TrainConfig.seed`` with ``numpy.random.SeedSequence``
(:func:`derive_seeds`), for the initial weights, the shuffling ``torch.Generator`` and dropout.
Dropout draws from the global torch RNG in single runs, so training runs inside
:func:`torch_state` (``torch.random.fork_rng``): the caller's global state is restored
afterwards. On the CPU, results are bitwise reproducible for a given number of threads
(``num_threads``; a different count changes the summation order, hence the last bits); on CUDA,
cuDNN is put in deterministic mode, but max-pool backward uses atomics, so GPU runs agree only
to rounding.

The L2 penalty's gradient ``2 * l2 * w`` is added to the weight gradients directly
(:func:`add_l2_grad`), which is the same update as adding ``l2 * sum(w**2)`` to the loss without
building the term in the autograd graph.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from motiflens.train.config import PRECISIONS, TrainConfig

__all__ = ["add_l2_grad", "autocast", "derive_seeds", "make_optimizer", "make_scaler",
           "penalised_weights", "torch_state"]


def derive_seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for (initial weights, shuffling, dropout)."""
    a, b, c = np.random.SeedSequence(int(seed)).generate_state(3)
    return int(a), int(b), int(c)


@contextlib.contextmanager
def torch_state(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """Fork the global RNG (dropout) and set threads/cuDNN flags; restore all on exit."""
    devices = [device.index or 0] if device.type == "cuda" else []
    threads = torch.get_num_threads()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    with torch.random.fork_rng(devices=devices):
        try:
            if config.num_threads:
                torch.set_num_threads(config.num_threads)
            if device.type == "cuda" and config.deterministic:
                torch.backends.cudnn.deterministic = True
                torch.backends.cudnn.benchmark = False
            yield
        finally:
            torch.set_num_threads(threads)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """A fresh ``torch.autocast`` context for ``precision`` (a no-op context for "fp32")."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def make_optimizer(params: Any, config: TrainConfig, device: torch.device
                   ) -> torch.optim.Adam:
    """Adam with the config's settings: the fused kernel on CUDA, multi-tensor on the CPU.

    All implementations compute the same update (elementwise); they differ in speed only
    (and in the last bits of rounding).
    """
    impl = {"fused": True} if device.type == "cuda" else {"foreach": True}
    return torch.optim.Adam(params, lr=config.lr, betas=tuple(config.betas), eps=config.eps,
                            **impl)


def make_scaler(config: TrainConfig) -> torch.amp.GradScaler | None:
    """The gradient scaler of fp16 training (None for every other precision)."""
    return torch.amp.GradScaler("cuda") if config.precision == "fp16" else None


def penalised_weights(model: nn.Module) -> list[torch.Tensor]:
    """The conv and linear weights of a single model (what the L2 penalty covers)."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]


def add_l2_grad(weights: Sequence[torch.Tensor], l2: float) -> None:
    """Add the gradient ``2 * l2 * w`` of the penalty ``l2 * sum(w**2)`` to each ``w.grad``."""
    if l2 > 0 and weights:
        with torch.no_grad():
            torch._foreach_add_([w.grad for w in weights], list(weights), alpha=2.0 * l2)


def backward_and_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                      scaler: torch.amp.GradScaler | None, weights: Sequence[torch.Tensor],
                      l2: float) -> None:
    """One optimisation step: backward (through the fp16 scaler when there is one), the L2
    gradient added in place, then the optimizer step. Shared by the single and the multi-trial
    loops, so both take the same step in the same order."""
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    add_l2_grad(weights, l2)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
