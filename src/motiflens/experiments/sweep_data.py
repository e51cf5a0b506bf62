"""The dataset of a sweep: simulated once into the sweep directory, given with ``--data``,
declared by the experiment, or the file recorded in ``sweep.json`` when resuming; and the check
that it is the dataset the sweep's trials were trained on (content digest)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from motiflens import _io
from motiflens.errors import ConfigError, DatasetError
from motiflens.experiments.registry import Experiment

#: The sweep's settings file (written by ``experiments.sweep``; read here for its dataset).
SWEEP = "sweep.json"


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
        recorded = _recorded_dataset(out_dir)
        if recorded is not None and recorded.is_file():
            return recorded  # the file this sweep ran on (its content digest is checked next)
        where = f" (this sweep ran on {recorded}, which is not here)" if recorded else ""
        raise ConfigError(
            f"experiment {experiment.name!r} trains on a dataset file{where}: pass it with "
            "--data PATH (build it with `motiflens data example` for table2-real, `motiflens "
            "data deepsea ...` for table2, or `motiflens data fasta ...` for your own)"
        )
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file not found (experiment {experiment.name!r})")
    return path


def _recorded_dataset(out_dir: Path) -> Path | None:
    """The dataset path recorded in ``out_dir/sweep.json`` (relative paths: to ``out_dir``)."""
    state = out_dir / SWEEP
    if not state.is_file():
        return None
    text = _io.read_json(state).get("settings", {}).get("dataset")
    if not text:
        return None
    path = Path(text).expanduser()
    return (path if path.is_absolute() else out_dir / path).resolve()


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
