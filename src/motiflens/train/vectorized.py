"""Train k independent trials of one architecture as one vectorised model.

The k trials of a ``ModelSpec`` (same architecture and train config, different seeds) are
stacked into one :class:`~motiflens.train.stacked.VectorizedCNN`. The loss is the sum of the
trials' mean BCEs, so each trial's gradient is exactly its own, and one Adam over the stacked
parameters equals k separate Adams (Adam and the L2 gradient are elementwise). Each trial keeps
everything a single run (:func:`motiflens.train.train`) has:

- the same initial weights (``build_model`` with the trial's init seed, then stacked),
- the same batch order (its own shuffle generator and one ``randperm`` per epoch: the batch is
  gathered as ``(k, B, 4, L)``), the same dropout masks (its own dropout generator, drawn in the
  single model's order and dtype), so a trial's numbers differ from its single run only by the
  rounding of differently ordered sums (CPU);
- its own early stopping and best weights (:func:`motiflens.train.rundir.record_epoch`). A
  trial that stops is removed from the group and the others go on as a smaller group
  (parameters and Adam moments sliced), so stopped trials cost nothing.

Outputs are the single-run layout, written by the same :class:`~motiflens.train.rundir.RunDir`:
per trial a run directory with ``config.json`` (plus a ``vectorized`` record), ``checkpoint.pt``
(a normal single-model ``state_dict``, loadable by ``load_run``), ``history.tsv``,
``metrics.json`` and ``last.pt`` (model, Adam state, best weights, RNG states). Resuming reads
the trials' ``last.pt`` files and re-stacks them; a trial interrupted alone can also be
continued by :func:`motiflens.train.train` and vice versa. When a group is resumed whole it
reproduces the uninterrupted run bit for bit on the CPU (same thread count); trials whose
``last.pt`` files stand at different epochs (a kill between two trials' writes) resume as
separate subgroups, equal to the uninterrupted run up to rounding.

History ``seconds`` of a trial is its share of the group's epoch time (the epoch's wall time
divided by the number of trials in the group), so per-trial costs add up to the wall time.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError
from motiflens.metrics import binary_cross_entropy, classification_metrics
from motiflens.models import ModelSpec, build_model, count_parameters
from motiflens.train.batches import device_tensor, in_memory, label_names_for, resolve_spec
from motiflens.train.config import TrainConfig, resolve_device, resolve_precision
from motiflens.train.evaluation import evaluate_test_and_valid
from motiflens.train.optim import (autocast, backward_and_step, derive_seeds, make_optimizer,
                                   make_scaler, torch_state)
from motiflens.train.rundir import (RunDir, cpu_state, history_row, is_finished, new_progress,
                                    progress_from, record_epoch, rng_record)
from motiflens.train.stacked import (VectorizedCNN, predict_stacked, shrink,
                                     single_optimizer_state, stack_optimizer_states)

__all__ = ["train_trials", "train_group_epoch"]


@dataclass
class _Trial:
    """Bookkeeping of one trial of a group (mirrors the state of ``train``)."""

    index: int
    config: TrainConfig
    run: RunDir
    shuffle: torch.Generator
    dropout: torch.Generator
    model_state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    state: dict[str, Any] = field(default_factory=new_progress)
    cuda_rng: torch.Tensor | None = None
    result: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return is_finished(self.state, self.config.max_epochs)


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
        One run directory per trial (the layout of ``train``).
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
    spec = resolve_spec(spec, dataset, configs[0])
    device = resolve_device(configs[0].device)
    precision = resolve_precision(configs[0].precision, device)
    configs = [dataclasses.replace(c, precision=precision) for c in configs]
    label_names = label_names_for(dataset, spec.n_outputs)
    spec_dict = spec.to_dict()

    trials: list[_Trial] = []
    with torch_state(configs[0], device):
        for i, (config, out_dir) in enumerate(zip(configs, out_dirs)):
            trials.append(_open_trial(i, spec, config, Path(out_dir), resume, spec_dict))
        todo = [t for t in trials if t.result is None]
        if todo:
            X = device_tensor(in_memory(dataset.train.X), device)
            Y = device_tensor(in_memory(dataset.train.Y), device)
            valid_X = device_tensor(in_memory(dataset.valid.X), device)
            valid_Y = np.asarray(in_memory(dataset.valid.Y), dtype=np.float32)
            if X is None or valid_X is None:
                raise ConfigError("train_trials: the dataset does not fit on the device; "
                                  "train the trials one by one with motiflens.train.train")
            n_params = count_parameters(build_model(spec))
            for t in todo:
                t.run.write_config(dataset, device, n_params, vectorized={
                    "group_size": len(todo), "trial_index": t.index,
                    "group_seeds": [u.config.seed for u in todo]})
            # Trials at the same epoch train together (after a kill they may differ).
            for epoch in sorted({t.state["epoch"] for t in todo}):
                group = [t for t in todo if t.state["epoch"] == epoch and not t.finished]
                if group:
                    _train_group(spec, group, X, Y, valid_X, valid_Y, device, progress,
                                 callback)
            for t in todo:
                t.result = _finish_trial(t, spec, dataset, label_names, device, n_params)
    return [t.result for t in trials]


def _open_trial(index: int, spec: ModelSpec, config: TrainConfig, out: Path, resume: bool,
                spec_dict: dict[str, Any]) -> _Trial:
    """Prepare a trial's directory and state: fresh, resumed from last.pt, or already done."""
    run, saved = RunDir.open(out, spec_dict, config.to_dict(), resume)
    init_seed, shuffle_seed, dropout_seed = derive_seeds(config.seed)
    shuffle = torch.Generator().manual_seed(shuffle_seed)
    dropout = torch.Generator().manual_seed(dropout_seed)
    if saved is not None:
        state = progress_from(saved)
        shuffle.set_state(saved["rng"]["shuffle"])
        dropout.set_state(saved["rng"]["torch"])
        model_state, best_state = saved["model"], saved["best_state"]
        optimizer_state = saved["optimizer"]
        cuda_rng = saved["rng"].get("cuda")
    else:
        state, cuda_rng = new_progress(), None
        model = build_model(spec, generator=torch.Generator().manual_seed(init_seed))
        model_state = cpu_state(model)
        best_state, optimizer_state = cpu_state(model), None
    trial = _Trial(index, config, run, shuffle, dropout, model_state, best_state,
                   optimizer_state, state, cuda_rng=cuda_rng)
    trial.result = run.finished_result(saved, config.max_epochs)
    return trial


