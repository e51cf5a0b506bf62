"""Containers of simulated data: the ground-truth instances, one split, the whole data set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from motiflens.data.dataset import GROUND_TRUTH_FIELDS, SPLITS
from motiflens.motifs import Motif

from .config import SimulationConfig


@dataclass
class GroundTruth:
    """Embedded motif instances, one row each (M rows), sorted by sequence then start.

    Attributes
    ----------
    seq : (M,) int64   index of the sequence in its split
    tf : (M,) int64    class index (position in the motif list)
    strand : (M,) int8 +1 forward PPM, -1 reverse complement
    start : (M,) int64 0-based first position
    width : (M,) int64 motif width w
    """

    seq: np.ndarray
    tf: np.ndarray
    strand: np.ndarray
    start: np.ndarray
    width: np.ndarray

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        """The five arrays by name (the HDF5 ``ground_truth/{split}`` group)."""
        return {name: getattr(self, name) for name in GROUND_TRUTH_FIELDS}

    def subset(self, rows: np.ndarray) -> "GroundTruth":
        """The instances selected by a boolean or integer index."""
        return GroundTruth(**{name: getattr(self, name)[rows] for name in GROUND_TRUTH_FIELDS})


@dataclass
class SimulatedSplit:
    """One split of the simulated data.

    Attributes
    ----------
    X : (N, 4, L) float32 one-hot sequences
    Y : (N, C) float32 labels
    model : (N, 4, L) float32 generating matrices
    ground_truth : GroundTruth with ``seq`` indexing this split
    index : (N,) int64 position of each sequence in generation order
    """

    X: np.ndarray
    Y: np.ndarray
    model: np.ndarray
    ground_truth: GroundTruth
    index: np.ndarray


@dataclass
class SimulatedData:
    """The simulated train / valid / test splits plus the motifs and the config."""

    train: SimulatedSplit
    valid: SimulatedSplit
    test: SimulatedSplit
    motifs: list[Motif]
    label_names: list[str]
    config: SimulationConfig
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> dict[str, SimulatedSplit]:
        """All three splits by name."""
        return {name: getattr(self, name) for name in SPLITS}
