"""Resumable multi-trial sweeps of an experiment.

Layout of a sweep directory (``run_experiment(..., out_dir)``)::

    OUT/
      experiment.yaml           the experiment definition used (copy it to make your own)
      sweep.json                sweep seed, epochs override, dataset, trials, provenance
      data/synthetic.h5         the simulated dataset (synthetic experiments; made once, reused)
      runs/<model id>/trial-<k>/
          trial.json            what this trial is: model spec, train config, seed, dataset
          config.json checkpoint.pt last.pt history.tsv metrics.json     (motiflens.train)
          interpret/layer<N>/{filters.meme, tomtom.tsv, filters.tsv, summary.json, logos.*}
          result.json           completion marker: test metrics + interpretation summaries
      summary/                  tables (TSV + Markdown), written by aggregate.write_summary
      figures/                  PNG/PDF figures, written by report.html.write_report
      report.html               one self-contained report

A trial is complete exactly when ``result.json`` exists: it is renamed into place as the trial's
last step. Re-running the same command skips complete trials and resumes the others (training
continues from ``last.pt``, bit-identically on the CPU; leftover temporary files of a killed
write are deleted). Trial seeds are derived from the sweep seed, the model id and the trial
number (:func:`trial_seed`), so adding models or trials never changes existing ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from motiflens import _io
from motiflens.errors import ConfigError, DatasetError
from motiflens.experiments.registry import Experiment, ModelEntry, load_experiment

RESULT = "result.json"
#: Version of a trial's record (result.json and the files beside it); bumped on any change of
#: the files or fields that aggregation and re-interpretation read.
RECORD_FORMAT = 1
TRIAL = "trial.json"
SWEEP = "sweep.json"
EXPERIMENT = "experiment.yaml"


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


def run_trial(task: TrialTask) -> dict[str, Any]:
    """Train, evaluate and interpret one trial; resume it if it was interrupted.

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
    metrics = train(spec, dataset, config, Path(task.trial_dir), resume=True,
                    progress=task.progress)
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


