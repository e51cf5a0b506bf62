"""The single-model training loop: mini-batch Adam with early stopping, resumable.

``train`` resumes from ``last.pt`` and reproduces the uninterrupted run exactly (on the CPU):
the RNG states of shuffling, dropout and the optimizer are all restored. The weights kept are
those of the epoch with the lowest validation BCE (ties keep the earlier epoch).

``train_loss`` in the history is the mean training BCE (dropout active, L2 term excluded), so it
can be compared with ``valid_loss``.

On a shared CPU, set ``num_threads`` to at most the number of idle cores: oversubscribed OpenMP
threads spin while waiting for each other and an epoch can become 10-20x slower.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from motiflens.models import ModelSpec, build_model, count_parameters
from motiflens.ops import set_dropout_masks
from motiflens.train.batches import Batches, device_split, label_names_for, resolve_spec
from motiflens.train.config import TrainConfig, resolve_device, resolve_precision
from motiflens.train.evaluation import evaluate, evaluate_test_and_valid
from motiflens.train.optim import (autocast, backward_and_step, derive_seeds, make_optimizer,
                                   make_scaler, penalised_weights, torch_state)
from motiflens.train.run_data import check_same_dataset
from motiflens.train.rundir import (RunDir, cpu_state, history_row, new_progress, progress_from,
                                    record_epoch, rng_record)

__all__ = ["train", "train_epoch"]


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
        Run directory (created; layout in :mod:`motiflens.train.rundir`).
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
    spec = resolve_spec(spec, dataset, config)
    label_names = label_names_for(dataset, spec.n_outputs)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    if progress and config.precision == "auto":
        print(f"precision auto -> {precision} on {device.type} (the fastest this hardware runs "
              "natively)", file=sys.stderr)
    config = dataclasses.replace(config, precision=precision)
    run, saved = RunDir.open(out, spec.to_dict(), config.to_dict(), resume)
    if saved is not None:
        check_same_dataset(out, dataset)
    done = run.finished_result(saved, config.max_epochs)
    if done is not None:
        if progress:
            print(f"{out}: already finished (epoch {done.get('epochs_run')}); nothing trained, "
                  "these are its results (--no-resume trains it again)", file=sys.stderr)
        return done

    init_seed, shuffle_seed, dropout_seed = derive_seeds(config.seed)
    with torch_state(config, device):
        torch.manual_seed(dropout_seed)
        model = build_model(spec, generator=torch.Generator().manual_seed(init_seed)).to(device)
        set_dropout_masks(model, config.dropout_masks)
        n_params = count_parameters(model)
        optimizer = make_optimizer(model.parameters(), config, device)
        scaler = make_scaler(config)
        shuffle = torch.Generator().manual_seed(shuffle_seed)
        state = new_progress()
        best_state = cpu_state(model)
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
            state = progress_from(saved)
            if progress:
                print(f"resuming {out} after epoch {state['epoch']} (best epoch "
                      f"{state.get('best_epoch')}); same settings, same numbers as uninterrupted",
                      file=sys.stderr)
        run.write_config(dataset, device, n_params)

        batches = Batches(dataset.train.X, dataset.train.Y, config.batch_size,
                          config.stream_chunk, device)
        valid_split = device_split(dataset.valid, device)
        weights = penalised_weights(model)
        forward = torch.compile(model, dynamic=False) if config.compile else model
        epoch = state["epoch"]
        while not state["stopped_early"] and epoch < config.max_epochs:
            epoch += 1
            t0 = time.perf_counter()
            train_loss = train_epoch(model, optimizer, batches, shuffle, weights, config,
                                     epoch, progress, forward=forward, scaler=scaler)
            valid = evaluate(model, valid_split, batch_size=config.eval_batch_size,
                             aupr_method=config.aupr_method)
            seconds = time.perf_counter() - t0
            row = history_row(epoch, train_loss, valid["loss"], valid, seconds,
                              optimizer.param_groups[0]["lr"])
            if progress:
                _progress_line(row, config.max_epochs)
            improved = record_epoch(state, row, config.patience)
            if improved:
                best_state = cpu_state(model)
            cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
            extra = {"scaler": scaler.state_dict()} if scaler is not None else {}
            run.save_epoch(state, improved, cpu_state(model), optimizer.state_dict(), best_state,
                           rng_record(shuffle, torch.get_rng_state(), cuda_rng), extra)
            if callback is not None:
                callback(dict(row))

        t0 = time.perf_counter()
        model.load_state_dict(best_state)
        test, valid = evaluate_test_and_valid(model, dataset, config, label_names)
        state["wall_time"] += time.perf_counter() - t0

    return run.write_metrics(spec.name, n_params, label_names, test, valid, state, device)


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, batches: Batches,
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
        backward_and_step(loss, optimizer, scaler, weights, config.l2)
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
