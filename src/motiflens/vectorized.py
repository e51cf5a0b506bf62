"""Train k independent trials of one architecture as one vectorised model.

The k trials of a ``ModelSpec`` (same architecture and train config, different seeds) are
stacked into one :class:`VectorizedCNN` whose every parameter has a leading trial axis:

- conv layers take the trials' stacked channels ``(B, k * C_in, L)`` -> ``(B, k * F, L)``: one
  grouped ``conv1d`` (``groups=k``) on accelerators, one oneDNN convolution per trial on the
  CPU (where grouped convolutions are slower than k plain ones);
- batch norm over the ``k * F`` stacked channels is per channel, hence per trial;
- activations, the TF-"SAME" max-pool and dropout are elementwise / per channel (the
  activation runs after the pool, which is exact for the non-decreasing activations);
- the dense and output layers are batched matrix products (``bmm``) over ``(k, B, features)``.

The loss is the sum of the trials' mean BCEs, so each trial's gradient is exactly its own, and
one Adam over the stacked parameters equals k separate Adams (Adam and the L2 gradient are
elementwise). Each trial keeps everything a single run (:func:`motiflens.train.train`) has:

- the same initial weights (``build_model`` with the trial's init seed, then stacked),
- the same batch order (its own shuffle generator and one ``randperm`` per epoch: the batch is
  gathered as ``(k, B, 4, L)``), the same dropout masks (its own dropout generator, drawn in the
  single model's order and dtype), so a trial's numbers differ from its single run only by the
  rounding of differently ordered sums (CPU);
- its own early stopping and best weights. A trial that stops is removed from the group and
  the others go on as a smaller group (parameters and Adam moments sliced), so stopped trials
  cost nothing.

Outputs are identical in layout to single runs: per trial a run directory with
``config.json`` (plus a ``vectorized`` record), ``checkpoint.pt`` (a normal single-model
``state_dict``, loadable by ``train.load_run``), ``history.tsv``, ``metrics.json`` and
``last.pt`` in the single-run format (model, Adam state, best weights, RNG states). Resuming
reads the trials' ``last.pt`` files and re-stacks them; a trial interrupted alone can also be
continued by :func:`motiflens.train.train` and vice versa. When a group is resumed whole it
reproduces the uninterrupted run bit for bit on the CPU (same thread count); trials whose
``last.pt`` files stand at different epochs (a kill between two trials' writes) resume as
separate subgroups, equal to the uninterrupted run up to rounding.

History ``seconds`` of a trial is its share of the group's epoch time (the epoch's wall time
divided by the number of trials in the group), so per-trial costs add up to the wall time.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens import _io
from motiflens.errors import ConfigError
from motiflens.metrics import binary_cross_entropy, classification_metrics
from motiflens.ops import batch_norm_max_pool, can_fuse_pool, keep_mask
from motiflens.models import (ACTIVATIONS, NON_DECREASING, ModelSpec, MotifCNN, SamePadMaxPool1d, build_model,
                              count_parameters, model_spec)
from motiflens.train import (TrainConfig, _check_compatible, _cpu_state, _dataset_record,
                             _save, _seeds, _torch_state, _write_history,
                             add_l2_grad, autocast, device_tensor, evaluate, load_resume_state,
                             make_optimizer, resolve_device, resolve_precision)

__all__ = ["VectorizedCNN", "train_trials", "stack_states"]

_RUN_FILES = ("config.json", "history.tsv", "checkpoint.pt", "last.pt", "metrics.json")


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

def _key(name: str) -> str:
    """Parameter/buffer attribute name for a single-model state_dict name (no dots allowed)."""
    return name.replace(".", "__")


def stack_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack k single-model state_dicts into ``{name: (k, *shape)}``."""
    return {name: torch.stack([s[name] for s in states]) for name in states[0]}


