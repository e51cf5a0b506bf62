"""Writing simulated data to HDF5 in the motiflens dataset layout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from motiflens._io import to_jsonable
from motiflens.data.dataset import write_dataset
from motiflens.motifs import Motif

from .config import SimulationConfig
from .generate import simulate
from .records import SimulatedData


def write_simulated(data: SimulatedData, path: str | os.PathLike) -> Path:
    """Write simulated data in the motiflens dataset layout (X, Y, model_*, ground_truth)."""
    extra: dict[str, Any] = {f"model_{name}": s.model for name, s in data.splits.items()}
    extra["ground_truth"] = {name: s.ground_truth.as_dict() for name, s in data.splits.items()}
    extra["ground_truth"]["motifs"] = [
        {"id": m.id, "name": m.name, "ppm": m.ppm.tolist()} for m in data.motifs
    ]
    config = _config_record(data)
    return write_dataset(
        path,
        {name: (s.X, s.Y) for name, s in data.splits.items()},
        data.label_names,
        config=config,
        provenance=data.provenance,
        extra=extra,
    )


def _config_record(data: SimulatedData) -> dict[str, Any]:
    """The config as JSON-ready data; Motif objects are recorded by id and name only."""
    record = to_jsonable(data.config)
    if not isinstance(data.config.motifs, (str, os.PathLike)) and all(
        isinstance(m, Motif) for m in data.config.motifs
    ):
        record["motifs"] = [m.id for m in data.config.motifs]
    record["motif_ids"] = [m.id for m in data.motifs]
    return record


def simulate_to_hdf5(config: SimulationConfig | None, path: str | os.PathLike) -> Path:
    """Simulate and write the data set to ``path`` (atomically); return the path."""
    return write_simulated(simulate(config), path)