def run_trial_group(group: TrialGroup) -> list[dict[str, Any]]:
    """Train the group's unfinished trials as one vectorised model, then interpret each.

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
        metrics = train_trials(spec, dataset, [_train_config(t) for t in tasks],
                               [Path(t.trial_dir) for t in tasks], resume=True,
                               progress=group.progress)
        share = (time.perf_counter() - t0) / len(tasks)  # each trial's share of the group
        for i, task, m in zip(todo, tasks, metrics):
            results[i] = _complete_trial(task, m, share)
    return [results[i] for i in range(len(group.tasks))]


def run_item(item: TrialTask | TrialGroup) -> list[tuple[TrialTask, dict[str, Any]]]:
    """Run a trial or a vectorised group; ``[(task, result), ...]`` for each trial in it."""
    if isinstance(item, TrialGroup):
        return list(zip(item.tasks, run_trial_group(item)))
    return [(item, run_trial(item))]


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


def _simulation_config(experiment: Experiment) -> Any:
    from motiflens.simulate import SimulationConfig

    valid = {f.name for f in dataclasses.fields(SimulationConfig)}
    raw = experiment.dataset.simulation
    bad = sorted(set(raw) - valid)
    if bad:
        raise ConfigError(
            f"{experiment.source}: dataset.simulation: unknown key(s) {bad}; valid: {', '.join(sorted(valid))}"
        )
    values = {k: tuple(v) if isinstance(v, list) and k != "motifs" else v for k, v in raw.items()}
    try:
        return SimulationConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"{experiment.source}: dataset.simulation: {exc}") from None


def prepare_dataset(experiment: Experiment, out_dir: Path, data: str | Path | None = None) -> Path:
    """The dataset file of a sweep: ``data`` if given, else simulate (once) or the declared file.

    Raises
    ------
    ConfigError
        An in vivo experiment without a dataset path.
    DatasetError
        The dataset path does not exist.
    """
    if data is not None:
        path = Path(data).expanduser().resolve()
    elif experiment.dataset.kind == "synthetic":
        path = (out_dir / "data" / "synthetic.h5").resolve()
        if not path.is_file():
            from motiflens.simulate import simulate_to_hdf5

            config = _simulation_config(experiment)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".tmp-synthetic-{os.getpid()}.h5")
            simulate_to_hdf5(config, partial)
            os.replace(partial, path)
        return path
    elif experiment.dataset.path:
        path = Path(experiment.dataset.path).expanduser()
        if not path.is_absolute() and experiment.source and Path(experiment.source).is_file():
            candidate = Path(experiment.source).parent / path
            path = candidate if candidate.exists() else path
        path = path.resolve()
    else:
        raise ConfigError(
            f"experiment {experiment.name!r} trains on a dataset file: pass it with --data PATH "
            "(build the in vivo set with `motiflens data deepsea ...`)"
        )
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file not found (experiment {experiment.name!r})")
    return path


def verify_dataset(out_dir: Path, dataset: Path) -> str:
    """Check a dataset against the content digest recorded in ``out_dir/sweep.json``.

    Returns
    -------
    str
        The dataset's digest.

    Raises
    ------
    DatasetError
        The digests differ: the sweep's records were made on another dataset.
    """
    from motiflens.data.dataset import dataset_digest

    digest = dataset_digest(dataset)
    path = Path(out_dir) / SWEEP
    saved = _io.read_json(path).get("dataset_digest") if path.is_file() else None
    if saved is not None and saved != digest:
        raise DatasetError(
            f"{path}: the dataset {dataset} differs from the one this sweep's trials were trained "
            f"on (content {digest[7:19]}..., recorded {saved[7:19]}...); its records would be "
            "scored against the wrong ground truth. Pass the original with --data PATH, or use a "
            "new --out directory"
        )
    return digest


def _dataset_shape(path: Path) -> tuple[int, int]:
    from motiflens.data.dataset import load_dataset

    dataset = load_dataset(path, in_memory=False)
    return int(dataset.train.X.shape[-1]), int(dataset.train.Y.shape[1])


def _sweep_record(experiment: Experiment, sweep_seed: int, epochs: int | None,
                  dataset: Path, out_dir: Path) -> dict[str, Any]:
    """The settings every trial of a sweep directory shares (checked when resuming).

    A dataset inside the sweep directory is recorded relative to it, so that the directory
    can be moved and resumed.
    """
    definition = experiment.to_dict()
    try:
        dataset_text = str(dataset.relative_to(out_dir))
    except ValueError:
        dataset_text = str(dataset)
    return {
        "experiment": experiment.name,
        "sweep_seed": int(sweep_seed),
        "epochs": epochs,
        "dataset": dataset_text,
        "dataset_spec": definition["dataset"],
        "protocol": experiment.protocol,
        "train": definition["train"],
        "interpret": definition["interpret"],
    }


def _check_or_write_sweep(out_dir: Path, record: dict[str, Any], experiment: Experiment,
                          trials: int, executor: Any, vectorize: bool = False,
                          digest: str | None = None) -> None:
    path = out_dir / SWEEP
    if path.is_file():
        saved = _io.read_json(path)
        digest = digest or saved.get("dataset_digest")
        diff = sorted(k for k in record if _io.to_jsonable(saved.get("settings", {}).get(k))
                      != _io.to_jsonable(record[k]))
        if diff:
            details = "; ".join(
                f"{k}: was {saved.get('settings', {}).get(k)!r}, now {record[k]!r}" for k in diff
            )
            raise ConfigError(
                f"{path}: this sweep directory was made with other settings ({details}); use the "
                "same settings to resume it, or a new --out directory"
            )
        trials = max(trials, int(saved.get("trials", 0)))
    _io.write_json(path, {
        "settings": record, "trials": trials, "executor": executor.describe(),
        "dataset_digest": digest, "record_format": RECORD_FORMAT,
        "vectorize": bool(vectorize),
        "models": [m.id for m in experiment.models],
        "provenance": _io.provenance(seed=record["sweep_seed"]),
    })
    _io.write_yaml(out_dir / EXPERIMENT, experiment.to_dict())


def plan_trials(experiment: Experiment, out_dir: Path, trials: int, sweep_seed: int,
                dataset: Path, epochs: int | None = None) -> list[TrialTask]:
    """One TrialTask per (model, trial), in experiment order (trial-major within a model)."""
    train = dict(experiment.train)
    if epochs is not None:
        train["max_epochs"] = int(epochs)
    interpret = experiment.interpret.as_kwargs() if experiment.interpret else None
    tasks = []
    for entry in experiment.models:
        for k in range(trials):
            tasks.append(TrialTask(
                experiment=experiment.name, model_id=entry.id, model=entry.model,
                label=entry.label, filters=dict(entry.filters), layers=tuple(entry.layers),
                activations=dict(entry.activations),
                trial=k, seed=trial_seed(sweep_seed, entry.seed_from or entry.id, k),
                trial_dir=str(trial_dir(out_dir, entry.id, k).resolve()),
                dataset_path=str(dataset), protocol=experiment.protocol, train=train,
                interpret=interpret,
            ))
    return tasks


def run_experiment(name_or_yaml: str | Path | Experiment, out_dir: str | Path, trials: int = 5,
                   workers: int = 1, ray: str | None = None, epochs: int | None = None,
                   sweep_seed: int = 0, data: str | Path | None = None, progress: bool = True,
                   cpus_per_trial: float = 1, gpus_per_trial: float | None = None,
                   vectorize: bool = False, train: dict[str, Any] | None = None,
                   models: list[str] | None = None, n_sequences: int | None = None,
                   on_start: Any = None) -> Path:
    """Run (or resume) every trial of an experiment and write its summary tables.

    Everything is validated before any work (experiment rows, training settings, counts), so a
    bad definition never leaves a half-made sweep directory.

    Parameters
    ----------
    name_or_yaml : str, Path or Experiment
        ``"table1"``, ``"deeper-layers"``, ``"table2"`` or an experiment YAML file.
    out_dir : path
        Sweep directory (created; an existing one is resumed).
    trials : int
        Trials per model (trial numbers ``0 .. trials-1``).
    workers : int
        Local worker processes (1 = sequential in this process).
    ray : str or None
        ``"auto"``, ``"local"`` or a Ray cluster address: run trials as Ray tasks.
    epochs : int or None
        Override of the maximum number of epochs (part of the sweep's settings).
    sweep_seed : int
        The one seed every trial seed is derived from.
    data : path or None
        Dataset file; required by in vivo experiments, optional for synthetic ones.
    progress : bool
        Show a progress bar over trials (and per-epoch lines when sequential).
    cpus_per_trial, gpus_per_trial : float
        Ray resources per trial (gpus None: 1 when the cluster has GPUs).
    vectorize : bool
        Train the unfinished trials of each model together as one vectorised model
        (:mod:`motiflens.vectorized`; one work item per model, several trials per GPU). The trial
        directories are the same as without it, and a sweep may be resumed either way; trial
        results agree with per-trial training up to floating-point rounding. Not with ``ray``.
    models : list of str or None
        Run only these rows (ids) of the experiment: a small sweep.
    n_sequences : int or None
        Simulate this many sequences instead of the experiment's (synthetic experiments only;
        part of the sweep's settings).
    on_start : callable or None
        Called once everything is validated, before any work (e.g. to print a hint).
    train : dict or None
        ``TrainConfig`` overrides applied on top of the experiment's ``train:`` block, e.g.
        ``{"precision": "bf16", "dropout_masks": "fast"}``. They become part of the sweep's
        recorded settings (``experiment.yaml``, ``sweep.json``): a sweep resumes only with the
        same ones.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    ConfigError, DatasetError
        Bad experiment, settings that differ from the existing sweep's, missing dataset.
    SweepError
        Some trials failed (the others are complete; rerun to retry).
    """
    from motiflens.experiments.executors import make_executor

    experiment = load_experiment(name_or_yaml)
    if train:
        experiment = _with_train_overrides(experiment, train)
    experiment = subset_experiment(experiment, models=models, n_sequences=n_sequences)
    validate_before_work(experiment, trials=trials, epochs=epochs, workers=workers, data=data)
    if vectorize and ray:
        raise ConfigError("--vectorize cannot be combined with --ray yet; use --workers N")
    executor = make_executor(workers=workers, ray=ray, progress=progress and workers <= 1,
                             cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial)
    out = Path(out_dir).expanduser().resolve()
    _io.check_writable(out, "--out")
    out.mkdir(parents=True, exist_ok=True)
    if on_start is not None:
        on_start()

    with _sweep_lock(out):
        return _run_locked(experiment, out, executor, trials, sweep_seed, epochs, data, progress,
                           vectorize)


def subset_experiment(experiment: Experiment, models: list[str] | None = None,
                      n_sequences: int | None = None) -> Experiment:
    """``experiment`` restricted to rows ``models`` and/or simulating ``n_sequences`` sequences.

    Raises
    ------
    ConfigError
        An unknown row id (the valid ones are listed), or ``n_sequences`` for a file dataset.
    """
    if models:
        known = [m.id for m in experiment.models]
        unknown = [m for m in models if m not in known]
        if unknown:
            raise ConfigError(f"--models: unknown row(s) {', '.join(unknown)} of {experiment.name}; "
                              f"valid: {', '.join(known)}")
        experiment = dataclasses.replace(
            experiment, models=[m for m in experiment.models if m.id in set(models)])
    if n_sequences is not None:
        if experiment.dataset.kind != "synthetic":
            raise ConfigError("--n-sequences: only for experiments on simulated data")
        if n_sequences < 100:
            raise ConfigError(f"--n-sequences: expected >= 100, got {n_sequences}")
        dataset = dataclasses.replace(experiment.dataset, simulation={
            **experiment.dataset.simulation, "n_sequences": int(n_sequences)})
        experiment = dataclasses.replace(experiment, dataset=dataset)
    return experiment


def validate_before_work(experiment: Experiment, trials: int, epochs: int | None, workers: int,
                         data: str | Path | None = None) -> None:
    """Check every setting of a sweep before anything is simulated, trained or written.

    Raises
    ------
    ConfigError
        Naming the bad count, training key, protocol, model row or interpretation setting.
    """
    from motiflens.train import TrainConfig

    if trials < 1:
        raise ConfigError(f"--trials: expected >= 1, got {trials}")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs: expected >= 1, got {epochs}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: expected >= 1, got {workers}")
    where = experiment.source or experiment.name
    try:
        TrainConfig.for_protocol(experiment.protocol, **experiment.train)
    except ConfigError as exc:
        raise ConfigError(f"{where}: train/protocol: {exc}") from None
    if experiment.interpret is not None:
        if experiment.interpret.mode not in ("paper", "code"):
            raise ConfigError(f"{where}: interpret.mode: expected paper or code, got "
                              f"{experiment.interpret.mode!r}")
        if experiment.interpret.gt_list not in ("paper", "code"):
            raise ConfigError(f"{where}: interpret.gt_list: expected paper or code, got "
                              f"{experiment.interpret.gt_list!r}")
    if experiment.dataset.kind == "synthetic" and data is None:
        config = _simulation_config(experiment)
        from motiflens.simulate import resolve_motifs

        length, n_outputs = int(config.length), len(resolve_motifs(config.motifs))
    else:
        length, n_outputs = 200, 12  # checked again on the real shape once the file is known
    for entry in experiment.models:
        try:
            build_spec(entry, length, n_outputs)
        except ConfigError as exc:
            raise ConfigError(f"{where}: models[{entry.id}]: {exc}") from None


def _with_train_overrides(experiment: Experiment, train: dict[str, Any]) -> Experiment:
    """``experiment`` with ``train`` merged into its ``train:`` block (checked as TrainConfig)."""
    from motiflens.train import TrainConfig

    merged = {**experiment.train, **train}
    TrainConfig.for_protocol(experiment.protocol, **merged)  # ConfigError naming a bad key
    return dataclasses.replace(experiment, train=merged)


@contextlib.contextmanager
def _sweep_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out/.lock`` (released by the OS even on kill -9; the file is
    removed when the sweep ends)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the sweep still resumes correctly
        yield
        return
    with open(out / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(
                f"{out}: another sweep is running in this directory; wait for it or use another --out"
            ) from None
        try:
            yield
        finally:  # remove the file while still holding the lock: nothing is left behind
            (out / ".lock").unlink(missing_ok=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _run_locked(experiment: Experiment, out: Path, executor: Any, trials: int, sweep_seed: int,
                epochs: int | None, data: str | Path | None, progress: bool,
                vectorize: bool = False) -> Path:
    from tqdm.auto import tqdm

    from motiflens.experiments.aggregate import write_summary
    from motiflens.experiments.executors import SweepError

    if (out / "data").is_dir():
        _clean_partial_files(out / "data")
    dataset = prepare_dataset(experiment, out, data)
    length, n_outputs = _dataset_shape(dataset)
    for entry in experiment.models:  # fail before any training on a bad row
        build_spec(entry, length, n_outputs)
    digest = verify_dataset(out, dataset)
    _check_or_write_sweep(out, _sweep_record(experiment, sweep_seed, epochs, dataset, out),
                          experiment, trials, executor, vectorize, digest=digest)

    tasks = plan_trials(experiment, out, trials, sweep_seed, dataset, epochs)
    todo = [t for t in tasks if not (Path(t.trial_dir) / RESULT).is_file()]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), disable=not progress,
               desc=experiment.name, unit="trial", dynamic_ncols=True)

    def on_done(task: TrialTask, result: dict[str, Any]) -> None:
        auroc = result.get("auroc")
        bar.set_postfix_str(f"{task.model_id} #{task.trial} AU-ROC {auroc:.3f}" if auroc is not None
                            else f"{task.model_id} #{task.trial}")
        bar.update(1)

    try:
        executor.run(group_by_model(todo) if vectorize else todo, on_done)
    except SweepError:
        bar.close()
        write_summary(out)  # the completed trials are summarised even when others failed
        raise
    bar.close()
    write_summary(out)
    return out
