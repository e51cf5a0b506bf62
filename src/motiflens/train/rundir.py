"""The run directory: the one place that writes and reads its files.

A run directory holds::

    config.json     spec, train config, dataset path and config, provenance (and, for a trial
                    of a vectorised group, a ``vectorized`` record)
    history.tsv     epoch, train_loss, valid_loss, valid_auroc, valid_aupr, seconds, lr
    checkpoint.pt   best weights: {state_dict, spec, train_config, epoch, valid_loss, provenance}
    last.pt         resume state: model, optimizer, best weights, RNG states, spec, train config,
                    and the progress (epoch, best_loss, best_epoch, since, stopped_early,
                    history, wall_time)
    metrics.json    test (and best-epoch validation) per-class and mean AU-ROC / AU-PR

``train_config`` is ``TrainConfig.to_dict()``, one flat mapping (records written before a field
existed lack it; it takes its default when read). ``last.pt``'s ``rng`` is
``{"shuffle": shuffle generator state, "torch": dropout RNG state, "cuda": CUDA RNG state or
None}``. The ``.pt`` files hold tensors, numbers, strings and containers only and are read with
``torch.load(weights_only=True)``.

Both trainers (:func:`motiflens.train.train`, :func:`motiflens.train.train_trials`) write this
layout through :class:`RunDir` and keep their early-stopping progress with :func:`new_progress`
/ :func:`record_epoch`, so a run interrupted under one can be resumed by the other.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from motiflens import _io
from motiflens.errors import ConfigError, FormatError
from motiflens.models import ModelSpec, build_model, spec_from_dict
from motiflens.train.config import TrainConfig, resolve_device

__all__ = ["HISTORY_COLUMNS", "RESUMABLE_CHANGES", "RUN_FILES", "RunDir", "cpu_state",
           "dataset_record", "history_row", "is_finished", "load_checkpoint", "load_resume_state",
           "load_run", "new_progress", "progress_from", "record_epoch", "rng_record",
           "unfinished_reason"]

RUN_FILES = ("config.json", "history.tsv", "checkpoint.pt", "last.pt", "metrics.json")
HISTORY_COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_auroc", "valid_aupr", "seconds", "lr")

#: Config fields that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = frozenset({"device", "num_threads", "max_epochs", "patience",
                               "eval_batch_size", "stream_chunk"})


# --------------------------------------------------------------------------------------------
# Progress: early stopping (stored in last.pt)
# --------------------------------------------------------------------------------------------

def new_progress() -> dict[str, Any]:
    """The progress of a run before its first epoch (the keys ``last.pt`` stores)."""
    return {"epoch": 0, "best_loss": math.inf, "best_epoch": 0, "since": 0,
            "stopped_early": False, "history": [], "wall_time": 0.0}


def progress_from(saved: dict[str, Any]) -> dict[str, Any]:
    """The progress stored in a ``last.pt`` (as read by :func:`load_resume_state`)."""
    progress = new_progress()
    progress.update({k: saved[k] for k in progress})
    return progress


def is_finished(progress: dict[str, Any], max_epochs: int) -> bool:
    """Stopped early, or ``max_epochs`` run."""
    return bool(progress["stopped_early"]) or progress["epoch"] >= max_epochs


def history_row(epoch: int, train_loss: float, valid_loss: float, valid: dict[str, Any],
                seconds: float, lr: float) -> dict[str, Any]:
    """One ``history.tsv`` row (:data:`HISTORY_COLUMNS`); ``valid`` is an ``evaluate`` result."""
    return {"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
            "valid_auroc": valid["mean_auroc"], "valid_aupr": valid["mean_aupr"],
            "seconds": seconds, "lr": lr}


def record_epoch(progress: dict[str, Any], row: dict[str, Any], patience: int | None) -> bool:
    """Add an epoch's ``row`` to ``progress``; True when its validation loss is a new best.

    The best epoch is the one with the lowest validation BCE (ties keep the earlier epoch);
    after ``patience`` epochs without a new best the run is marked ``stopped_early``.
    """
    progress["history"].append(row)
    progress["wall_time"] += row["seconds"]
    progress["epoch"] = row["epoch"]
    improved = row["valid_loss"] < progress["best_loss"]
    if improved:
        progress.update(best_loss=row["valid_loss"], best_epoch=row["epoch"], since=0)
    else:
        progress["since"] += 1
    if patience is not None and progress["since"] >= patience:
        progress["stopped_early"] = True
    return improved


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of ``model.state_dict()`` (what the checkpoints store)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def rng_record(shuffle: torch.Generator, dropout: torch.Tensor,
               cuda: torch.Tensor | None = None) -> dict[str, Any]:
    """``last.pt``'s ``rng``: the shuffle generator, the dropout RNG state and the CUDA one."""
    return {"shuffle": shuffle.get_state(), "torch": dropout, "cuda": cuda}


