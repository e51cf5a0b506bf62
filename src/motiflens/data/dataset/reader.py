"""Reading a dataset file: :func:`load_dataset` (in memory or lazily), :class:`Dataset`,
:class:`Split`, :func:`dataset_digest`. The layout is described in :mod:`motiflens.data.dataset`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from motiflens.data.dataset.layout import (
    CHUNK_ROWS,
    GROUND_TRUTH_FIELDS,
    SPLITS,
    check_shapes,
    check_values,
    required_keys,
)
from motiflens.errors import DatasetError

__all__ = ["LAZY_CHECK_ROWS", "Dataset", "Split", "dataset_digest", "default_label_names",
           "load_dataset"]

#: Rows of X checked per split when a dataset is opened lazily (``in_memory=False``).
LAZY_CHECK_ROWS = 4 * CHUNK_ROWS


@dataclass
class Split:
    """One split of a dataset.

    Attributes
    ----------
    X : numpy.ndarray or h5py.Dataset
        (N, 4, L) one-hot sequences. float32 in memory; with ``load_dataset(in_memory=False)``
        the raw h5py dataset (uint8 for motiflens files), read on indexing: use :meth:`take`
        to get float32 batches.
    Y : numpy.ndarray or h5py.Dataset
        (N, C) labels in {0, 1}; float32 in memory, the raw h5py dataset when lazy.
    name : str
        "train", "valid" or "test".
    """

    X: Any
    Y: Any
    name: str = ""

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n(self) -> int:
        """Number of sequences N."""
        return len(self)

    @property
    def length(self) -> int:
        """Sequence length L."""
        return int(self.X.shape[2])

    @property
    def n_classes(self) -> int:
        """Number of label columns C."""
        return int(self.Y.shape[1])

    @property
    def lazy(self) -> bool:
        """True when X and Y are h5py datasets read on demand."""
        return not isinstance(self.X, np.ndarray)

    def take(self, index: np.ndarray | slice | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``index`` as float32 arrays, whether the split is in memory or lazy.

        Parameters
        ----------
        index : slice or (B,) integer array
            Rows to read, in any order (duplicates allowed).

        Returns
        -------
        X : (B, 4, L) float32
        Y : (B, C) float32
        """
        if isinstance(index, slice):
            return _as_float(self.X[index]), _as_float(self.Y[index])
        index = np.asarray(index, dtype=np.int64)
        if not self.lazy:
            return _as_float(self.X[index]), _as_float(self.Y[index])
        # h5py fancy indexing needs strictly increasing indices: read sorted unique rows, reorder.
        unique, inverse = np.unique(index, return_inverse=True)
        return _as_float(self.X[unique][inverse]), _as_float(self.Y[unique][inverse])


