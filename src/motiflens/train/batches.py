"""The data side of training: checking a dataset against a spec, device-resident copies of
splits, and the shuffled mini-batches of an epoch (in memory or streamed from HDF5)."""

from __future__ import annotations

import types
from typing import Any, Iterator

import numpy as np
import torch

from motiflens.errors import ConfigError
from motiflens.models import ModelSpec, model_spec
from motiflens.train.config import TrainConfig

__all__ = ["Batches", "DEVICE_CACHE_BYTES", "check_compatible", "device_split", "device_tensor",
           "in_memory", "is_in_memory", "label_names_for", "read_rows", "resolve_spec"]

#: Largest split (bytes as float32) that ``device_tensor`` copies onto an accelerator.
DEVICE_CACHE_BYTES = 2 * 1024**3


# --------------------------------------------------------------------------------------------
# Dataset and spec
# --------------------------------------------------------------------------------------------

def resolve_spec(spec: ModelSpec | str, dataset: Any, config: TrainConfig) -> ModelSpec:
    """The spec to train: a name (``"CNN-25"``) is built for the dataset's length and classes,
    ``config``'s init / batch-norm overrides are applied, and the dataset is checked against it.

    Raises
    ------
    ConfigError
        Invalid spec, or a split whose shapes do not fit it.
    """
    if isinstance(spec, str):
        shape = tuple(dataset.train.X.shape)
        spec = model_spec(spec, input_length=int(shape[-1]), n_outputs=int(dataset.train.Y.shape[1]))
    spec = config.apply_to(spec)
    spec.validate()
    check_compatible(spec, dataset)
    return spec


def check_compatible(spec: ModelSpec, dataset: Any) -> None:
    """Raise ``ConfigError`` unless every split has ``X (N, C_in, L)`` and ``Y (N, n_outputs)``
    of ``spec`` (and the training split at least two sequences)."""
    for name in ("train", "valid", "test"):
        split = getattr(dataset, name)
        shape = tuple(split.X.shape)
        if len(shape) != 3 or shape[1:] != (spec.in_channels, spec.input_length):
            raise ConfigError(
                f"dataset {name} X has shape {shape}, model {spec.name!r} expects "
                f"(N, {spec.in_channels}, {spec.input_length}); build the spec with "
                f"input_length={shape[-1] if len(shape) == 3 else '?'}")
        y_shape = tuple(split.Y.shape)
        if len(y_shape) != 2 or y_shape[1] != spec.n_outputs or y_shape[0] != shape[0]:
            raise ConfigError(
                f"dataset {name} Y has shape {y_shape} for {shape[0]} sequences; model "
                f"{spec.name!r} has n_outputs={spec.n_outputs}")
        if len(split.X) < 2 and name == "train":
            raise ConfigError("dataset train split: at least 2 sequences are needed")


def label_names_for(dataset: Any, n_outputs: int) -> list[str]:
    """The dataset's label names, or ``"0"``, ``"1"``, ... when they do not fit the outputs."""
    names = list(getattr(dataset, "label_names", None) or [])
    if len(names) != n_outputs:
        names = [str(i) for i in range(n_outputs)]
    return names


# --------------------------------------------------------------------------------------------
# Arrays and devices
# --------------------------------------------------------------------------------------------

def is_in_memory(array: Any) -> bool:
    """True for numpy arrays and tensors, False for lazy (h5py) datasets."""
    return isinstance(array, (np.ndarray, torch.Tensor))


def in_memory(array: Any) -> Any:
    """``array`` itself when in memory, else all of it read into a numpy array."""
    return array if is_in_memory(array) else np.asarray(array[:])


def _to_float_tensor(array: Any) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.float()
    return torch.from_numpy(np.ascontiguousarray(np.asarray(array), dtype=np.float32))


def read_rows(array: Any, start: int, stop: int) -> torch.Tensor:
    """Rows ``[start, stop)`` of a numpy array, tensor or lazy (h5py) dataset, as float32."""
    return _to_float_tensor(array[start:stop])