def _train_group(spec: ModelSpec, group: list[_Trial], X: torch.Tensor, Y: torch.Tensor,
                 valid_X: torch.Tensor, valid_Y: np.ndarray, device: torch.device,
                 progress: bool, callback: Callable[[int, dict[str, Any]], None] | None) -> None:
    """Train ``group`` (trials at one epoch) until each has stopped or reached max_epochs."""
    config = group[0].config
    # A single run's Adam, for the param_groups of the per-trial last.pt (same flags).
    template = make_optimizer(build_model(spec).to(device).parameters(), config, device)
    param_groups = template.state_dict()["param_groups"]
    scaler = make_scaler(config)
    active = list(group)
    model, optimizer = _build_group(spec, active, device)
    while active:
        t0 = time.perf_counter()
        losses = train_group_epoch(model, optimizer, active, X, Y, config, device, scaler)
        valid_logits = predict_stacked(model, valid_X, config.eval_batch_size)
        share = (time.perf_counter() - t0) / len(active)
        params = model.stacked_parameters()
        for j, trial in enumerate(active):
            logits = valid_logits[j]
            valid = classification_metrics(valid_Y, logits, aupr_method=config.aupr_method)
            valid_loss = binary_cross_entropy(valid_Y, logits)
            _record_epoch(trial, model, optimizer, params, j, param_groups, losses[j],
                          valid, valid_loss, share, progress, callback)
        remaining = [t for t in active if not t.finished]
        if len(remaining) != len(active):
            if remaining:
                keep = [active.index(t) for t in remaining]
                model, optimizer = shrink(model, optimizer, keep, remaining[0].config, device)
            active = remaining


def _build_group(spec: ModelSpec, trials: list[_Trial], device: torch.device
                 ) -> tuple[VectorizedCNN, torch.optim.Optimizer]:
    model = VectorizedCNN.from_states(spec, [t.model_state for t in trials]).to(device)
    model.generators = _generators(trials, device)
    model.dropout_masks = trials[0].config.dropout_masks
    optimizer = make_optimizer(model.stacked_parameters(), trials[0].config, device)
    stack_optimizer_states(optimizer, model.stacked_parameters(),
                           [t.optimizer_state for t in trials])
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


def train_group_epoch(model: VectorizedCNN, optimizer: torch.optim.Optimizer,
                      trials: Sequence[Any], X: torch.Tensor, Y: torch.Tensor,
                      config: TrainConfig, device: torch.device, scaler: Any = None
                      ) -> list[float]:
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
        backward_and_step(per_trial.sum(), optimizer, scaler, weights, config.l2)
        total += per_trial.detach() * idx.shape[1]
        seen += idx.shape[1]
    return (total / max(seen, 1)).tolist()  # one host synchronisation per epoch


def _record_epoch(trial: _Trial, model: VectorizedCNN, optimizer: torch.optim.Optimizer,
                  params: list[nn.Parameter], j: int, param_groups: list[dict[str, Any]],
                  train_loss: float, valid: dict[str, Any], valid_loss: float, seconds: float,
                  progress: bool, callback: Callable[[int, dict[str, Any]], None] | None
                  ) -> None:
    """Early-stopping bookkeeping and the epoch's files of trial ``j`` (as ``train``)."""
    state, config = trial.state, trial.config
    row = history_row(state["epoch"] + 1, train_loss, valid_loss, valid, seconds,
                      optimizer.param_groups[0]["lr"])
    if progress:
        print(f"trial {trial.index} epoch {row['epoch']}/{config.max_epochs}  train_loss "
              f"{train_loss:.4f}  valid_loss {valid_loss:.4f}  valid_auroc "
              f"{valid['mean_auroc']:.4f}", flush=True)
    improved = record_epoch(state, row, config.patience)
    current = model.trial_state(j)
    if improved:
        trial.best_state = current
    trial.model_state = current
    trial.optimizer_state = single_optimizer_state(optimizer, params, j, param_groups)
    if model.generators is not None and model.generators[j].device.type != "cpu":
        trial.cuda_rng = model.generators[j].get_state()
        cuda_rng = trial.cuda_rng
    else:
        cuda_rng = None
    trial.run.save_epoch(state, improved, current, trial.optimizer_state, trial.best_state,
                         rng_record(trial.shuffle, trial.dropout.get_state(), cuda_rng))
    if callback is not None:
        callback(trial.index, dict(row))


def _finish_trial(trial: _Trial, spec: ModelSpec, dataset: Any, label_names: list[str],
                  device: torch.device, n_params: int) -> dict[str, Any]:
    """Evaluate a trial's best weights as a single model and write its ``metrics.json``."""
    t0 = time.perf_counter()
    model = build_model(spec)
    model.load_state_dict(trial.best_state)
    model.to(device)
    test, valid = evaluate_test_and_valid(model, dataset, trial.config, label_names)
    trial.state["wall_time"] += time.perf_counter() - t0
    return trial.run.write_metrics(spec.name, n_params, label_names, test, valid, trial.state,
                                   device)
