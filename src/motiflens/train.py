"""Training with early stopping, resumable run directories, evaluation and prediction.

Two protocols (SPEC §3):

- ``"paper"`` (default, the paper's text): Adam, constant lr 3e-4, betas (0.9, 0.999),
  eps 1e-8, He-normal init, batch norm as in ``ModelSpec`` (eps 1e-3, momentum 0.1).
- ``"code"`` (the authors' code): Adam lr 1e-3, betas (0.95, 0.999), eps 1e-8, Glorot-uniform
  init, batch norm eps 1e-8 and momentum 0.01 (TensorFlow decay 0.99).

Both: mini-batch 100, up to 100 epochs, patience 20 epochs on the validation binary
cross-entropy (``patience=None`` runs all epochs), and the L2 penalty ``l2 * sum(w**2)`` over all
conv and linear weights (not biases, not batch norm), added to the loss as the code does (no
1/2). The penalty's gradient ``2 * l2 * w`` is added to the weight gradients directly, which is
the same update without building the term in the autograd graph. The weights kept are those of
the epoch with the lowest validation BCE (ties keep the earlier epoch).

A run directory holds::

    config.json     spec, train config, dataset path and config, provenance
    history.tsv     epoch, train_loss, valid_loss, valid_auroc, valid_aupr, seconds, lr
    checkpoint.pt   best weights: {state_dict, spec, train_config, epoch, valid_loss, provenance}
    last.pt         resume state: model, optimizer, best weights, patience counter, RNG states
    metrics.json    test (and best-epoch validation) per-class and mean AU-ROC / AU-PR

``train`` resumes from ``last.pt`` and reproduces the uninterrupted run exactly (on the CPU):
the RNG states of shuffling, dropout and the optimizer are all restored.

``train_loss`` in the history is the mean training BCE (dropout active, L2 term excluded), so it
can be compared with ``valid_loss``.

Randomness: three seeds are derived from ``TrainConfig.seed`` with ``numpy.random.SeedSequence``,
for the initial weights, the shuffling ``torch.Generator`` and dropout. Dropout draws from the
global torch RNG, so training runs inside ``torch.random.fork_rng``: the caller's global state is
restored afterwards. On the CPU, results are bitwise reproducible for a given number of threads
(``num_threads``; a different count changes the summation order, hence the last bits); on CUDA,
cuDNN is put in deterministic mode, but max-pool backward uses atomics, so GPU runs agree only to
rounding.

On a shared CPU, set ``num_threads`` to at most the number of idle cores: oversubscribed OpenMP
threads spin while waiting for each other and an epoch can become 10-20x slower.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens import _io
from motiflens.errors import ConfigError, FormatError
from motiflens.metrics import AUPR_METHODS, binary_cross_entropy, classification_metrics
from motiflens.models import ModelSpec, build_model, count_parameters, model_spec, spec_from_dict
from motiflens.ops import DROPOUT_MASKS, set_dropout_masks

__all__ = [
    "PROTOCOLS",
    "TrainConfig",
    "train",
    "evaluate",
    "predict",
    "predict_logits",
    "load_run",
    "load_checkpoint",
    "resolve_device",
    "HISTORY_COLUMNS",
    "PRECISIONS",
]

PROTOCOLS: dict[str, dict[str, Any]] = {
    "paper": {"lr": 3e-4, "betas": (0.9, 0.999), "eps": 1e-8, "init": "he",
              "bn_eps": None, "bn_momentum": None},
    "code": {"lr": 1e-3, "betas": (0.95, 0.999), "eps": 1e-8, "init": "glorot",
             "bn_eps": 1e-8, "bn_momentum": 0.01},
}

#: Training arithmetic: ``TrainConfig.precision`` -> autocast dtype (None: plain fp32).
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16, "auto": None}


def resolve_precision(precision: str, device: torch.device) -> str:
    """The arithmetic a training really uses: ``auto`` becomes the fastest one this hardware
    runs natively; an explicit ``bf16`` on a CPU that would emulate it is refused.

    ``auto``: on a CUDA device bf16 when the GPU supports it, else fp32; on a CPU bf16 only with
    AVX512-BF16 or AMX (:func:`motiflens._machine.native_bf16`), else fp32. On CPUs without them
    PyTorch emulates bf16 products, thousands of times slower than fp32.

    Raises
    ------
    ConfigError
        ``bf16`` on a CPU without native bf16 (naming the CPU and the flag that fixes it).
    """
    from motiflens._machine import cpu_model, native_bf16

    if device.type == "cuda":
        if precision == "auto":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return precision
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    if precision == "bf16" and not native_bf16():
        raise ConfigError(
            f"--precision bf16: this CPU ({cpu_model()}) has no native bf16 (AVX512-BF16 or "
            "AMX), so PyTorch would emulate it, thousands of times slower; use --precision fp32 "
            "or --precision auto")
    return precision

HISTORY_COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_auroc", "valid_aupr", "seconds", "lr")

# Config fields that may change between an interrupted run and its resumption.
_RESUMABLE_CHANGES = {"device", "num_threads", "max_epochs", "patience", "eval_batch_size",
                      "stream_chunk"}


@dataclass
class TrainConfig:
    """How to train a model.

    Parameters
    ----------
    protocol : {"paper", "code"}
        Which defaults ``for_protocol`` filled in (recorded; the fields below are what is used).
    lr, betas, eps : Adam settings.
    batch_size : int
        Mini-batch size (a final batch of a single sequence is dropped: batch norm needs two).
    max_epochs : int
    patience : int or None
        Stop after this many epochs without a lower validation loss; None never stops early.
    l2 : float
        Strength of ``l2 * sum(w**2)`` over conv and linear weights.
    init : {"he", "glorot"} or None
        Overrides ``ModelSpec.init`` when set.
    bn_eps, bn_momentum : float or None
        Override the spec's batch-norm settings when set.
    seed : int
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    num_threads : int or None
        CPU threads for torch during training (restored afterwards).
    eval_batch_size : int
        Batch size of evaluation and prediction.
    stream_chunk : int
        Sequences read per chunk when the training set is a lazy HDF5 dataset.
    aupr_method : {"average_precision", "trapezoid"}
    deterministic : bool
        cuDNN deterministic mode on CUDA (CPU runs are deterministic anyway).
    precision : {"fp32", "bf16", "fp16", "auto"}
        Arithmetic of the training forward/backward: ``"bf16"`` / ``"fp16"`` run them under
        ``torch.autocast`` (weights, optimizer state, batch-norm statistics and evaluation stay
        fp32; ``"fp16"`` is CUDA only and uses a gradient scaler). ``"bf16"`` needs a CPU with
        AVX512-BF16/AMX (or a GPU with bf16) to be faster; see ``benchmarks/train_speed.py``.
    dropout_masks : {"bernoulli", "fast"}
        How CPU training draws dropout masks: ``"bernoulli"`` (``nn.Dropout``, default) or
        ``"fast"`` (``motiflens.ops.keep_mask``: 16-bit random words, ~4x cheaper, keep
        probability rounded to 2**-16; statistically the same, numerically other masks).
    compile : bool
        Train through ``torch.compile(model)`` (fused elementwise kernels). Compilation costs
        tens of seconds per model on a small CPU: worth it for long runs of big models only.
        Dropout then draws from Inductor's random stream (still seeded by ``seed``).
    """

    protocol: str = "paper"
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    batch_size: int = 100
    max_epochs: int = 100
    patience: int | None = 20
    l2: float = 1e-6
    init: str | None = "he"
    bn_eps: float | None = None
    bn_momentum: float | None = None
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    eval_batch_size: int = 1000
    stream_chunk: int = 8192
    aupr_method: str = "average_precision"
    deterministic: bool = True
    precision: str = "fp32"
    compile: bool = False
    dropout_masks: str = "bernoulli"

    @classmethod
    def for_protocol(cls, name: str = "paper", **overrides: Any) -> "TrainConfig":
        """The defaults of protocol ``name`` ("paper" or "code"), with ``overrides`` applied.

        Raises
        ------
        ConfigError
            Unknown protocol or unknown override key (valid ones listed).
        """
        if name not in PROTOCOLS:
            raise ConfigError(f"protocol: unknown {name!r}; valid: {', '.join(PROTOCOLS)}")
        _check_keys(overrides, "train config")
        config = cls(protocol=name, **{**PROTOCOLS[name], **overrides})
        config.validate()
        return config

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Rebuild from ``to_dict()`` output (lists become tuples); unknown keys are errors."""
        if not isinstance(data, dict):
            raise ConfigError(f"train config: expected a mapping, got {type(data).__name__}")
        _check_keys(data, "train config")
        data = dict(data)
        if "betas" in data and data["betas"] is not None:
            data["betas"] = tuple(float(b) for b in data["betas"])
        config = cls(**data)
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return _io.to_jsonable(self)

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first bad key."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"protocol: unknown {self.protocol!r}; valid: {', '.join(PROTOCOLS)}")
        if not self.lr > 0:
            raise ConfigError(f"lr: expected > 0, got {self.lr!r}")
        if len(tuple(self.betas)) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas: expected two values in [0, 1), got {self.betas!r}")
        if not self.eps > 0:
            raise ConfigError(f"eps: expected > 0, got {self.eps!r}")
        for key in ("batch_size", "max_epochs", "eval_batch_size", "stream_chunk"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ConfigError("batch_size: expected >= 2 (batch norm needs two samples)")
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 1):
            raise ConfigError(f"patience: expected a positive integer or null, got {self.patience!r}")
        if not self.l2 >= 0:
            raise ConfigError(f"l2: expected >= 0, got {self.l2!r}")
        if self.init is not None and self.init not in ("he", "glorot"):
            raise ConfigError(f"init: unknown {self.init!r}; valid: he, glorot")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads: expected a positive integer, got {self.num_threads!r}")
        if self.aupr_method not in AUPR_METHODS:
            raise ConfigError(
                f"aupr_method: unknown {self.aupr_method!r}; valid: {', '.join(AUPR_METHODS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"precision: unknown {self.precision!r}; valid: {', '.join(PRECISIONS)}")
        if self.dropout_masks not in DROPOUT_MASKS:
            raise ConfigError(f"dropout_masks: unknown {self.dropout_masks!r}; valid: "
                              f"{', '.join(DROPOUT_MASKS)}")
        if not isinstance(self.compile, bool):
            raise ConfigError(f"compile: expected true or false, got {self.compile!r}")
        device = resolve_device(self.device)
        if self.precision == "fp16" and device.type != "cuda":
            raise ConfigError("precision: 'fp16' needs a CUDA device; use 'bf16' on the CPU")

    def apply_to(self, spec: ModelSpec) -> ModelSpec:
        """The spec with this config's ``init`` / ``bn_eps`` / ``bn_momentum`` overrides."""
        changes = {k: getattr(self, k) for k in ("init", "bn_eps", "bn_momentum")
                   if getattr(self, k) is not None}
        return spec.replace(**changes) if changes else spec


def _check_keys(data: dict[str, Any], what: str) -> None:
    valid = [f.name for f in dataclasses.fields(TrainConfig)]
    bad = sorted(set(data) - set(valid))
    if bad:
        raise ConfigError(f"{what}: unknown key(s) {bad}; valid: {', '.join(valid)}")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None -> CUDA if available else CPU; otherwise ``torch.device(device)``."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device: cannot parse {device!r}; valid: auto, cpu, cuda, cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} requested but CUDA is not available; use cpu or auto")
    return dev


