"""Which dataset a run directory is read or resumed with (its ``config.json`` records it).

- :func:`run_dataset`: the dataset to read a finished run with (``--data``, else the recorded
  one, which must still be there);
- :func:`check_run_dataset`: sequences of the right length and label count for the model;
- :func:`check_same_dataset`: a run is resumed (or returned as finished) only on the dataset it
  was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from motiflens import _io
from motiflens.errors import ConfigError
from motiflens.models import ModelSpec
from motiflens.train.rundir import dataset_record


def run_dataset(run_dir: str | Path, data: str | Path | None = None) -> Path:
    """The dataset to read a run with: ``data`` when given, else the one its ``config.json``
    recorded (which must still be there).

    Raises
    ------
    ConfigError
        Nothing recorded, or the recorded file is gone; both name ``--data``.
    """
    if data:
        return Path(data)
    config = Path(run_dir) / "config.json"
    record = _io.read_json(config).get("dataset", {}) or {}
    path = record.get("path")
    if not path:
        raise ConfigError(f"{config}: no dataset path recorded; pass --data (data=...)")
    if not Path(path).exists():
        raise ConfigError(f"{path}: the dataset recorded in {config} is not there (moved or "
                          "deleted?); pass its new place with --data PATH")
    return Path(path)


def check_run_dataset(spec: ModelSpec, path: str | Path, X_shape: tuple[int, ...],
                      n_labels: int | None = None) -> None:
    """Raise ``ConfigError`` naming ``path`` and ``--data`` unless sequences of shape
    ``X_shape: (N, C, L)`` (and ``n_labels`` labels, when given) fit ``spec``."""
    length = getattr(spec, "input_length", None)
    if length is not None and X_shape[-1] != length:
        raise ConfigError(f"{path}: sequences of length {X_shape[-1]}, but {spec.name} was "
                          f"trained on length {length}; pass a dataset of its length with --data")
    outputs = getattr(spec, "n_outputs", None)
    if n_labels is not None and outputs is not None and n_labels != outputs:
        raise ConfigError(f"{path}: {n_labels} label(s), but {spec.name} has {outputs} "
                          "outputs; pass the dataset it was trained on (or one with the same "
                          "labels) with --data")


def check_same_dataset(run_dir: str | Path, dataset: Any) -> None:
    """Refuse to resume (or to report as finished) a run on another dataset than its own.

    Compares what ``config.json`` recorded of the dataset (the configuration that made it, its
    labels and split sizes; not the path, so a moved file resumes) with ``dataset``.

    Raises
    ------
    ConfigError
        Naming what differs, the dataset the run was trained on, ``--no-resume`` and ``--data``.
    """
    config = Path(run_dir) / "config.json"
    if not config.is_file():
        return
    before = _io.to_jsonable(_io.read_json(config).get("dataset") or {})
    now = _io.to_jsonable(dataset_record(dataset))
    differ = [key for key in ("config", "label_names", "sizes")
              if key in before and before[key] != now.get(key)]  # (older runs: what they have)
    if differ:
        raise ConfigError(f"{run_dir}: holds a run trained on another dataset "
                          f"({before.get('path')}; its {', '.join(differ)} differ from "
                          f"{now.get('path')}'s): pass "
                          "--no-resume to train again on this one, or --data with the run's own "
                          "to resume it")
