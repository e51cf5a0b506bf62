"""Datasets: the motiflens HDF5 layout (:mod:`motiflens.data.dataset`, the one owner of the
format), one-hot encoding, and the builders (FASTA/BED, genome + peaks, DeepSEA, the real-data
example). Names are imported on first use, so importing the format does not load the builders.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "FORMAT": "motiflens.data.dataset", "SPLITS": "motiflens.data.dataset",
    "Dataset": "motiflens.data.dataset", "DatasetWriter": "motiflens.data.dataset",
    "Split": "motiflens.data.dataset", "load_dataset": "motiflens.data.dataset",
    "write_dataset": "motiflens.data.dataset",
    "decode": "motiflens.data.encoding", "one_hot_encode": "motiflens.data.encoding",
    "build_example": "motiflens.data.example", "fetch_example_wheel": "motiflens.data.example",
    "relevant_motif_ids": "motiflens.data.example",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'motiflens.data' has no attribute {name!r}")
    return getattr(import_module(module), name)
