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

__all__ = [
    "FORMAT",
    "SPLITS",
    "Dataset",
    "DatasetWriter",
    "Split",
    "decode",
    "load_dataset",
    "one_hot_encode",
    "write_dataset",
]
