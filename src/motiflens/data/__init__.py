"""Datasets: the motiflens HDF5 layout (:mod:`motiflens.data.dataset`) and one-hot encoding."""

from motiflens.data.dataset import (
    FORMAT,
    SPLITS,
    Dataset,
    DatasetWriter,
    Split,
    load_dataset,
    write_dataset,
)
from motiflens.data.encoding import decode, one_hot_encode
from motiflens.data.example import build_example, fetch_example_wheel, relevant_motif_ids

__all__ = [
    "FORMAT",
    "SPLITS",
    "Dataset",
    "DatasetWriter",
    "Split",
    "build_example",
    "decode",
    "fetch_example_wheel",
    "load_dataset",
    "one_hot_encode",
    "relevant_motif_ids",
    "write_dataset",
]