def dataset_record(dataset: Any) -> dict[str, Any]:
    """``config.json``'s ``dataset``: resolved path, generating config, labels, split sizes."""
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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

class RunDir:
    """The files of one run directory, for one spec and train config.

    Use :meth:`open`; then :meth:`write_config` once, :meth:`save_epoch` after every epoch and
    :meth:`write_metrics` at the end.
    """

    def __init__(self, path: str | Path, spec_dict: dict[str, Any], config_dict: dict[str, Any]):
        self.path = Path(path)
        self.paths = {name: self.path / name for name in RUN_FILES}
        self.spec_dict, self.config_dict = spec_dict, config_dict

    @classmethod
    def open(cls, path: str | Path, spec_dict: dict[str, Any], config_dict: dict[str, Any],
             resume: bool) -> tuple["RunDir", dict[str, Any] | None]:
        """Create the directory; return it and its resume state (``last.pt``) when ``resume``
        and there is one, else ``None`` after deleting any earlier run's files (a fresh start:
        no file of an earlier run may survive next to the new ones).

        Raises
        ------
        ConfigError
            ``last.pt`` belongs to another spec or train config (see :func:`load_resume_state`).
        """
        run = cls(path, spec_dict, config_dict)
        run.path.mkdir(parents=True, exist_ok=True)
        if resume and run.paths["last.pt"].exists():
            return run, load_resume_state(run.path, spec_dict, config_dict)
        for name in ("history.tsv", "checkpoint.pt", "last.pt", "metrics.json"):
            run.paths[name].unlink(missing_ok=True)
        return run, None

    @functools.cached_property
    def provenance(self) -> dict[str, Any]:
        """This session's provenance record (made on first use)."""
        return _io.provenance(seed=self.config_dict["seed"])

    def finished_result(self, saved: dict[str, Any] | None, max_epochs: int
                        ) -> dict[str, Any] | None:
        """The result (``metrics.json`` plus ``run_dir``) of a finished run, else None."""
        if saved is None or not is_finished(saved, max_epochs) \
                or not self.paths["metrics.json"].exists():
            return None
        return {**_io.read_json(self.paths["metrics.json"]), "run_dir": str(self.path)}

    def write_config(self, dataset: Any, device: torch.device, n_parameters: int,
                     **extra: Any) -> None:
        """Write ``config.json`` (``extra``: further top-level records, e.g. ``vectorized``)."""
        _io.write_json(self.paths["config.json"], {
            "spec": self.spec_dict, "train_config": self.config_dict,
            "dataset": dataset_record(dataset), "device": str(device),
            "n_parameters": n_parameters, "provenance": self.provenance, **extra,
        })

    def save_epoch(self, progress: dict[str, Any], improved: bool,
                   model_state: dict[str, torch.Tensor], optimizer_state: dict[str, Any],
                   best_state: dict[str, torch.Tensor], rng: dict[str, Any],
                   extra: dict[str, Any] | None = None) -> None:
        """The files of an epoch recorded by :func:`record_epoch`: ``checkpoint.pt`` when it
        is a new best (``best_state``), ``history.tsv`` and ``last.pt`` (``extra``: further
        resume state, e.g. the gradient scaler)."""
        if improved:
            _save({"state_dict": best_state, "spec": self.spec_dict,
                   "train_config": self.config_dict, "epoch": progress["best_epoch"],
                   "valid_loss": float(progress["best_loss"]),
                   "provenance": _io.to_jsonable(self.provenance)}, self.paths["checkpoint.pt"])
        self.write_history(progress["history"])
        _save({"model": model_state, "optimizer": optimizer_state, "best_state": best_state,
               "rng": rng, "spec": self.spec_dict, "train_config": self.config_dict,
               **(extra or {}), **progress}, self.paths["last.pt"])

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        """Write ``history.tsv`` (all rows so far)."""
        with _io.atomic_open(self.paths["history.tsv"], "w") as handle:
            handle.write("\t".join(HISTORY_COLUMNS) + "\n")
            for row in rows:
                handle.write("\t".join(_fmt(row[c]) for c in HISTORY_COLUMNS) + "\n")

    def write_metrics(self, spec_name: str, n_parameters: int, label_names: list[str],
                      test: dict[str, Any], valid: dict[str, Any], progress: dict[str, Any],
                      device: torch.device) -> dict[str, Any]:
        """Write ``metrics.json``; return its content plus ``run_dir``."""
        metrics = {
            "model": spec_name, "n_parameters": n_parameters, "label_names": label_names,
            "test": test, "valid": valid, "best_epoch": progress["best_epoch"],
            "best_valid_loss": progress["best_loss"], "epochs_run": progress["epoch"],
            "stopped_early": progress["stopped_early"], "wall_time_s": progress["wall_time"],
            "device": str(device), "provenance": self.provenance,
        }
        _io.write_json(self.paths["metrics.json"], metrics)
        return {**_io.to_jsonable(metrics), "run_dir": str(self.path)}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def _save(obj: Any, path: Path) -> None:
    with _io.atomic_path(path) as tmp:
        torch.save(obj, tmp)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def _load_torch(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FormatError(path, "file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise FormatError(path, f"not a readable checkpoint ({_load_failure(path, exc)}); "
                          "it is not one motiflens wrote, or it was cut short: train the run "
                          "again (`motiflens train --no-resume`)") from None
    if not isinstance(obj, dict):
        raise FormatError(path, f"expected a dict checkpoint, found {type(obj).__name__}")
    return obj


def _load_failure(path: Path, exc: Exception) -> str:
    """What was wrong with a file ``torch.load`` refused, in a few words (torch's own message
    runs over several lines and suggests ``weights_only=False``, which is unsafe here)."""
    import pickle
    import zipfile

    if path.stat().st_size == 0:
        return "empty file"
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        return "not a PyTorch file of tensors and plain data"
    if isinstance(exc, pickle.UnpicklingError):
        return "holds objects other than tensors and plain data, refused by weights_only=True"
    if isinstance(exc, EOFError):
        return "truncated file"
    first = (str(exc).strip().splitlines() or [""])[0][:160]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _config_diff(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    # Keys added to TrainConfig later (precision, compile) take their defaults in older runs.
    defaults = TrainConfig().to_dict()
    saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
    keys = (set(saved) | set(current)) - RESUMABLE_CHANGES
    return sorted(k for k in keys if saved.get(k) != current.get(k))


def load_resume_state(out: Path, spec_dict: dict[str, Any], config_dict: dict[str, Any]
                      ) -> dict[str, Any]:
    """Read ``out/last.pt`` and check it belongs to the same spec and train config.

    Raises
    ------
    ConfigError
        The directory holds a run of another model spec or with other train settings
        (keys in :data:`RESUMABLE_CHANGES` may differ).
    """
    saved = _load_torch(Path(out) / "last.pt")
    if saved.get("spec") != spec_dict:
        before = saved.get("spec") or {}
        keys = sorted(k for k in set(before) | set(spec_dict) if before.get(k) != spec_dict.get(k))
        raise ConfigError(f"{out}: holds a run of a different model spec (key(s) {keys}: e.g. "
                          "another --model, --protocol's init/batch norm, or --activation); pass "
                          "--no-resume (resume=False) to overwrite it or choose another --out "
                          "directory")
    diff = _config_diff(saved.get("train_config", {}), config_dict)
    if diff:
        raise ConfigError(f"{out}: holds a run with different train config key(s) {diff}; "
                          "pass --no-resume (resume=False) to overwrite it or choose another "
                          "--out directory")
    return saved


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

    The model carries the run's class names as ``model.label_names`` (from ``metrics.json``,
    once training has finished).

    Raises
    ------
    FormatError
        The directory or its ``checkpoint.pt`` is missing or unreadable.
    """
    run = Path(run_dir)
    if run.is_file():
        raise FormatError(run, "a file, not a run directory: give the folder that "
                          "`motiflens train --out` (or a sweep's runs/ID/trial-N) holds")
    if not run.is_dir():
        raise FormatError(run, "run directory not found")
    if (run / "sweep.json").is_file():
        raise FormatError(run, "a sweep directory, not a run: give one of its trials "
                          f"({run / 'runs' / 'ID' / 'trial-N'}), or read all of them with "
                          "`motiflens reinterpret` / `motiflens analyze`")
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
    metrics = run / "metrics.json"
    if metrics.is_file():  # the classes, for tables that name them (filter_importance)
        names = _io.read_json(metrics).get("label_names")
        if names and len(names) == spec.n_outputs:
            model.label_names = [str(name) for name in names]
    model.to(resolve_device(device)).eval()
    return model, spec, config


def unfinished_reason(run_dir: str | Path) -> str | None:
    """Why a run directory's training is not finished, or None when it is.

    A run is finished when ``metrics.json`` exists (written as training's last step); a run
    stopped early (killed, interrupted) has a ``checkpoint.pt`` of its best epoch so far. A
    folder without ``checkpoint.pt`` is no run at all: None (:func:`load_run` raises).
    """
    run = Path(run_dir)
    if (run / "metrics.json").is_file() or not (run / "checkpoint.pt").is_file():
        return None  # finished, or nothing to read (load_run says why)
    history = run / "history.tsv"
    epochs = max(0, len(history.read_text().splitlines()) - 1) if history.is_file() else 0
    return (f"training did not finish (no metrics.json; {epochs} epoch(s) in history.tsv): "
            "these are the best weights so far; rerun `motiflens train` with the same --out "
            "to resume")

