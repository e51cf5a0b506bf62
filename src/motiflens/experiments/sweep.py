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
from pathlib import Path
from typing import Any, Iterator

from motiflens import _io
from motiflens.errors import ConfigError
from motiflens.experiments.executors import SweepError, make_executor
from motiflens.experiments.registry import Experiment, load_experiment
from motiflens.experiments.sweep_data import (  # noqa: F401 - re-exported (analyses, reinterpret)
    SWEEP, _dataset_shape, _simulation_config, prepare_dataset, verify_dataset,
)
from motiflens.experiments.trials import (  # noqa: F401 - re-exported: the sweep's vocabulary
    RECORD_FORMAT, RESULT, TRIAL, TrialGroup, TrialTask, _clean_partial_files, _history_seconds,
    build_spec, group_by_model, item_tasks, mark_done, max_epochs, run_item, run_trial,
    run_trial_group, trial_dir, trial_seed,
)

EXPERIMENT = "experiment.yaml"


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


def _with_recorded_rows(out_dir: Path, experiment: Experiment,
                        full_order: list[str] | None) -> Experiment:
    """``experiment`` plus the rows an earlier run of this sweep directory had and a
    ``--models`` subset leaves out, in the experiment's order: resuming a few rows must not
    drop the others from ``experiment.yaml`` (and so from the summary)."""
    path = out_dir / EXPERIMENT
    if not path.is_file():
        return experiment
    saved = load_experiment(path)
    current = {m.id for m in experiment.models}
    extra = [m for m in saved.models if m.id not in current]
    if saved.name != experiment.name or not extra:
        return experiment
    order = {mid: i for i, mid in enumerate(full_order or [])}
    rows = sorted(experiment.models + extra, key=lambda m: order.get(m.id, len(order)))
    return dataclasses.replace(experiment, models=rows)


def _check_or_write_sweep(out_dir: Path, record: dict[str, Any], experiment: Experiment,
                          trials: int, executor: Any, vectorize: bool = False,
                          digest: str | None = None, full_order: list[str] | None = None) -> None:
    experiment = _with_recorded_rows(out_dir, experiment, full_order)
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
    experiment = load_experiment(name_or_yaml)
    if train:
        experiment = _with_train_overrides(experiment, train)
    full_order = [m.id for m in experiment.models]
    experiment = subset_experiment(experiment, models=models, n_sequences=n_sequences)
    validate_before_work(experiment, trials=trials, epochs=epochs, workers=workers, data=data)
    if vectorize and ray:
        raise ConfigError("--vectorize cannot be combined with --ray yet; use --workers N")
    executor = make_executor(workers=workers, ray=ray, progress=progress and workers <= 1,
                             cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial)
    out = Path(out_dir).expanduser().resolve()
    _io.check_writable(out, "--out")
    if experiment.dataset.kind != "synthetic":
        prepare_dataset(experiment, out, data)  # a file: found (or named) before the folder
    out.mkdir(parents=True, exist_ok=True)
    if on_start is not None:
        on_start()

    with _sweep_lock(out):
        return _run_locked(experiment, out, executor, trials, sweep_seed, epochs, data, progress,
                           vectorize, full_order=full_order)


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
                vectorize: bool = False, full_order: list[str] | None = None) -> Path:
    from tqdm.auto import tqdm

    from motiflens.experiments.aggregate import write_summary

    if (out / "data").is_dir():
        _clean_partial_files(out / "data")
    dataset = prepare_dataset(experiment, out, data)
    length, n_outputs = _dataset_shape(dataset)
    for entry in experiment.models:  # fail before any training on a bad row
        build_spec(entry, length, n_outputs)
    digest = verify_dataset(out, dataset)
    _check_or_write_sweep(out, _sweep_record(experiment, sweep_seed, epochs, dataset, out),
                          experiment, trials, executor, vectorize, digest=digest,
                          full_order=full_order)

    tasks = plan_trials(experiment, out, trials, sweep_seed, dataset, epochs)
    todo = [t for t in tasks if not (Path(t.trial_dir) / RESULT).is_file()]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), disable=not progress,
               desc=experiment.name, unit="trial", dynamic_ncols=True)

    running: dict[tuple[str, int], tuple[int, int]] = {}  # (row, trial) -> (epoch, max epochs)
    last_done = [""]

    def show() -> None:
        now = [f"{m} #{t} epoch {e}/{limit}" for (m, t), (e, limit) in running.items()]
        bar.set_postfix_str(" | ".join(filter(None, [last_done[0], *now])))

    def on_epoch(task: TrialTask, epoch: int) -> None:
        key = (task.model_id, task.trial)
        running[key] = (epoch, running[key][1] if key in running else max_epochs(task))
        show()

    def on_done(task: TrialTask, result: dict[str, Any]) -> None:
        auroc = result.get("auroc")
        running.pop((task.model_id, task.trial), None)
        last_done[0] = (f"{task.model_id} #{task.trial} AU-ROC {auroc:.3f}" if auroc is not None
                        else f"{task.model_id} #{task.trial}")
        show()
        bar.update(1)

    try:
        executor.run(group_by_model(todo) if vectorize else todo, on_done,
                     on_epoch if progress else None)
    except SweepError:
        bar.close()
        write_summary(out)  # the completed trials are summarised even when others failed
        raise
    bar.close()
    write_summary(out)
    return out
