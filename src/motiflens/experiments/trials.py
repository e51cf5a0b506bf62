"""One trial of a sweep: train, evaluate, interpret, and mark it complete.

A trial directory (``runs/<model id>/trial-<k>/``, layout in :mod:`motiflens.experiments.sweep`)
is complete exactly when ``result.json`` exists: it is renamed into place as the trial's last
step, so a killed trial is resumed (training continues from ``last.pt``) and a complete one is
skipped. Trial seeds derive from the sweep seed, the row id and the trial number
(:func:`trial_seed`). Executors (:mod:`motiflens.experiments.executors`) run these functions in
this process, in worker processes or on Ray.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from motiflens import _io
from motiflens.errors import ConfigError
from motiflens.experiments.registry import ModelEntry

RESULT = "result.json"
#: Version of a trial's record (result.json and the files beside it); bumped on any change of
#: the files or fields that aggregation and re-interpretation read.
RECORD_FORMAT = 1
TRIAL = "trial.json"

#: ``on_epoch(task, epoch)``: told after each finished training epoch of a trial.
OnEpoch = Callable[["TrialTask", int], None]


def trial_seed(sweep_seed: int, model_id: str, trial: int) -> int:
    """The training seed of one trial, derived from the sweep seed.

    ``SeedSequence(sweep_seed, spawn_key=(crc32(model_id), trial))``: independent streams per
    (model, trial), stable when models or trials are added or reordered.

    Returns
    -------
    int
        In ``[0, 2**31)``.
    """
    key = zlib.crc32(model_id.encode("utf-8"))
    seq = np.random.SeedSequence(int(sweep_seed), spawn_key=(key, int(trial)))
    return int(seq.generate_state(1, np.uint32)[0] & 0x7FFFFFFF)


def trial_dir(out_dir: str | Path, model_id: str, trial: int) -> Path:
    """``out_dir/runs/<model_id>/trial-<trial>``."""
    return Path(out_dir) / "runs" / model_id / f"trial-{int(trial)}"


@dataclass
class TrialTask:
    """Everything a worker needs to run one trial (picklable, JSON-able).

    Attributes
    ----------
    experiment : str
    model_id, model, label : str
        Row id, ``model_spec`` name and display label.
    filters : dict[int, int]
        Per-layer filter-count overrides.
    layers : tuple[int, ...]
        Conv layers to interpret.
    trial, seed : int
    trial_dir, dataset_path : str
    protocol : str
    train : dict
        TrainConfig overrides (max_epochs included when the sweep overrides it).
    interpret : dict or None
        ``interpret_run`` keyword arguments (mode, db, gt_list); None skips interpretation.
    threads : int or None
        torch CPU threads for this trial.
    progress : bool
        Show per-epoch progress.
    """

    experiment: str
    model_id: str
    model: str
    label: str
    filters: dict[int, int]
    layers: tuple[int, ...]
    trial: int
    seed: int
    trial_dir: str
    dataset_path: str
    protocol: str = "paper"
    train: dict[str, Any] = field(default_factory=dict)
    interpret: dict[str, Any] | None = None
    threads: int | None = None
    progress: bool = False
    activations: dict[int, str] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """What must not change for a trial directory to be resumed (stored in trial.json)."""
        extra = ({"activations": {str(k): v for k, v in sorted(self.activations.items())}}
                 if self.activations else {})
        return {
            **extra,
            "experiment": self.experiment, "model_id": self.model_id, "model": self.model,
            "filters": {str(k): v for k, v in sorted(self.filters.items())},
            "layers": list(self.layers), "trial": self.trial, "seed": self.seed,
            "protocol": self.protocol, "train": dict(sorted(self.train.items())),
            "interpret": self.interpret,
        }


# ----------------------------------------------------------------------------- one trial

_DATASETS: dict[str, Any] = {}


def _dataset(path: str) -> Any:
    """Load (once per process) the dataset at ``path``, in memory."""
    if path not in _DATASETS:
        from motiflens.data.dataset import load_dataset

        _DATASETS.clear()  # one dataset per process at a time
        _DATASETS[path] = load_dataset(path, in_memory=True)
    return _DATASETS[path]


def build_spec(entry: ModelEntry | TrialTask, input_length: int, n_outputs: int) -> Any:
    """The ModelSpec of a row: ``model_spec(model)`` with the row's filter-count overrides.

    Raises
    ------
    ConfigError
        Unknown model, or an override/interpreted layer beyond the model's conv layers.
    """
    from motiflens.models import model_spec, with_activations

    spec = model_spec(entry.model, input_length=input_length, n_outputs=n_outputs)
    n_conv = len(spec.conv)
    for layer in list(entry.filters) + list(entry.layers) + list(entry.activations):
        if not 1 <= int(layer) <= n_conv:
            raise ConfigError(
                f"model {getattr(entry, 'model_id', None) or entry.id!r}: layer {layer} does not "
                f"exist ({entry.model} has {n_conv} conv layers)"
            )
    if entry.filters:
        conv = [
            dataclasses.replace(block, filters=int(entry.filters.get(i + 1, block.filters)))
            for i, block in enumerate(spec.conv)
        ]
        name = getattr(entry, "model_id", None) or entry.id
        spec = spec.replace(conv=conv, name=name)
    if entry.activations:
        name = getattr(entry, "model_id", None) or entry.id
        spec = with_activations(spec, entry.activations).replace(name=name)
    return spec


def _clean_partial_files(directory: Path) -> None:
    """Delete temporary files a killed atomic write left behind (``.tmp-*``)."""
    for leftover in directory.rglob(".tmp-*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
        elif leftover.is_dir():
            import shutil

            shutil.rmtree(leftover, ignore_errors=True)


def _mean_metric(metrics: dict, key: str) -> float | None:
    test = metrics.get("test", {})
    value = test.get(f"mean_{key}", test.get(key))
    return None if value is None else float(value)


def mark_done(directory: Path, result: dict[str, Any]) -> None:
    """Write the completion marker ``result.json`` (atomically: the trial's last step)."""
    _io.write_json(directory / RESULT, result)


def _open_trial_dir(task: TrialTask) -> dict[str, Any] | None:
    """Prepare a trial's directory: its result if complete, else None (identity checked).

    Raises
    ------
    ConfigError
        The directory holds a different trial.
    """
    out = Path(task.trial_dir)
    done = out / RESULT
    if done.is_file():
        return _io.read_json(done)
    out.mkdir(parents=True, exist_ok=True)
    _clean_partial_files(out)
    identity = task.identity()
    trial_file = out / TRIAL
    if trial_file.is_file():
        saved = _io.read_json(trial_file).get("identity")
        if saved != _io.to_jsonable(identity):
            raise ConfigError(
                f"{trial_file}: this directory holds a different trial (model, seed or settings "
                "changed); delete it or use a new output directory"
            )
    else:
        _io.write_json(trial_file, {"identity": identity, "provenance": _io.provenance(seed=task.seed)})
    return None


def _train_config(task: TrialTask) -> Any:
    from motiflens.train import TrainConfig

    overrides = dict(task.train)
    if task.threads:
        overrides.setdefault("num_threads", int(task.threads))
    return TrainConfig.for_protocol(task.protocol, seed=task.seed, **overrides)


def max_epochs(task: TrialTask) -> int:
    """The most epochs ``task`` trains for (early stopping may end it sooner)."""
    return int(_train_config(task).max_epochs)


def run_trial(task: TrialTask, on_epoch: OnEpoch | None = None) -> dict[str, Any]:
    """Train, evaluate and interpret one trial; resume it if it was interrupted.

    Parameters
    ----------
    task : TrialTask
    on_epoch : callable, optional
        ``on_epoch(task, epoch)`` after each finished epoch (its files written).

    Returns
    -------
    dict
        The content of ``result.json``: ``model_id, model, label, trial, seed, auroc, aupr,
        metrics`` (metrics.json), ``layers`` ({layer: interpretation summary}), ``wall_s``,
        ``provenance``.
    """
    from motiflens.train import train

    done = _open_trial_dir(task)
    if done is not None:
        return done
    t0 = time.perf_counter()
    dataset = _dataset(task.dataset_path)
    n_outputs = int(dataset.train.Y.shape[1])
    spec = build_spec(task, int(dataset.train.X.shape[-1]), n_outputs)
    config = _train_config(task)
    callback = None if on_epoch is None else (lambda row: on_epoch(task, int(row["epoch"])))
    metrics = train(spec, dataset, config, Path(task.trial_dir), resume=True,
                    progress=task.progress, callback=callback)
    return _complete_trial(task, metrics, time.perf_counter() - t0)


@dataclass
class TrialGroup:
    """Trials of one model trained together as one vectorised model (``--vectorize``).

    Attributes
    ----------
    tasks : list of TrialTask
        Same model row, different trial numbers (and seeds).
    progress : bool
        Print per-epoch lines.
    """

    tasks: list[TrialTask]
    progress: bool = False

    @property
    def model_id(self) -> str:
        return self.tasks[0].model_id


def run_trial_group(group: TrialGroup, on_epoch: OnEpoch | None = None
                    ) -> list[dict[str, Any]]:
    """Train the group's unfinished trials as one vectorised model, then interpret each
    (``on_epoch(task, epoch)`` after each trial's epoch, as in :func:`run_trial`).

    Each trial directory ends up exactly as :func:`run_trial` leaves it (the training files
    are written by :func:`motiflens.vectorized.train_trials` in the single-run layout), so a
    sweep may mix both and resumes either way.

    Returns
    -------
    list of dict
        The ``result.json`` of each task, in ``group.tasks`` order.
    """
    from motiflens.vectorized import train_trials

    results: dict[int, dict[str, Any]] = {}
    todo = []
    for i, task in enumerate(group.tasks):
        done = _open_trial_dir(task)
        if done is not None:
            results[i] = done
        else:
            todo.append(i)
    if todo:
        t0 = time.perf_counter()
        first = group.tasks[todo[0]]
        dataset = _dataset(first.dataset_path)
        spec = build_spec(first, int(dataset.train.X.shape[-1]), int(dataset.train.Y.shape[1]))
        tasks = [group.tasks[i] for i in todo]
        callback = None if on_epoch is None else (
            lambda index, row: on_epoch(tasks[index], int(row["epoch"])))
        metrics = train_trials(spec, dataset, [_train_config(t) for t in tasks],
                               [Path(t.trial_dir) for t in tasks], resume=True,
                               progress=group.progress, callback=callback)
        share = (time.perf_counter() - t0) / len(tasks)  # each trial's share of the group
        for i, task, m in zip(todo, tasks, metrics):
            results[i] = _complete_trial(task, m, share)
    return [results[i] for i in range(len(group.tasks))]


def run_item(item: TrialTask | TrialGroup, on_epoch: OnEpoch | None = None
             ) -> list[tuple[TrialTask, dict[str, Any]]]:
    """Run a trial or a vectorised group; ``[(task, result), ...]`` for each trial in it."""
    if isinstance(item, TrialGroup):
        return list(zip(item.tasks, run_trial_group(item, on_epoch)))
    return [(item, run_trial(item, on_epoch))]


def item_tasks(item: TrialTask | TrialGroup) -> list[TrialTask]:
    """The trials of a work item."""
    return list(item.tasks) if isinstance(item, TrialGroup) else [item]


def group_by_model(tasks: list[TrialTask]) -> list[TrialGroup]:
    """One vectorised group per model row (experiment order), of its not-yet-complete trials."""
    groups: dict[str, list[TrialTask]] = {}
    for task in tasks:
        groups.setdefault(task.model_id, []).append(task)
    return [TrialGroup(members) for members in groups.values()]


def _history_seconds(directory: Path) -> float:
    """Training seconds summed over every epoch in ``history.tsv`` (all sessions of a resumed
    run), 0 when absent."""
    path = directory / "history.tsv"
    if not path.is_file():
        return 0.0
    lines = path.read_text().splitlines()
    if not lines:
        return 0.0
    header = lines[0].split("\t")
    if "seconds" not in header:
        return 0.0
    column = header.index("seconds")
    total = 0.0
    for line in lines[1:]:
        fields = line.split("\t")
        try:
            total += float(fields[column])
        except (IndexError, ValueError):
            continue
    return total


def _complete_trial(task: TrialTask, metrics: dict[str, Any], train_s: float) -> dict[str, Any]:
    """Interpret a trained trial and write its completion marker ``result.json``."""
    out = Path(task.trial_dir)
    t0 = time.perf_counter()
    layers: dict[str, Any] = {}
    if task.interpret is not None:
        from motiflens.interpret.pipeline import interpret_run

        summaries = interpret_run(out, layers=tuple(task.layers), data=task.dataset_path,
                                  **task.interpret)
        layers = {str(k): v for k, v in summaries.items()}
    metrics = {k: v for k, v in metrics.items() if k != "run_dir"}
    config = _io.read_json(out / "config.json") if (out / "config.json").is_file() else {}
    result = {
        "record_format": RECORD_FORMAT,
        "experiment": task.experiment, "model_id": task.model_id, "model": task.model,
        "label": task.label, "trial": task.trial, "seed": task.seed,
        "auroc": _mean_metric(metrics, "auroc"), "aupr": _mean_metric(metrics, "aupr"),
        "metrics": metrics, "layers": layers,
        "wall_s": max(train_s, _history_seconds(out)) + time.perf_counter() - t0,
        "precision": (config.get("train_config") or {}).get("precision", "fp32"),
        "provenance": _io.provenance(seed=task.seed),
    }
    mark_done(out, result)
    return _io.to_jsonable(result)


# ----------------------------------------------------------------------------- the sweep
