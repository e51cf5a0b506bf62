"""The one HDF5 dataset layout that every motiflens dataset maker writes and every consumer reads.

Layout (``format`` attribute ``"motiflens-dataset-1"``)::

    X_train, X_valid, X_test   uint8 (N, 4, L) one-hot, rows A, C, G, T; chunked, compressed
    Y_train, Y_valid, Y_test   uint8 (N, C) binary labels
    model_{split}              optional float32 (N, 4, L) generating matrices (simulated data)
    ground_truth/{split}/      optional group of 1-D arrays seq, tf, strand (int8 +1/-1),
                               start, width: one row per embedded motif instance
    attrs: label_names (JSON list), config (JSON), provenance (JSON), format

The original Koo & Eddy (2019) files (``X_*`` float32 (N, 4, 200), ``Y_*``, ``model_*``, no
attributes) are read too; their classes get default names (see :func:`default_label_names`).

The package is the one owner of the format and every name is importable from here:
:mod:`~motiflens.data.dataset.layout` (split names, format tag, shape and value rules),
:mod:`~motiflens.data.dataset.reader` (:func:`load_dataset`, :class:`Dataset`, :class:`Split`,
:func:`dataset_digest`) and :mod:`~motiflens.data.dataset.writer` (:func:`write_dataset`,
:class:`DatasetWriter`).
"""

from __future__ import annotations

from motiflens.data.dataset.layout import (
    CHUNK_ROWS,
    FORMAT,
    GROUND_TRUTH_FIELDS,
    SPLITS,
    check_shapes,
    check_values,
    required_keys,
)
from motiflens.data.dataset.reader import (
    LAZY_CHECK_ROWS,
    Dataset,
    Split,
    dataset_digest,
    default_label_names,
    load_dataset,
)
from motiflens.data.dataset.writer import (
    ConstantLabelWarning,
    DatasetWriter,
    warn_constant_labels,
    write_dataset,
)

__all__ = [
    "CHUNK_ROWS", "FORMAT", "GROUND_TRUTH_FIELDS", "LAZY_CHECK_ROWS", "SPLITS",
    "ConstantLabelWarning", "Dataset", "DatasetWriter", "Split", "check_shapes", "check_values",
    "dataset_digest", "default_label_names", "load_dataset", "required_keys",
    "warn_constant_labels", "write_dataset",
]