# --------------------------------------------------------------------------------------------
# Data access
# --------------------------------------------------------------------------------------------

def _is_in_memory(array: Any) -> bool:
    return isinstance(array, (np.ndarray, torch.Tensor))


def _to_float_tensor(array: Any) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.float()
    return torch.from_numpy(np.ascontiguousarray(np.asarray(array), dtype=np.float32))


def _read_rows(array: Any, start: int, stop: int) -> torch.Tensor:
    """Rows ``[start, stop)`` of a numpy array, tensor or lazy (h5py) dataset, as float32."""
    return _to_float_tensor(array[start:stop])


#: Largest split (bytes as float32) that ``device_tensor`` copies onto an accelerator.
DEVICE_CACHE_BYTES = 2 * 1024**3


def device_tensor(array: Any, device: torch.device) -> torch.Tensor | None:
    """An in-memory array as a tensor resident on ``device``, or None to stream it instead.

    On an accelerator a one-hot / 0-1 array is stored as uint8 (4x smaller; batches are cast
    to float32 on the device, so no host round-trip per batch); other arrays as float32. On the
    CPU the float32 tensor shares memory with a float32 numpy array. Lazy (h5py) arrays and
    arrays over ``DEVICE_CACHE_BYTES`` on an accelerator give None.

    Parameters
    ----------
    array : (N, ...) numpy array or tensor
    device : torch.device
    """
    if not _is_in_memory(array):
        return None
    if device.type == "cpu":
        return _to_float_tensor(array)
    n_values = array.size if isinstance(array, np.ndarray) else array.numel()
    if n_values * 4 > DEVICE_CACHE_BYTES:
        return None
    tensor = torch.as_tensor(array)
    if tensor.dtype != torch.uint8:
        binary = bool(((tensor == 0) | (tensor == 1)).all())
        tensor = tensor.to(torch.uint8) if binary else tensor.float()
    return tensor.to(device)


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


