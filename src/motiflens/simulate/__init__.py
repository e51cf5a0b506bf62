"""The synthetic benchmark of Koo & Eddy (2019), seeded and deterministic (docs/PAPER.md §1).

The generation rules (motif counts, gap rules ``"code"`` / ``"buffer"``, sampling, splits) are
described in :mod:`~motiflens.simulate.generate`.

Submodules
----------
- :mod:`~motiflens.simulate.config`: ``SimulationConfig``, its validation and split sizes.
- :mod:`~motiflens.simulate.sources`: resolving the ``motifs`` setting; the motif pool.
- :mod:`~motiflens.simulate.records`: ``GroundTruth``, ``SimulatedSplit``, ``SimulatedData``.
- :mod:`~motiflens.simulate.generate`: drawing layouts, sequence models and sequences.
- :mod:`~motiflens.simulate.hdf5`: writing simulated data to HDF5.
"""

from __future__ import annotations

from .config import SPACINGS, SimulationConfig, split_sizes
from .generate import build_models, draw_layout, sample_sequences, simulate
from .hdf5 import simulate_to_hdf5, write_simulated
from .records import GroundTruth, SimulatedData, SimulatedSplit
from .sources import MotifSource, label_names_of, motif_pool, resolve_motifs

__all__ = [
    "SPACINGS",
    "GroundTruth",
    "MotifSource",
    "SimulatedData",
    "SimulatedSplit",
    "SimulationConfig",
    "build_models",
    "draw_layout",
    "label_names_of",
    "motif_pool",
    "resolve_motifs",
    "sample_sequences",
    "simulate",
    "simulate_to_hdf5",
    "split_sizes",
    "write_simulated",
]