def device_tensor(array: Any, device: torch.device, compact: bool | None = None
                  ) -> torch.Tensor | None:
    """An in-memory array as a tensor resident on ``device``, or None to stream it instead.

    On an accelerator a one-hot / 0-1 array is stored as uint8 (4x smaller; batches are cast
    to float32 on the device, so no host round-trip per batch); other arrays as float32. On the
    CPU the float32 tensor shares memory with a float32 numpy array. Lazy (h5py) arrays and
    arrays over ``DEVICE_CACHE_BYTES`` on an accelerator give None.

    Parameters
    ----------
    array : (N, ...) numpy array or tensor
    device : torch.device
    compact : bool, optional
        Store as on an accelerator (uint8 when 0/1, size limit); default: on accelerators only.
        ``True`` on the CPU runs the accelerator's data path there (tests do).
    """
    if not is_in_memory(array):
        return None
    if compact is None:
        compact = device.type != "cpu"
    if not compact:
        return _to_float_tensor(array)
    n_values = array.size if isinstance(array, np.ndarray) else array.numel()
    if n_values * 4 > DEVICE_CACHE_BYTES:
        return None
    tensor = torch.as_tensor(array)
    if tensor.dtype != torch.uint8:
        binary = bool(((tensor == 0) | (tensor == 1)).all())
        tensor = tensor.to(torch.uint8) if binary else tensor.float()
    return tensor.to(device)


def device_split(split: Any, device: torch.device) -> Any:
    """``split`` with its X resident on an accelerator (uint8) when it fits; as is on the CPU."""
    if device.type == "cpu":
        return split
    X = device_tensor(split.X, device)
    if X is None:
        return split
    return types.SimpleNamespace(X=X, Y=split.Y)


# --------------------------------------------------------------------------------------------
# Mini-batches
# --------------------------------------------------------------------------------------------

class Batches:
    """Shuffled training mini-batches of a split, in memory or streamed from a lazy dataset.

    In memory: one ``randperm`` per epoch. Lazy: the chunk order is shuffled, each chunk of
    ``chunk`` contiguous rows is read, shuffled in memory and cut into batches (a remainder is
    carried into the next chunk so every batch but the last is full).
    """

    def __init__(self, X: Any, Y: Any, batch_size: int, chunk: int, device: torch.device):
        self.n = len(X)
        self.batch_size = batch_size
        self.chunk = chunk
        self.device = device
        self.lazy = not (is_in_memory(X) and is_in_memory(Y))
        if self.lazy:
            self.X, self.Y = X, Y
        else:
            # The whole set on the accelerator when it fits (uint8 one-hot), else in host memory.
            on_device = device_tensor(X, device)
            if on_device is not None:
                self.X, self.Y = on_device, device_tensor(Y, device)
            else:
                self.X, self.Y = _to_float_tensor(X), _to_float_tensor(Y)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest >= 2 else 0)

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x (B, 4, L), y (B, C))`` on the device for one pass over the data."""
        source = self._lazy_epoch(generator) if self.lazy else self._memory_epoch(generator)
        for x, y in source:
            if len(x) < 2:
                continue
            yield (x.to(self.device, non_blocking=True).float(),
                   y.to(self.device, non_blocking=True).float())

    def _memory_epoch(self, generator: torch.Generator):
        perm = torch.randperm(self.n, generator=generator)
        if self.X.device != perm.device:
            perm = perm.to(self.X.device)
        for i in range(0, self.n, self.batch_size):
            idx = perm[i:i + self.batch_size]
            yield self.X[idx], self.Y[idx]

    def _lazy_epoch(self, generator: torch.Generator):
        starts = list(range(0, self.n, self.chunk))
        order = torch.randperm(len(starts), generator=generator).tolist()
        carry_x = carry_y = None
        for c in order:
            start, stop = starts[c], min(starts[c] + self.chunk, self.n)
            x, y = read_rows(self.X, start, stop), read_rows(self.Y, start, stop)
            perm = torch.randperm(stop - start, generator=generator)
            x, y = x[perm], y[perm]
            if carry_x is not None:
                x, y = torch.cat([carry_x, x]), torch.cat([carry_y, y])
            full = (len(x) // self.batch_size) * self.batch_size
            for i in range(0, full, self.batch_size):
                yield x[i:i + self.batch_size], y[i:i + self.batch_size]
            carry_x, carry_y = x[full:], y[full:]
        if carry_x is not None and len(carry_x):
            yield carry_x, carry_y