def add_l2_grad(weights: Sequence[torch.Tensor], l2: float) -> None:
    """Add the gradient ``2 * l2 * w`` of the penalty ``l2 * sum(w**2)`` to each ``w.grad``."""
    if l2 > 0 and weights:
        with torch.no_grad():
            torch._foreach_add_([w.grad for w in weights], list(weights), alpha=2.0 * l2)


class _Batches:
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
        self.lazy = not (_is_in_memory(X) and _is_in_memory(Y))
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
            x, y = _read_rows(self.X, start, stop), _read_rows(self.Y, start, stop)
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


# --------------------------------------------------------------------------------------------
# Prediction and evaluation
# --------------------------------------------------------------------------------------------

def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def predict_logits(model: nn.Module, X: Any, device: str | torch.device | None = None,
                   batch_size: int = 1000) -> np.ndarray:
    """Logits ``(N, n_outputs)`` float32 for ``X`` ``(N, 4, L)`` (numpy, tensor or h5py dataset).

    The model is run in eval mode (its previous mode is restored) on ``device`` (default: where
    its parameters are).
    """
    device = _model_device(model) if device is None else resolve_device(device)
    was_training = model.training
    model.eval()
    try:
        out = []
        for start in range(0, len(X), batch_size):
            x = _read_rows(X, start, min(start + batch_size, len(X))).to(device)
            out.append(model(x).float())
        if not out:
            return np.zeros((0, getattr(getattr(model, "spec", None), "n_outputs", 0)), np.float32)
        return torch.cat(out).cpu().numpy()  # one device -> host copy
    finally:
        model.train(was_training)


