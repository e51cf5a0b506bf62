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

__all__ = ["as_tensor", "check_input", "check_one_hot", "eval_mode", "iter_batches",
           "model_device"]


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


def check_one_hot(X: Any, start: int = 0, what: str = "X") -> None:
    """Refuse sequences that are not one-hot DNA: NaN or infinite values anywhere; with 4
    channels, values other than 0/1 or two 1s at one position.

    Parameters
    ----------
    X : (N, C, L) numpy array or tensor
        A set (or a batch starting at sequence ``start`` of the set).

    Raises
    ------
    DatasetError
        Naming the first offending sequence (0-based, counted from the set's start), the
        position and what was found.
    """
    a = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
    if a.dtype.kind == "f":
        finite = np.isfinite(a).all(axis=(1, 2))
        if not finite.all():
            row = int(np.argmin(finite))
            channel, position = (int(i[0]) for i in np.nonzero(~np.isfinite(a[row])))
            raise DatasetError(f"{what}: sequence {start + row}: {a[row, channel, position]} at "
                               f"channel {channel}, position {position}; expected one-hot values")
    if a.shape[1] != 4:
        return
    binary = ((a == 0) | (a == 1)).all(axis=(1, 2))
    single = (a.sum(axis=1) <= 1).all(axis=1)
    ok = binary & single
    if ok.all():
        return
    row = int(np.argmin(ok))
    if not binary[row]:
        channel, position = (int(i[0]) for i in np.nonzero((a[row] != 0) & (a[row] != 1)))
        found = f"value {a[row, channel, position]:g} at channel {channel}, position {position}"
    else:
        position = int(np.argmax(a[row].sum(axis=0) > 1))
        found = f"{a[row, :, position].sum():g} ones at position {position}"
    raise DatasetError(f"{what}: sequence {start + row}: {found}; expected one-hot DNA (N, 4, L): "
                       "values 0/1, at most one 1 per position (rows A, C, G, T; all zeros = N)")


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
        ``X`` has the wrong shape (:func:`check_input`) or a batch is not one-hot
        (:func:`check_one_hot`).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size: expected a positive integer, got {batch_size!r}")
    n = check_input(X)
    for start in range(0, n, batch_size):
        batch = as_tensor(X[start:start + batch_size])
        check_one_hot(batch, start)
        yield start, batch


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
