"""Feeding sequences to any PyTorch model: input checks, float32 batches, device, eval mode.

The small helpers every interpretation shares (layer tracing, filter motifs, filter importance,
null models, attribution): they take ``(N, C, L)`` arrays of any kind (numpy, h5py dataset,
tensor) and a model whose mode they leave as they found it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from motiflens.errors import ConfigError, DatasetError

__all__ = ["as_tensor", "check_input", "eval_mode", "iter_batches", "model_device"]


def check_input(X: Any) -> int:
    """Validate the shape of a set of sequences and return its size.

    Parameters
    ----------
    X : (N, C, L) array-like
        Numpy array, h5py dataset or tensor; one-hot DNA has C = 4.

    Returns
    -------
    int
        N.

    Raises
    ------
    DatasetError
        Not 3-D, channels last ``(N, L, 4)``, or empty.
    """
    shape = tuple(getattr(X, "shape", ()))
    if len(shape) != 3:
        raise DatasetError(f"sequences: expected an array of shape (N, 4, L), got shape {shape}")
    if shape[2] == 4 and shape[1] != 4:
        raise DatasetError(
            f"sequences: expected an array of shape (N, 4, L) (one-hot rows A, C, G, T), got "
            f"shape {shape}, which looks like (N, L, 4) (channels last): pass "
            "X.transpose(0, 2, 1) (numpy) or x.transpose(1, 2) (torch)")
    if shape[0] == 0:
        raise DatasetError("sequences: the set is empty (N = 0)")
    return int(shape[0])


def as_tensor(batch: Any) -> torch.Tensor:
    """A float32 CPU tensor (same shape) from a numpy array, h5py slice or tensor."""
    if isinstance(batch, torch.Tensor):
        return batch.detach().to("cpu", torch.float32)
    return torch.from_numpy(np.asarray(batch, dtype=np.float32))


def iter_batches(X: Any, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, batch)`` for ``X`` (N, C, L), batch ``(B, C, L)`` float32 on the CPU.

    Raises
    ------
    ConfigError
        ``batch_size < 1``.
    DatasetError
        ``X`` has the wrong shape (:func:`check_input`).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size: expected a positive integer, got {batch_size!r}")
    n = check_input(X)
    for start in range(0, n, batch_size):
        yield start, as_tensor(X[start:start + batch_size])


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for a stateless model."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode; restore each one's own flag afterwards."""
    states = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in states:
            module.training = training