def predict(model: nn.Module, X: Any, device: str | torch.device | None = None,
            batch_size: int = 1000) -> np.ndarray:
    """Probabilities ``sigmoid(logits)``, shape ``(N, n_outputs)`` float32, for ``X (N, 4, L)``."""
    logits = predict_logits(model, X, device=device, batch_size=batch_size)
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


def evaluate(model: nn.Module, split: Any, device: str | torch.device | None = None,
             batch_size: int = 1000, label_names: Sequence[str] | None = None,
             aupr_method: str = "average_precision") -> dict[str, Any]:
    """Per-class and mean AU-ROC / AU-PR and the mean BCE of ``model`` on ``split``.

    Parameters
    ----------
    model : nn.Module
        Returns logits ``(N, C)``.
    split : Split
        Has ``X (N, 4, L)`` and ``Y (N, C)`` (arrays or lazy h5py datasets).
    device : optional
        Where to run; default where the model is.
    label_names : list of str, optional
        Keys of the per-class dicts.

    Returns
    -------
    dict
        ``classification_metrics`` output plus ``loss`` (mean BCE). Classes with a single label
        value are NaN, excluded from the means and listed in ``undefined_classes``.
    """
    logits = predict_logits(model, split.X, device=device, batch_size=batch_size)
    y = np.asarray(split.Y[:] if not _is_in_memory(split.Y) else split.Y, dtype=np.float32)
    if y.shape != logits.shape:
        raise ConfigError(f"labels {y.shape} do not match model outputs {logits.shape}")
    result = classification_metrics(y, logits, label_names=label_names, aupr_method=aupr_method)
    result["loss"] = binary_cross_entropy(y, logits)
    return result


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _torch_state(config: TrainConfig, device: torch.device) -> Iterator[None]:
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