@dataclass
class Dataset:
    """Train/valid/test splits plus label names and the file's attributes.

    When loaded with ``in_memory=False`` the HDF5 file stays open (read-only) until
    :meth:`close` is called or the ``with`` block ends; the splits read from it lazily.
    """

    train: Split
    valid: Split
    test: Split
    label_names: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    _file: h5py.File | None = field(default=None, repr=False)

    def split(self, name: str) -> Split:
        """The split called ``name`` ("train", "valid" or "test")."""
        if name not in SPLITS:
            raise DatasetError(f"unknown split {name!r}: expected one of {', '.join(SPLITS)}")
        return getattr(self, name)

    @property
    def splits(self) -> dict[str, Split]:
        """All three splits by name."""
        return {name: getattr(self, name) for name in SPLITS}

    @property
    def length(self) -> int:
        """Sequence length L."""
        return self.train.length

    @property
    def n_classes(self) -> int:
        """Number of classes C."""
        return self.train.n_classes

    def read_model(self, split: str) -> np.ndarray | None:
        """The (N, 4, L) float32 generating matrices of ``split``, or None if the file has none."""
        self.split(split)
        with self._open() as handle:
            key = f"model_{split}"
            return np.asarray(handle[key][()], dtype=np.float32) if key in handle else None

    def read_ground_truth(self, split: str) -> dict[str, np.ndarray] | None:
        """Embedded motif instances of ``split``: arrays seq, tf, strand, start, width (M,).

        Returns None when the file stores no ground truth.
        """
        self.split(split)
        with self._open() as handle:
            key = f"ground_truth/{split}"
            if key not in handle:
                return None
            group = handle[key]
            return {name: np.asarray(group[name][()]) for name in GROUND_TRUTH_FIELDS if name in group}

    def close(self) -> None:
        """Close the HDF5 file behind lazy splits (no-op for in-memory datasets)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _open(self):
        if self._file is not None:
            yield self._file
            return
        if self.path is None:
            raise DatasetError("dataset has no file to read model matrices or ground truth from")
        with h5py.File(self.path, "r") as handle:
            yield handle


def default_label_names(n_classes: int) -> list[str]:
    """Names for files without ``label_names``.

    The original Koo & Eddy files (synthetic and in vivo) both have 12 classes in the paper's
    order, so 12 classes get :data:`motiflens.jaspar.PAPER_TFS`; any other count ``class_0..``.
    """
    if n_classes == 12:
        from motiflens.jaspar import PAPER_TFS

        return list(PAPER_TFS)
    return [f"class_{i}" for i in range(n_classes)]


def load_dataset(path: str | os.PathLike, in_memory: bool = True) -> Dataset:
    """Open a dataset file and check its layout.

    Parameters
    ----------
    path : path-like
        A motiflens dataset, or an original Koo & Eddy HDF5 file.
    in_memory : bool
        True: read every split into float32 arrays and close the file. False: keep the file
        open and return splits backed by h5py datasets (streamed by the trainer through
        :meth:`Split.take`); close it with :meth:`Dataset.close` or a ``with`` block.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        One line naming the file, the key and the expected vs found shape, when the file is
        missing, not HDF5, lacks a key, or has inconsistent shapes or label names; or naming
        the key and first offending row when X is not one-hot (NaN, values other than 0/1, a
        position with several 1s) or Y is not in {0, 1} (see :func:`check_values`; lazily
        opened files have their labels and first ``LAZY_CHECK_ROWS`` sequences checked).
    """
    path = Path(path)
    handle = _open_hdf5(path)
    try:
        shapes = {key: _dataset_shape(path, handle, key) for key in required_keys()}
        n_classes = check_shapes(path, shapes)
        attrs = _read_attrs(path, handle)
        label_names = _label_names(path, attrs, n_classes)
        splits = {name: _read_split(path, handle, name, in_memory) for name in SPLITS}
    except BaseException:
        handle.close()
        raise
    if in_memory:
        handle.close()
    return Dataset(
        **splits,
        label_names=label_names,
        attrs=attrs,
        path=path,
        _file=None if in_memory else handle,
    )


def _open_hdf5(path: Path) -> h5py.File:
    if not path.exists():
        raise DatasetError(f"{path}: file not found")
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory, expected an HDF5 dataset file")
    if not h5py.is_hdf5(path):
        raise DatasetError(f"{path}: not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open HDF5 file ({exc})") from None


def _dataset_shape(path: Path, handle: h5py.File, key: str) -> tuple[int, ...]:
    if key not in handle:
        raise DatasetError(f"{path}: missing key '{key}' (expected {', '.join(required_keys())})")
    node = handle[key]
    if not isinstance(node, h5py.Dataset):
        raise DatasetError(f"{path}: key '{key}' is a group, expected an array")
    return tuple(int(s) for s in node.shape)


def _read_attrs(path: Path, handle: h5py.File) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in handle.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, str) and key in ("label_names", "config", "provenance"):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise DatasetError(f"{path}: attribute '{key}': expected JSON, found {value[:60]!r}") from None
        elif isinstance(value, np.ndarray):
            value = [v.decode("utf-8") if isinstance(v, bytes) else v.item() for v in value]
        attrs[key] = value
    return attrs


def _label_names(path: Path, attrs: dict[str, Any], n_classes: int) -> list[str]:
    names = attrs.get("label_names")
    if names is None:
        attrs["label_names_defaulted"] = True
        return default_label_names(n_classes)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{path}: attribute 'label_names': expected a JSON list of strings")
    if len(names) != n_classes:
        raise DatasetError(
            f"{path}: attribute 'label_names': expected {n_classes} names (Y has {n_classes} "
            f"columns), found {len(names)}"
        )
    return list(names)


def _read_split(path: Path, handle: h5py.File, name: str, in_memory: bool) -> Split:
    xk, yk = f"X_{name}", f"Y_{name}"
    if not in_memory:
        # Lazy: all labels (N x C, small) and the first LAZY_CHECK_ROWS sequences are checked;
        # the rest is read batch by batch later (a full pass would defeat streaming).
        check_values(path, yk, handle[yk][()], one_hot=False)
        check_values(path, xk, handle[xk][:LAZY_CHECK_ROWS], one_hot=True)
        return Split(X=handle[xk], Y=handle[yk], name=name)
    X, Y = handle[xk][()], handle[yk][()]
    check_values(path, xk, X, one_hot=True)
    check_values(path, yk, Y, one_hot=False)
    return Split(X=_as_float(X), Y=_as_float(Y), name=name)


def _as_float(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)


def dataset_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a dataset's content: every split's ``X`` and ``Y`` and the label names.

    Independent of compression, chunking and HDF5 attributes such as creation time, so a
    dataset simulated again on another machine from the same configuration has the same digest.

    Returns
    -------
    str
        ``"sha256:<hex>"``.
    """
    import hashlib

    digest = hashlib.sha256()
    path = Path(path)
    with _open_hdf5(path) as handle:
        attrs = _read_attrs(path, handle)
        for key in required_keys():
            data = np.ascontiguousarray(handle[key][()])
            digest.update(f"{key}:{data.dtype.str}:{data.shape}".encode())
            digest.update(data.tobytes())
        n_classes = int(handle["Y_train"].shape[1])
        digest.update("\t".join(_label_names(path, attrs, n_classes)).encode())
    return "sha256:" + digest.hexdigest()