class VectorizedCNN(nn.Module):
    """k independent ``MotifCNN`` s of one spec, computed together.

    Every parameter and buffer of the single model, under its state_dict name, is held with a
    leading trial axis ``(k, *shape)`` (``num_batches_tracked``: ``(k,)``), in the single
    model's parameter order (so Adam states map index by index).

    Parameters
    ----------
    spec : ModelSpec
    k : int
        Number of trials.
    generators : list of torch.Generator, optional
        Per-trial dropout generators (training mode); without them dropout draws from the
        global RNG, all trials at once.

    Shapes: ``(k, B, 4, L)`` (a batch per trial) or ``(B, 4, L)`` (the same batch for every
    trial) ``-> (k, B, n_outputs)`` logits.
    """

    def __init__(self, spec: ModelSpec, k: int,
                 generators: Sequence[torch.Generator] | None = None) -> None:
        super().__init__()
        spec.validate()
        if k < 1:
            raise ConfigError(f"trials: expected >= 1, got {k}")
        self.spec, self.k = spec, int(k)
        self.generators = list(generators) if generators is not None else None
        self.dropout_masks = "bernoulli"  # or "fast": see TrainConfig.dropout_masks
        #: "auto" (grouped on accelerators, per trial on the CPU), "grouped" or "loop".
        self.conv_impl = "auto"
        with torch.random.fork_rng(devices=[]):
            template = MotifCNN(spec)  # only for names and shapes
        self.param_names = [n for n, _ in template.named_parameters()]
        self.buffer_names = [n for n, _ in template.named_buffers()]
        self.state_names = list(template.state_dict())
        for name, p in template.named_parameters():
            self.register_parameter(_key(name), nn.Parameter(
                p.detach().unsqueeze(0).repeat(k, *([1] * p.dim())).contiguous()))
        for name, b in template.named_buffers():
            self.register_buffer(_key(name), b.detach().unsqueeze(0).repeat(
                k, *([1] * b.dim())).contiguous())
        odd = [b.activation for b in spec.conv if b.activation not in NON_DECREASING]
        if odd:
            raise ConfigError(
                f"vectorised training applies each activation after its pool, exact only for "
                f"non-decreasing activations; {spec.name} uses {', '.join(sorted(set(odd)))}: "
                "train without --vectorize")
        self.acts = nn.ModuleList(ACTIVATIONS[b.activation]() for b in spec.conv)
        self.pools = nn.ModuleList(SamePadMaxPool1d(b.pool_size, b.stride) for b in spec.conv)

    # ---------------------------------------------------------------- state conversion
    @classmethod
    def from_states(cls, spec: ModelSpec, states: Sequence[dict[str, torch.Tensor]],
                    generators: Sequence[torch.Generator] | None = None) -> "VectorizedCNN":
        """Stack k single-model ``state_dict`` s (e.g. of ``build_model``) into one model."""
        model = cls(spec, len(states), generators)
        model.load_stacked(stack_states(states))
        return model

    def load_stacked(self, stacked: dict[str, torch.Tensor]) -> None:
        """Copy ``{single-model name: (k, *shape)}`` tensors into the parameters/buffers."""
        with torch.no_grad():
            for name in self.param_names + self.buffer_names:
                getattr(self, _key(name)).copy_(stacked[name])

    def trial_state(self, t: int) -> dict[str, torch.Tensor]:
        """Trial ``t`` as a single-model ``state_dict`` (CPU copies, ``MotifCNN`` key order)."""
        return {name: getattr(self, _key(name))[t].detach().to("cpu", copy=True)
                for name in self.state_names}

    def stacked_parameters(self) -> list[nn.Parameter]:
        """Parameters in the single model's ``parameters()`` order."""
        return [getattr(self, _key(n)) for n in self.param_names]

    def penalised_weights(self) -> list[nn.Parameter]:
        """The conv and linear weights (what the L2 penalty covers)."""
        return [getattr(self, _key(n)) for n in self.param_names
                if n.endswith("conv.weight") or n in ("dense.weight", "output.weight")]

    # ---------------------------------------------------------------- forward
    def _p(self, name: str) -> torch.Tensor:
        return getattr(self, _key(name))

    def _batch_norm(self, h: torch.Tensor, prefix: str) -> torch.Tensor:
        """Batch norm of ``h (B, k * C, ...)`` with per-trial statistics and affine maps."""
        mean, var = self._p(f"{prefix}.running_mean"), self._p(f"{prefix}.running_var")
        if self.training:
            with torch.no_grad():
                self._p(f"{prefix}.num_batches_tracked").add_(1)
        return F.batch_norm(h, mean.view(-1), var.view(-1), self._p(f"{prefix}.weight").view(-1),
                            self._p(f"{prefix}.bias").view(-1), self.training,
                            self.spec.bn_momentum, self.spec.bn_eps)

    def _batch_norm_pool(self, h: torch.Tensor, prefix: str, pool: SamePadMaxPool1d
                         ) -> torch.Tensor:
        """``pool(batch_norm(h))`` of ``h (B, k * F, L)``; fused (``motiflens.ops``) in training
        where it applies."""
        if not (self.training and can_fuse_pool(pool.size, pool.stride, h.shape[-1])):
            return pool(self._batch_norm(h, prefix))
        with torch.no_grad():
            self._p(f"{prefix}.num_batches_tracked").add_(1)
        return batch_norm_max_pool(h, None, pool.size, **self._bn_args(prefix))

    def _bn_args(self, prefix: str, trial: int | None = None) -> dict[str, Any]:
        """Keyword arguments of ``batch_norm_max_pool`` for all trials or one trial."""
        args: dict[str, Any] = {
            name: (self._p(f"{prefix}.{name}") if trial is None
                   else self._p(f"{prefix}.{name}")[trial]).reshape(-1)
            for name in ("weight", "bias", "running_mean", "running_var")}
        return {**args, "momentum": self.spec.bn_momentum, "eps": self.spec.bn_eps}

    def _per_trial_block(self, x: torch.Tensor, w: torch.Tensor, prefix: str,
                         pool: SamePadMaxPool1d) -> torch.Tensor:
        """conv -> fused batch norm + pool of each trial's own batch ``x (k, B, C, L)`` (CPU,
        training): ``(B, k * F, L')``. Each trial's full-length tensors stay contiguous and
        only the pooled outputs are concatenated."""
        with torch.no_grad():
            self._p(f"{prefix}.num_batches_tracked").add_(1)
        return torch.cat([batch_norm_max_pool(F.conv1d(xt, w[t], padding="same"), None,
                                              pool.size, **self._bn_args(prefix, t))
                          for t, xt in enumerate(x)], dim=1)

    def _grouped(self, h: torch.Tensor) -> bool:
        return self.conv_impl == "grouped" or (self.conv_impl == "auto"
                                               and h.device.type != "cpu")

    def _conv(self, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """"Same" convolution of each trial's channels: ``(B, k * C, L) -> (B, k * F, L)``.

        The first layer may also take ``(k, B, C, L)`` (each trial's own batch).

        ``w`` is ``(k, F, C, width)``. On CUDA one grouped convolution (one kernel for all
        trials); on the CPU one oneDNN convolution per trial (grouped convolutions are up to
        2x slower there than k ordinary ones), concatenated.
        """
        grouped = self._grouped(h)
        if h.dim() == 4:  # (k, B, C, L), each trial's own batch
            if not grouped:
                return torch.cat([F.conv1d(x, w[t], padding="same") for t, x in enumerate(h)],
                                 dim=1)
            h = h.transpose(0, 1).reshape(h.shape[1], -1, h.shape[3])
        if grouped:
            return F.conv1d(h, w.reshape(-1, *w.shape[2:]), padding="same", groups=self.k)
        parts = h.chunk(self.k, dim=1)
        return torch.cat([F.conv1d(x, w[t], padding="same") for t, x in enumerate(parts)], dim=1)

    def _dropout(self, h: torch.Tensor, p: float, trial_dim: int) -> torch.Tensor:
        """Inverted dropout with each trial's mask drawn from its own generator.

        ``h`` holds the trials along ``trial_dim`` (0: ``(k, B, D)``; 1: ``(B, k * F, L)``);
        trial t's mask has the single model's shape and dtype and is drawn as the single model
        draws it on the CPU: ``bernoulli_(1 - p)`` then ``/ (1 - p)`` (``nn.Dropout``), or with
        ``dropout_masks = "fast"`` ``keep_mask`` then ``* 1 / (1 - p)`` (``motiflens.ops``).
        """
        if not self.training or p == 0:
            return h
        if self.generators is None:
            return F.dropout(h, p, training=True)
        k = self.k
        if trial_dim == 0:
            shape = h.shape[1:]
        else:
            shape = (h.shape[0], h.shape[1] // k, *h.shape[2:])
        if self.dropout_masks == "fast":
            masks = [keep_mask(shape, 1 - p, g, h.device).to(h.dtype) for g in self.generators]
        else:
            masks = [torch.empty(shape, dtype=h.dtype, device=h.device).bernoulli_(
                1 - p, generator=g) for g in self.generators]
        mask = torch.stack(masks, dim=trial_dim)
        if trial_dim == 1:
            mask = mask.reshape(h.shape)
        if self.dropout_masks == "fast":
            return h * mask.mul_(torch.tensor(1.0 / (1.0 - p), dtype=h.dtype, device=h.device))
        return h * mask.div_(1 - p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(k, B, n_outputs)`` of every trial."""
        spec, k = self.spec, self.k
        if x.dim() == 3:
            h = x.repeat(1, k, 1)  # (B, k * C, L): every trial sees the same batch
        elif x.dim() == 4 and x.shape[0] == k:
            h = x  # (k, B, C, L): _conv takes each trial's contiguous batch as it is
        else:
            raise ConfigError(f"VectorizedCNN: expected (B, C, L) or ({k}, B, C, L), "
                              f"got {tuple(x.shape)}")
        for i, block in enumerate(spec.conv):
            # Every activation of ACTIVATIONS is non-decreasing, so act(pool(z)) equals
            # pool(act(z)) in value and gradient (the window's first maximum gets it: for ReLU a
            # window whose maximum is <= 0 passes no gradient either way; a saturated activation
            # can only move a near-zero gradient between tied positions): the activation then
            # runs on the pooled, pool_size times smaller tensor.
            w, prefix, pool = self._p(f"blocks.{i}.conv.weight"), f"blocks.{i}.bn", self.pools[i]
            if h.dim() == 4 and self.training and not self._grouped(h) \
                    and can_fuse_pool(pool.size, pool.stride, h.shape[-1]):
                h = self._per_trial_block(h, w, prefix, pool)
            else:
                h = self._batch_norm_pool(self._conv(h, w), prefix, pool)
            h = self.acts[i](h)
            h = self._dropout(h, block.dropout, trial_dim=1)
        batch = h.shape[0]
        h = h.reshape(batch, k, -1).transpose(0, 1)  # (k, B, F * L_n), the single flatten order
        if spec.dense > 0:
            h = torch.bmm(h, self._p("dense.weight").transpose(1, 2))  # (k, B, D)
            flat = h.transpose(0, 1).reshape(batch, -1)  # (B, k * D)
            h = F.relu(self._batch_norm(flat, "dense_bn")).reshape(batch, k, -1).transpose(0, 1)
            h = self._dropout(h, spec.dense_dropout, trial_dim=0)
        return torch.baddbmm(self._p("output.bias").unsqueeze(1), h,
                             self._p("output.weight").transpose(1, 2))


# --------------------------------------------------------------------------------------------
# Optimizer state conversion (single-run Adam <-> stacked Adam)
# --------------------------------------------------------------------------------------------

def _stack_optimizer(optimizer: torch.optim.Optimizer, params: Sequence[nn.Parameter],
                     singles: Sequence[dict[str, Any] | None]) -> None:
    """Load k single-run Adam ``state_dict`` s into ``optimizer`` over the stacked ``params``."""
    if all(s is None or not s.get("state") for s in singles):
        return
    if any(s is None or not s.get("state") for s in singles):
        raise ConfigError("vectorised resume: trials of one group must all have optimizer state")
    for j, p in enumerate(params):
        states = [s["state"][j] for s in singles]
        steps = {float(st["step"]) for st in states}
        if len(steps) != 1:
            raise ConfigError(f"vectorised resume: Adam steps differ between trials ({steps})")
        # The fused (CUDA) Adam keeps its step counter on the parameters' device.
        where = p.device if optimizer.defaults.get("fused") else torch.device("cpu")
        optimizer.state[p] = {
            "step": states[0]["step"].detach().clone().to(where, torch.float32),
            "exp_avg": torch.stack([st["exp_avg"] for st in states]).to(p.device),
            "exp_avg_sq": torch.stack([st["exp_avg_sq"] for st in states]).to(p.device),
        }


def _single_optimizer_state(optimizer: torch.optim.Optimizer, params: Sequence[nn.Parameter],
                            t: int, param_groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Trial ``t``'s Adam state in the format of a single run's ``optimizer.state_dict()``."""
    state = {}
    for j, p in enumerate(params):
        st = optimizer.state.get(p)
        if not st:
            continue
        state[j] = {"step": st["step"].detach().to("cpu", copy=True),
                    "exp_avg": st["exp_avg"][t].detach().to("cpu", copy=True),
                    "exp_avg_sq": st["exp_avg_sq"][t].detach().to("cpu", copy=True)}
    return {"state": state, "param_groups": [dict(g) for g in param_groups]}


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

@dataclass
class _Trial:
    """Bookkeeping of one trial of a group (mirrors the state of ``train.train``)."""

    index: int
    config: TrainConfig
    out: Path
    paths: dict[str, Path]
    prov: dict[str, Any]
    shuffle: torch.Generator
    dropout: torch.Generator
    model_state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    state: dict[str, Any] = field(default_factory=dict)
    cuda_rng: torch.Tensor | None = None
    result: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return bool(self.state["stopped_early"]) or self.state["epoch"] >= self.config.max_epochs


def _check_group_configs(configs: Sequence[TrainConfig]) -> None:
    base = {k: v for k, v in configs[0].to_dict().items() if k != "seed"}
    for i, c in enumerate(configs[1:], 1):
        other = {k: v for k, v in c.to_dict().items() if k != "seed"}
        diff = sorted(k for k in base if base[k] != other.get(k))
        if diff:
            raise ConfigError(f"train_trials: config {i} differs from config 0 in {diff}; "
                              "the trials of a group may differ in seed only")
    if configs[0].compile:
        raise ConfigError("train_trials: compile=True is not supported for vectorised groups")


def train_trials(spec: ModelSpec | str, dataset: Any,
                 configs: Sequence[TrainConfig] | Sequence[int], out_dirs: Sequence[str | Path],
                 resume: bool = True, progress: bool = False,
                 callback: Callable[[int, dict[str, Any]], None] | None = None
                 ) -> list[dict[str, Any]]:
    """Train several trials (seeds) of one architecture together as one vectorised model.

    Parameters
    ----------
    spec : ModelSpec or str
        The architecture (a name is built for the dataset's length and classes).
    dataset : Dataset
        In-memory ``train`` / ``valid`` / ``test`` splits (``X (N, 4, L)``, ``Y (N, C)``);
        lazy h5py splits are read into memory.
    configs : list of TrainConfig, or list of int
        One config per trial, equal except for ``seed``; integers are seeds of the default
        (paper) config.
    out_dirs : list of path
        One run directory per trial (the layout of ``train.train``).
    resume : bool
        Continue from each trial's ``last.pt`` (finished trials are returned as they are);
        False starts every trial afresh.
    progress : bool
        Print one line per epoch.
    callback : callable, optional
        ``callback(trial_index, history_row)`` after each trial's epoch files are written.

    Returns
    -------
    list of dict
        Per trial, the content of its ``metrics.json`` plus ``run_dir`` (input order).
    """
    if len(configs) != len(out_dirs) or not configs:
        raise ConfigError("train_trials: expected one config (or seed) per output directory")
    configs = [c if isinstance(c, TrainConfig) else TrainConfig(seed=int(c)) for c in configs]
    for c in configs:
        c.validate()
    _check_group_configs(configs)
    config0 = configs[0]
    if isinstance(spec, str):
        shape = tuple(dataset.train.X.shape)
        spec = model_spec(spec, input_length=int(shape[-1]), n_outputs=int(dataset.train.Y.shape[1]))
    spec = config0.apply_to(spec)
    spec.validate()
    _check_compatible(spec, dataset)
    device = resolve_device(config0.device)
    precision = resolve_precision(config0.precision, device)
    configs = [dataclasses.replace(c, precision=precision) for c in configs]
    config0 = configs[0]
    label_names = list(getattr(dataset, "label_names", None) or [])
    if len(label_names) != spec.n_outputs:
        label_names = [str(i) for i in range(spec.n_outputs)]
    spec_dict = spec.to_dict()

    trials: list[_Trial] = []
    with _torch_state(config0, device):
        for i, (config, out_dir) in enumerate(zip(configs, out_dirs)):
            trials.append(_open_trial(i, spec, config, Path(out_dir), resume, spec_dict))
        todo = [t for t in trials if t.result is None]
        if todo:
            X = device_tensor(_in_memory(dataset.train.X), device)
            Y = device_tensor(_in_memory(dataset.train.Y), device)
            valid_X = device_tensor(_in_memory(dataset.valid.X), device)
            valid_Y = np.asarray(_in_memory(dataset.valid.Y), dtype=np.float32)
            if X is None or valid_X is None:
                raise ConfigError("train_trials: the dataset does not fit on the device; "
                                  "train the trials one by one with motiflens.train.train")
            n_params = count_parameters(build_model(spec))
            record = _dataset_record(dataset)
            for t in todo:
                _io.write_json(t.paths["config.json"], {
                    "spec": spec_dict, "train_config": t.config.to_dict(), "dataset": record,
                    "device": str(device), "n_parameters": n_params, "provenance": t.prov,
                    "vectorized": {"group_size": len(todo), "trial_index": t.index,
                                   "group_seeds": [u.config.seed for u in todo]},
                })
            # Trials at the same epoch train together (after a kill they may differ).
            for epoch in sorted({t.state["epoch"] for t in todo}):
                group = [t for t in todo if t.state["epoch"] == epoch and not t.finished]
                if group:
                    _train_group(spec, group, X, Y, valid_X, valid_Y, device, progress,
                                 callback)
            for t in todo:
                t.result = _finish_trial(t, spec, dataset, label_names, device, n_params)
    return [t.result for t in trials]


def _in_memory(array: Any) -> Any:
    return array if isinstance(array, (np.ndarray, torch.Tensor)) else np.asarray(array[:])


def _open_trial(index: int, spec: ModelSpec, config: TrainConfig, out: Path, resume: bool,
                spec_dict: dict[str, Any]) -> _Trial:
    """Prepare a trial's directory and state: fresh, resumed from last.pt, or already done."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in _RUN_FILES}
    config_dict = config.to_dict()
    init_seed, shuffle_seed, dropout_seed = _seeds(config.seed)
    shuffle = torch.Generator().manual_seed(shuffle_seed)
    dropout = torch.Generator().manual_seed(dropout_seed)
    state: dict[str, Any] = {"epoch": 0, "best_loss": math.inf, "best_epoch": 0, "since": 0,
                             "stopped_early": False, "history": [], "wall_time": 0.0}
    saved = None
    if resume and paths["last.pt"].exists():
        saved = load_resume_state(out, spec_dict, config_dict)
    else:
        for name in ("history.tsv", "checkpoint.pt", "last.pt", "metrics.json"):
            paths[name].unlink(missing_ok=True)
    if saved is not None:
        state.update({k: saved[k] for k in state})
        shuffle.set_state(saved["rng"]["shuffle"])
        dropout.set_state(saved["rng"]["torch"])
        model_state, best_state = saved["model"], saved["best_state"]
        optimizer_state = saved["optimizer"]
        cuda_rng = saved["rng"].get("cuda")
    else:
        cuda_rng = None
        model = build_model(spec, generator=torch.Generator().manual_seed(init_seed))
        model_state = _cpu_state(model)
        best_state, optimizer_state = _cpu_state(model), None
    trial = _Trial(index, config, out, paths, _io.provenance(seed=config.seed), shuffle, dropout,
                   model_state, best_state, optimizer_state, state, cuda_rng=cuda_rng)
    if saved is not None and trial.finished and paths["metrics.json"].exists():
        trial.result = {**_io.read_json(paths["metrics.json"]), "run_dir": str(out)}
    return trial


def _train_group(spec: ModelSpec, group: list[_Trial], X: torch.Tensor, Y: torch.Tensor,
                 valid_X: torch.Tensor, valid_Y: np.ndarray, device: torch.device,
                 progress: bool, callback: Callable[[int, dict[str, Any]], None] | None) -> None:
    """Train ``group`` (trials at one epoch) until each has stopped or reached max_epochs."""
    config = group[0].config
    # A single run's Adam, for the param_groups of the per-trial last.pt (same flags).
    template = make_optimizer(build_model(spec).to(device).parameters(), config, device)
    param_groups = template.state_dict()["param_groups"]
    scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
    active = list(group)
    model, optimizer = _build_group(spec, active, device)
    while active:
        t0 = time.perf_counter()
        losses = _train_epoch(model, optimizer, active, X, Y, config, device, scaler)
        valid_logits = _predict(model, valid_X, config.eval_batch_size)
        share = (time.perf_counter() - t0) / len(active)
        params = model.stacked_parameters()
        for j, trial in enumerate(active):
            logits = valid_logits[j]
            valid = classification_metrics(valid_Y, logits, aupr_method=config.aupr_method)
            valid_loss = binary_cross_entropy(valid_Y, logits)
            _record_epoch(trial, model, optimizer, params, j, param_groups, losses[j],
                          valid, valid_loss, share, spec, progress, callback)
        remaining = [t for t in active if not t.finished]
        if len(remaining) != len(active):
            if remaining:
                keep = [active.index(t) for t in remaining]
                model, optimizer = _shrink(spec, model, optimizer, remaining, keep, device)
            active = remaining


def _build_group(spec: ModelSpec, trials: list[_Trial], device: torch.device
                 ) -> tuple[VectorizedCNN, torch.optim.Optimizer]:
    model = VectorizedCNN.from_states(spec, [t.model_state for t in trials]).to(device)
    model.generators = _generators(trials, device)
    model.dropout_masks = trials[0].config.dropout_masks
    optimizer = make_optimizer(model.stacked_parameters(), trials[0].config, device)
    _stack_optimizer(optimizer, model.stacked_parameters(), [t.optimizer_state for t in trials])
    return model, optimizer


def _generators(trials: list[_Trial], device: torch.device) -> list[torch.Generator]:
    """The trials' dropout generators on ``device`` (their CPU generators on the CPU).

    On CUDA each trial gets a CUDA generator (masks are drawn on the GPU): restored from the
    ``rng["cuda"]`` state of its ``last.pt`` when resuming, else seeded from its CPU dropout
    generator.
    """
    if device.type == "cpu":
        return [t.dropout for t in trials]
    gens = []
    for t in trials:
        g = torch.Generator(device=device)
        if t.cuda_rng is not None:
            g.set_state(t.cuda_rng)
        else:
            g.manual_seed(int(torch.randint(0, 2**62, (1,), generator=t.dropout)))
        gens.append(g)
    return gens


def _shrink(spec: ModelSpec, model: VectorizedCNN, optimizer: torch.optim.Optimizer,
            remaining: list[_Trial], keep: list[int], device: torch.device
            ) -> tuple[VectorizedCNN, torch.optim.Optimizer]:
    """A smaller group of the ``keep`` trials, parameters and Adam moments sliced."""
    index = torch.tensor(keep, device=device)
    stacked = {n: getattr(model, _key(n)).detach().index_select(0, index)
               for n in model.param_names + model.buffer_names}
    old_params = model.stacked_parameters()
    generators = [model.generators[i] for i in keep] if model.generators else None
    small = VectorizedCNN(spec, len(keep)).to(device)
    small.load_stacked(stacked)
    small.generators = generators
    small.dropout_masks = model.dropout_masks
    new_opt = make_optimizer(small.stacked_parameters(), remaining[0].config, device)
    for old, new in zip(old_params, small.stacked_parameters()):
        st = optimizer.state.get(old)
        if st:
            new_opt.state[new] = {"step": st["step"].clone(),
                                  "exp_avg": st["exp_avg"].index_select(0, index),
                                  "exp_avg_sq": st["exp_avg_sq"].index_select(0, index)}
    return small, new_opt


def _train_epoch(model: VectorizedCNN, optimizer: torch.optim.Optimizer, trials: Sequence[Any],
                 X: torch.Tensor, Y: torch.Tensor, config: TrainConfig, device: torch.device,
                 scaler: Any = None) -> list[float]:
    """One epoch of every trial (its own batch order); returns the mean training BCE of each.

    Parameters
    ----------
    trials : list
        Objects with a ``shuffle`` generator, one per trial of ``model``.
    X : (N, 4, L) tensor (uint8 or float) on the device
    Y : (N, C) tensor on the device
    scaler : torch.amp.GradScaler, optional
        fp16 loss scaling. A step with an overflow is skipped for every trial of the group
        (the one coupling between trials; bf16 needs no scaler).
    """
    model.train()
    n, batch_size = len(X), config.batch_size
    perms = torch.stack([torch.randperm(n, generator=t.shuffle) for t in trials]).to(X.device)
    weights = model.penalised_weights()
    k = len(trials)
    total = torch.zeros(k, dtype=torch.float64, device=X.device)
    seen = 0
    for start in range(0, n, batch_size):
        idx = perms[:, start:start + batch_size]  # (k, B)
        if idx.shape[1] < 2:
            continue
        x, y = X[idx].float(), Y[idx].float()  # (k, B, 4, L), (k, B, C)
        optimizer.zero_grad(set_to_none=True)
        with autocast(config.precision, device):
            logits = model(x)
        per_trial = F.binary_cross_entropy_with_logits(
            logits.float(), y, reduction="none").mean(dim=(1, 2))  # (k,)
        if scaler is not None:
            scaler.scale(per_trial.sum()).backward()
            scaler.unscale_(optimizer)
        else:
            per_trial.sum().backward()
        add_l2_grad(weights, config.l2)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        total += per_trial.detach() * idx.shape[1]
        seen += idx.shape[1]
    return (total / max(seen, 1)).tolist()  # one host synchronisation per epoch


@torch.no_grad()
def _predict(model: VectorizedCNN, X: torch.Tensor, batch_size: int) -> np.ndarray:
    """Logits ``(k, N, C)`` of every trial on ``X (N, 4, L)`` (eval mode, fp32)."""
    was = model.training
    model.eval()
    try:
        out = [model(X[s:s + batch_size].float()).float() for s in range(0, len(X), batch_size)]
        return torch.cat(out, dim=1).cpu().numpy()
    finally:
        model.train(was)


def _record_epoch(trial: _Trial, model: VectorizedCNN, optimizer: torch.optim.Optimizer,
                  params: list[nn.Parameter], j: int, param_groups: list[dict[str, Any]],
                  train_loss: float, valid: dict[str, Any], valid_loss: float, seconds: float,
                  spec: ModelSpec, progress: bool,
                  callback: Callable[[int, dict[str, Any]], None] | None) -> None:
    """Early-stopping bookkeeping and the epoch's files of trial ``j`` (as ``train.train``)."""
    state, config = trial.state, trial.config
    epoch = state["epoch"] + 1
    row = {"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
           "valid_auroc": valid["mean_auroc"], "valid_aupr": valid["mean_aupr"],
           "seconds": seconds, "lr": optimizer.param_groups[0]["lr"]}
    if progress:
        print(f"trial {trial.index} epoch {epoch}/{config.max_epochs}  train_loss "
              f"{train_loss:.4f}  valid_loss {valid_loss:.4f}  valid_auroc "
              f"{valid['mean_auroc']:.4f}", flush=True)
    state["history"].append(row)
    state["wall_time"] += seconds
    state["epoch"] = epoch
    current = model.trial_state(j)
    spec_dict, config_dict = spec.to_dict(), config.to_dict()
    if valid_loss < state["best_loss"]:
        state.update(best_loss=valid_loss, best_epoch=epoch, since=0)
        trial.best_state = current
        _save({"state_dict": current, "spec": spec_dict, "train_config": config_dict,
               "epoch": epoch, "valid_loss": float(valid_loss),
               "provenance": _io.to_jsonable(trial.prov)}, trial.paths["checkpoint.pt"])
    else:
        state["since"] += 1
    if config.patience is not None and state["since"] >= config.patience:
        state["stopped_early"] = True
    _write_history(trial.paths["history.tsv"], state["history"])
    trial.model_state = current
    trial.optimizer_state = _single_optimizer_state(optimizer, params, j, param_groups)
    rng = {"shuffle": trial.shuffle.get_state(), "torch": trial.dropout.get_state(),
           "cuda": None}
    if model.generators is not None and model.generators[j].device.type != "cpu":
        trial.cuda_rng = model.generators[j].get_state()
        rng["cuda"] = trial.cuda_rng
    _save({"model": current, "optimizer": trial.optimizer_state, "best_state": trial.best_state,
           "rng": rng, "spec": spec_dict, "train_config": config_dict, **state},
          trial.paths["last.pt"])
    if callback is not None:
        callback(trial.index, dict(row))


def _finish_trial(trial: _Trial, spec: ModelSpec, dataset: Any, label_names: list[str],
                  device: torch.device, n_params: int) -> dict[str, Any]:
    """Evaluate a trial's best weights as a single model and write its ``metrics.json``."""
    config = trial.config
    t0 = time.perf_counter()
    model = build_model(spec)
    model.load_state_dict(trial.best_state)
    model.to(device)
    test = evaluate(model, dataset.test, batch_size=config.eval_batch_size,
                    label_names=label_names, aupr_method=config.aupr_method)
    valid = evaluate(model, dataset.valid, batch_size=config.eval_batch_size,
                     label_names=label_names, aupr_method=config.aupr_method)
    state = trial.state
    state["wall_time"] += time.perf_counter() - t0
    metrics = {
        "model": spec.name, "n_parameters": n_params, "label_names": label_names,
        "test": test, "valid": valid, "best_epoch": state["best_epoch"],
        "best_valid_loss": state["best_loss"], "epochs_run": state["epoch"],
        "stopped_early": state["stopped_early"], "wall_time_s": state["wall_time"],
        "device": str(device), "provenance": trial.prov,
    }
    _io.write_json(trial.paths["metrics.json"], metrics)
    return {**_io.to_jsonable(metrics), "run_dir": str(trial.out)}