def _seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for (initial weights, shuffling, dropout)."""
    a, b, c = np.random.SeedSequence(int(seed)).generate_state(3)
    return int(a), int(b), int(c)


def _penalised_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _dataset_record(dataset: Any) -> dict[str, Any]:
    attrs = getattr(dataset, "attrs", None) or {}
    config = attrs.get("config")
    if isinstance(config, (str, bytes)):
        try:
            config = json.loads(config)
        except ValueError:
            pass
    path = getattr(dataset, "path", None)
    return {
        "path": str(Path(path).resolve()) if path else None,
        "config": config,
        "label_names": list(getattr(dataset, "label_names", []) or []),
        "sizes": {s: len(getattr(dataset, s).X) for s in ("train", "valid", "test")},
    }


def _check_compatible(spec: ModelSpec, dataset: Any) -> None:
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


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    with _io.atomic_open(path, "w") as handle:
        handle.write("\t".join(HISTORY_COLUMNS) + "\n")
        for row in rows:
            handle.write("\t".join(_fmt(row[c]) for c in HISTORY_COLUMNS) + "\n")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def _config_diff(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    # Keys added to TrainConfig later (precision, compile) take their defaults in older runs.
    defaults = TrainConfig().to_dict()
    saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
    keys = (set(saved) | set(current)) - _RESUMABLE_CHANGES
    return sorted(k for k in keys if saved.get(k) != current.get(k))


def _save(obj: Any, path: Path) -> None:
    with _io.atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_resume_state(out: Path, spec_dict: dict[str, Any], config_dict: dict[str, Any]
                      ) -> dict[str, Any]:
    """Read ``out/last.pt`` and check it belongs to the same spec and train config.

    Raises
    ------
    ConfigError
        The directory holds a run of another model spec or with other train settings
        (keys in ``_RESUMABLE_CHANGES`` may differ).
    """
    saved = _load_torch(out / "last.pt")
    if saved.get("spec") != spec_dict:
        raise ConfigError(f"{out}: holds a run of a different model spec; pass --no-resume "
                          "(resume=False) to overwrite it or choose another --out directory")
    diff = _config_diff(saved.get("train_config", {}), config_dict)
    if diff:
        raise ConfigError(f"{out}: holds a run with different train config key(s) {diff}; "
                          "pass --no-resume (resume=False) to overwrite it or choose another "
                          "--out directory")
    return saved


def train(spec: ModelSpec | str, dataset: Any, config: TrainConfig | None = None,
          out_dir: str | Path = "run", resume: bool = True, progress: bool = True,
          callback: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train ``spec`` on ``dataset`` with early stopping and write the run directory.

    Parameters
    ----------
    spec : ModelSpec or str
        The architecture; a name (``"CNN-25"``) is built for the dataset's length and classes.
    dataset : Dataset
        ``train`` / ``valid`` / ``test`` splits with ``X (N, 4, L)`` and ``Y (N, C)``;
        ``label_names``, ``attrs`` and ``path`` are recorded when present.
    config : TrainConfig, optional
        Default ``TrainConfig()`` (the paper protocol).
    out_dir : path
        Run directory (created).
    resume : bool
        Continue from ``out_dir/last.pt`` when present (the spec and config must match, except
        for device, threads, max_epochs and patience); a finished run is returned as is.
        False starts afresh, overwriting the run files.
    progress : bool
        Show a tqdm bar per epoch (training loss, then validation AU-ROC).
    callback : callable, optional
        Called with each epoch's history row after the epoch's files are written.

    Returns
    -------
    dict
        The content of ``metrics.json`` plus ``run_dir``.
    """
    config = config if config is not None else TrainConfig()
    config.validate()
    if isinstance(spec, str):
        shape = tuple(dataset.train.X.shape)
        spec = model_spec(spec, input_length=int(shape[-1]), n_outputs=int(dataset.train.Y.shape[1]))
    spec = config.apply_to(spec)
    spec.validate()
    _check_compatible(spec, dataset)
    label_names = list(getattr(dataset, "label_names", None) or [])
    if len(label_names) != spec.n_outputs:
        label_names = [str(i) for i in range(spec.n_outputs)]

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in
             ("config.json", "history.tsv", "checkpoint.pt", "last.pt", "metrics.json")}
    device = resolve_device(config.device)
    config = dataclasses.replace(config, precision=resolve_precision(config.precision, device))
    spec_dict, config_dict = spec.to_dict(), config.to_dict()

    saved = None
    if resume and paths["last.pt"].exists():
        saved = load_resume_state(out, spec_dict, config_dict)
        finished = saved["stopped_early"] or saved["epoch"] >= config.max_epochs
        if finished and paths["metrics.json"].exists():
            metrics = _io.read_json(paths["metrics.json"])
            return {**metrics, "run_dir": str(out)}
    else:  # a fresh start: no file of an earlier run may survive next to the new ones
        for name in ("history.tsv", "checkpoint.pt", "last.pt", "metrics.json"):
            paths[name].unlink(missing_ok=True)

    prov = _io.provenance(seed=config.seed)

    init_seed, shuffle_seed, dropout_seed = _seeds(config.seed)
    with _torch_state(config, device):
        torch.manual_seed(dropout_seed)
        model = build_model(spec, generator=torch.Generator().manual_seed(init_seed)).to(device)
        set_dropout_masks(model, config.dropout_masks)
        n_params = count_parameters(model)
        optimizer = make_optimizer(model.parameters(), config, device)
        scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
        shuffle = torch.Generator().manual_seed(shuffle_seed)
        state: dict[str, Any] = {
            "epoch": 0, "best_loss": math.inf, "best_epoch": 0, "since": 0,
            "stopped_early": False, "history": [], "wall_time": 0.0,
        }
        best_state = _cpu_state(model)
        if saved is not None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            best_state = saved["best_state"]
            shuffle.set_state(saved["rng"]["shuffle"])
            torch.set_rng_state(saved["rng"]["torch"])
            if device.type == "cuda" and saved["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(saved["rng"]["cuda"], device)
            if scaler is not None and saved.get("scaler"):
                scaler.load_state_dict(saved["scaler"])
            state.update({k: saved[k] for k in state})
        _io.write_json(paths["config.json"], {
            "spec": spec_dict, "train_config": config_dict, "dataset": _dataset_record(dataset),
            "device": str(device), "n_parameters": n_params, "provenance": prov,
        })

        batches = _Batches(dataset.train.X, dataset.train.Y, config.batch_size,
                           config.stream_chunk, device)
        valid_split = _device_split(dataset.valid, device)
        weights = _penalised_weights(model)
        forward = torch.compile(model, dynamic=False) if config.compile else model
        epoch = state["epoch"]
        while not state["stopped_early"] and epoch < config.max_epochs:
            epoch += 1
            t0 = time.perf_counter()
            train_loss = _train_epoch(model, optimizer, batches, shuffle, weights, config,
                                      epoch, progress, forward=forward, scaler=scaler)
            valid = evaluate(model, valid_split, batch_size=config.eval_batch_size,
                             aupr_method=config.aupr_method)
            seconds = time.perf_counter() - t0
            row = {"epoch": epoch, "train_loss": train_loss, "valid_loss": valid["loss"],
                   "valid_auroc": valid["mean_auroc"], "valid_aupr": valid["mean_aupr"],
                   "seconds": seconds, "lr": optimizer.param_groups[0]["lr"]}
            if progress:
                _progress_line(row, config.max_epochs)
            state["history"].append(row)
            state["wall_time"] += seconds
            state["epoch"] = epoch
            if valid["loss"] < state["best_loss"]:
                state.update(best_loss=valid["loss"], best_epoch=epoch, since=0)
                best_state = _cpu_state(model)
                _save({"state_dict": best_state, "spec": spec_dict, "train_config": config_dict,
                       "epoch": epoch, "valid_loss": float(valid["loss"]),
                       "provenance": _io.to_jsonable(prov)}, paths["checkpoint.pt"])
            else:
                state["since"] += 1
            if config.patience is not None and state["since"] >= config.patience:
                state["stopped_early"] = True
            _write_history(paths["history.tsv"], state["history"])
            rng = {"shuffle": shuffle.get_state(), "torch": torch.get_rng_state(),
                   "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}
            extra = {"scaler": scaler.state_dict()} if scaler is not None else {}
            _save({"model": _cpu_state(model), "optimizer": optimizer.state_dict(),
                   "best_state": best_state, "rng": rng, "spec": spec_dict,
                   "train_config": config_dict, **extra, **state}, paths["last.pt"])
            if callback is not None:
                callback(dict(row))

        t0 = time.perf_counter()
        model.load_state_dict(best_state)
        test = evaluate(model, dataset.test, batch_size=config.eval_batch_size,
                        label_names=label_names, aupr_method=config.aupr_method)
        valid = evaluate(model, dataset.valid, batch_size=config.eval_batch_size,
                         label_names=label_names, aupr_method=config.aupr_method)
        state["wall_time"] += time.perf_counter() - t0

    metrics = {
        "model": spec.name,
        "n_parameters": n_params,
        "label_names": label_names,
        "test": test,
        "valid": valid,
        "best_epoch": state["best_epoch"],
        "best_valid_loss": state["best_loss"],
        "epochs_run": state["epoch"],
        "stopped_early": state["stopped_early"],
        "wall_time_s": state["wall_time"],
        "device": str(device),
        "provenance": prov,
    }
    _io.write_json(paths["metrics.json"], metrics)
    return {**_io.to_jsonable(metrics), "run_dir": str(out)}


def _device_split(split: Any, device: torch.device) -> Any:
    """``split`` with its X resident on an accelerator (uint8) when it fits; as is on the CPU."""
    if device.type == "cpu":
        return split
    X = device_tensor(split.X, device)
    if X is None:
        return split
    import types

    return types.SimpleNamespace(X=X, Y=split.Y)


def _train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, batches: _Batches,
                 generator: torch.Generator, weights: list[torch.Tensor], config: TrainConfig,
                 epoch: int, progress: bool, forward: Callable[[torch.Tensor], torch.Tensor]
                 | None = None, scaler: Any = None) -> float:
    """One pass of mini-batch Adam; returns the mean training BCE (per sequence).

    Parameters
    ----------
    forward : callable, optional
        What computes the logits (e.g. ``torch.compile(model)``); default ``model``.
    scaler : torch.amp.GradScaler, optional
        Loss scaling for fp16 training.

    The loss is accumulated on the device and read once, at the end of the epoch (no host
    synchronisation per batch unless ``progress`` shows a running loss).
    """
    from tqdm.auto import tqdm

    forward = model if forward is None else forward
    model.train()
    device = batches.device
    total = torch.zeros((), dtype=torch.float64, device=device)
    seen = 0
    bar = tqdm(batches.epoch(generator), total=len(batches), disable=not progress, leave=False,
               desc=f"epoch {epoch}/{config.max_epochs}", unit="batch", dynamic_ncols=True)
    for step, (x, y) in enumerate(bar):
        optimizer.zero_grad(set_to_none=True)
        with autocast(config.precision, device):
            logits = forward(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        add_l2_grad(weights, config.l2)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        total += loss.detach() * len(x)
        seen += len(x)
        if progress and step % 20 == 0:
            bar.set_postfix(loss=f"{total.item() / seen:.4f}")
    bar.close()
    return float(total.item() / max(seen, 1))


def _progress_line(row: dict[str, Any], max_epochs: int) -> None:
    from tqdm.auto import tqdm

    tqdm.write(f"epoch {row['epoch']}/{max_epochs}  train_loss {row['train_loss']:.4f}  "
               f"valid_loss {row['valid_loss']:.4f}  valid_auroc {row['valid_auroc']:.4f}  "
               f"valid_aupr {row['valid_aupr']:.4f}  {row['seconds']:.1f}s", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

def _load_torch(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FormatError(path, "file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise FormatError(path, f"not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise FormatError(path, f"expected a dict checkpoint, found {type(obj).__name__}")
    return obj


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a ``checkpoint.pt`` with ``weights_only=True`` and check its keys."""
    path = Path(path)
    ckpt = _load_torch(path)
    missing = [k for k in ("state_dict", "spec", "train_config", "epoch") if k not in ckpt]
    if missing:
        raise FormatError(path, f"checkpoint lacks key(s) {missing}")
    return ckpt


def load_run(run_dir: str | Path, device: str | torch.device = "cpu"
             ) -> tuple[nn.Module, ModelSpec, TrainConfig]:
    """The best model of a run directory, in eval mode, with its spec and train config.

    Raises
    ------
    FormatError
        The directory or its ``checkpoint.pt`` is missing or unreadable.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise FormatError(run, "run directory not found")
    path = run / "checkpoint.pt"
    if not path.exists():
        raise FormatError(path, "no checkpoint.pt: not a finished or started training run")
    ckpt = load_checkpoint(path)
    try:
        spec = spec_from_dict(ckpt["spec"])
        config = TrainConfig.from_dict(ckpt["train_config"])
    except ConfigError as exc:
        raise FormatError(path, f"invalid stored config: {exc}") from None
    model = build_model(spec)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise FormatError(path, f"weights do not fit the stored spec: {exc}") from None
    model.to(resolve_device(device)).eval()
    return model, spec, config



def unfinished_reason(run_dir: str | Path) -> str | None:
    """Why a run directory's training is not finished, or None when it is.

    A run is finished when ``metrics.json`` exists (written as training's last step); a run
    stopped early (killed, interrupted) has a ``checkpoint.pt`` of its best epoch so far.
    """
    run = Path(run_dir)
    if (run / "metrics.json").is_file():
        return None
    history = run / "history.tsv"
    epochs = max(0, len(history.read_text().splitlines()) - 1) if history.is_file() else 0
    return (f"training did not finish (no metrics.json; {epochs} epoch(s) in history.tsv): "
            "these are the best weights so far; rerun `motiflens train` with the same --out "
            "to resume")
