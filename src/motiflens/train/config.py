"""How to train: ``TrainConfig``, the two protocols, the device and the training arithmetic.

Two protocols (docs/PAPER.md §3):

- ``"paper"`` (default, the paper's text): Adam, constant lr 3e-4, betas (0.9, 0.999),
  eps 1e-8, He-normal init, batch norm as in ``ModelSpec`` (eps 1e-3, momentum 0.1).
- ``"code"`` (the authors' code): Adam lr 1e-3, betas (0.95, 0.999), eps 1e-8, Glorot-uniform
  init, batch norm eps 1e-8 and momentum 0.01 (TensorFlow decay 0.99).

Both: mini-batch 100, up to 100 epochs, patience 20 epochs on the validation binary
cross-entropy (``patience=None`` runs all epochs), and the L2 penalty ``l2 * sum(w**2)`` over all
conv and linear weights (not biases, not batch norm), added to the loss as the code does (no
1/2).

A ``TrainConfig`` holds two kinds of fields (:data:`PROTOCOL_FIELDS`, :data:`RUNTIME_FIELDS`):

- the **scientific protocol**, what defines the experiment and its result (optimizer,
  batch size, epochs, early stopping, L2, initialisation, batch norm, AU-PR method, seed);
- **runtime settings**, how this machine executes it (device, threads, evaluation batch size,
  streaming chunk, cuDNN determinism, arithmetic precision, compilation, dropout-mask drawing).
  Most change only speed; ``precision``, ``compile`` and ``dropout_masks`` also change the
  rounding or the random draws, so they are recorded next to the protocol.

On disk (``config.json``'s and the checkpoints' ``train_config``) the config stays one flat
mapping of all fields, as it always was: ``to_dict() == {**protocol_dict(), **runtime_dict()}``,
and ``from_dict`` reads both that and older records without the fields added since (they take
their defaults).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from motiflens import _io
from motiflens.errors import ConfigError
from motiflens.metrics import AUPR_METHODS
from motiflens.models import ModelSpec
from motiflens.ops import DROPOUT_MASKS

__all__ = ["PROTOCOLS", "PRECISIONS", "PROTOCOL_FIELDS", "RUNTIME_FIELDS", "TrainConfig",
           "resolve_device", "resolve_precision"]

PROTOCOLS: dict[str, dict[str, Any]] = {
    "paper": {"lr": 3e-4, "betas": (0.9, 0.999), "eps": 1e-8, "init": "he",
              "bn_eps": None, "bn_momentum": None},
    "code": {"lr": 1e-3, "betas": (0.95, 0.999), "eps": 1e-8, "init": "glorot",
             "bn_eps": 1e-8, "bn_momentum": 0.01},
}

#: Training arithmetic: ``TrainConfig.precision`` -> autocast dtype (None: plain fp32).
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16, "auto": None}

#: The scientific protocol: what an experiment is (``protocol`` names the defaults used).
PROTOCOL_FIELDS = ("protocol", "lr", "betas", "eps", "batch_size", "max_epochs", "patience",
                   "l2", "init", "bn_eps", "bn_momentum", "aupr_method", "seed")
#: Runtime settings: how this machine runs it.
RUNTIME_FIELDS = ("device", "num_threads", "eval_batch_size", "stream_chunk", "deterministic",
                  "precision", "compile", "dropout_masks")


@dataclass
class TrainConfig:
    """How to train a model.

    Scientific protocol (:data:`PROTOCOL_FIELDS`, ``protocol_dict()``)
    ------------------------------------------------------------------
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
    aupr_method : {"average_precision", "trapezoid"}
    seed : int

    Runtime settings (:data:`RUNTIME_FIELDS`, ``runtime_dict()``)
    -------------------------------------------------------------
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    num_threads : int or None
        CPU threads for torch during training (restored afterwards).
    eval_batch_size : int
        Batch size of evaluation and prediction.
    stream_chunk : int
        Sequences read per chunk when the training set is a lazy HDF5 dataset.
    deterministic : bool
        cuDNN deterministic mode on CUDA (CPU runs are deterministic anyway).
    precision : {"fp32", "bf16", "fp16", "auto"}
        Arithmetic of the training forward/backward: ``"bf16"`` / ``"fp16"`` run them under
        ``torch.autocast`` (weights, optimizer state, batch-norm statistics and evaluation stay
        fp32; ``"fp16"`` is CUDA only and uses a gradient scaler). ``"bf16"`` needs a CPU with
        AVX512-BF16/AMX (or a GPU with bf16) to be faster; see ``benchmarks/train_speed.py``.
    compile : bool
        Train through ``torch.compile(model)`` (fused elementwise kernels). Compilation costs
        tens of seconds per model on a small CPU: worth it for long runs of big models only.
        Dropout then draws from Inductor's random stream (still seeded by ``seed``).
    dropout_masks : {"bernoulli", "fast"}
        How CPU training draws dropout masks: ``"bernoulli"`` (``nn.Dropout``, default) or
        ``"fast"`` (``motiflens.ops.keep_mask``: 16-bit random words, ~4x cheaper, keep
        probability rounded to 2**-16; statistically the same, numerically other masks).

    The field order (hence ``to_dict()``'s key order) is that of every earlier version.
    """

    protocol: str = "paper"                  # protocol
    lr: float = 3e-4                         # protocol
    betas: tuple[float, float] = (0.9, 0.999)  # protocol
    eps: float = 1e-8                        # protocol
    batch_size: int = 100                    # protocol
    max_epochs: int = 100                    # protocol
    patience: int | None = 20                # protocol
    l2: float = 1e-6                         # protocol
    init: str | None = "he"                  # protocol
    bn_eps: float | None = None              # protocol
    bn_momentum: float | None = None         # protocol
    seed: int = 0                            # protocol
    device: str = "auto"                     # runtime
    num_threads: int | None = None           # runtime
    eval_batch_size: int = 1000              # runtime
    stream_chunk: int = 8192                 # runtime
    aupr_method: str = "average_precision"   # protocol
    deterministic: bool = True               # runtime
    precision: str = "fp32"                  # runtime
    compile: bool = False                    # runtime
    dropout_masks: str = "bernoulli"         # runtime

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
        """Rebuild from ``to_dict()`` output (lists become tuples); unknown keys are errors.

        Also reads ``{**protocol_dict(), **runtime_dict()}`` (the same mapping) and records
        written before a field existed (missing keys take their defaults).
        """
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
        """JSON-ready dict of all fields (tuples become lists): the on-disk format."""
        return _io.to_jsonable(self)

    def protocol_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the scientific-protocol fields (:data:`PROTOCOL_FIELDS`)."""
        data = self.to_dict()
        return {k: data[k] for k in PROTOCOL_FIELDS}

    def runtime_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the runtime settings (:data:`RUNTIME_FIELDS`)."""
        data = self.to_dict()
        return {k: data[k] for k in RUNTIME_FIELDS}

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
    if dev.type not in ("cpu", "cuda"):  # mps, xpu, ...: not supported (and torch says so badly)
        raise ConfigError(f"device: {device!r} is not supported; valid: auto, cpu, cuda, cuda:N "
                          "(--device)")
    return dev


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
