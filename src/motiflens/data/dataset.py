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
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from motiflens._io import atomic_path, provenance as _provenance, to_jsonable
from motiflens.errors import DatasetError

SPLITS: tuple[str, str, str] = ("train", "valid", "test")
FORMAT = "motiflens-dataset-1"
CHUNK_ROWS = 256
GROUND_TRUTH_FIELDS: tuple[str, ...] = ("seq", "tf", "strand", "start", "width")


# --------------------------------------------------------------------------------------------
# In-memory / lazy containers
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


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
        shapes = {key: _dataset_shape(path, handle, key) for key in _required_keys()}
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


def _required_keys() -> list[str]:
    return [f"{kind}_{name}" for name in SPLITS for kind in ("X", "Y")]


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
        raise DatasetError(f"{path}: missing key '{key}' (expected {', '.join(_required_keys())})")
    node = handle[key]
    if not isinstance(node, h5py.Dataset):
        raise DatasetError(f"{path}: key '{key}' is a group, expected an array")
    return tuple(int(s) for s in node.shape)


def check_shapes(where: object, shapes: Mapping[str, tuple[int, ...]]) -> int:
    """Check the shapes of ``X_*``/``Y_*`` for all three splits; return the class count C.

    Parameters
    ----------
    where : object
        The file (or other origin) named in error messages.
    shapes : mapping
        ``{"X_train": (N, 4, L), "Y_train": (N, C), ...}`` for every split.

    Raises
    ------
    DatasetError
        X not 3-D with 4 channels, Y not 2-D, N differing between X and Y, no rows,
        or L / C differing between splits.
    """
    ref_length: tuple[str, int] | None = None
    ref_classes: tuple[str, int] | None = None
    for name in SPLITS:
        xk, yk = f"X_{name}", f"Y_{name}"
        xs, ys = shapes[xk], shapes[yk]
        if len(xs) != 3 or xs[1] != 4:
            raise DatasetError(f"{where}: key '{xk}': expected shape (N, 4, L), found {xs}")
        if len(ys) != 2:
            raise DatasetError(f"{where}: key '{yk}': expected shape (N, C), found {ys}")
        if ys[0] != xs[0]:
            raise DatasetError(
                f"{where}: key '{yk}': expected {xs[0]} rows to match '{xk}' {xs}, found {ys}"
            )
        if xs[0] == 0:
            raise DatasetError(f"{where}: key '{xk}': expected at least one sequence, found {xs}")
        if ref_length is None:
            ref_length, ref_classes = (xk, xs[2]), (yk, ys[1])
            continue
        if xs[2] != ref_length[1]:
            raise DatasetError(
                f"{where}: key '{xk}': expected length L={ref_length[1]} as in "
                f"'{ref_length[0]}', found shape {xs}"
            )
        if ys[1] != ref_classes[1]:
            raise DatasetError(
                f"{where}: key '{yk}': expected C={ref_classes[1]} classes as in "
                f"'{ref_classes[0]}', found shape {ys}"
            )
    return int(ref_classes[1])


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


#: Rows of X checked per split when a dataset is opened lazily (``in_memory=False``).
LAZY_CHECK_ROWS = 4 * CHUNK_ROWS


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


def check_values(where: object, key: str, array: np.ndarray, one_hot: bool) -> None:
    """Raise DatasetError unless ``array`` holds only 0/1 (and, if ``one_hot``, every column of
    every ``(4, L)`` sequence sums to 0 or 1).

    Cheap for the usual uint8 storage (a max and a channel sum); float arrays (the original
    Koo & Eddy files) are also checked for NaN and fractions. The message names the file, the
    key, the first offending row and what was expected.
    """
    array = np.asarray(array)
    if array.size == 0:
        return
    if array.dtype == np.bool_:
        binary = True
    elif array.dtype == np.uint8:
        binary = int(array.max()) <= 1
    else:
        binary = bool(np.all((array == 0) | (array == 1)))
    if binary and (not one_hot or array.ndim != 3
                   or int(array.sum(axis=1, dtype=np.uint8).max()) <= 1):
        return  # (values are 0/1 here, so a uint8 sum of 4 channels cannot overflow)
    rows = array.reshape(array.shape[0], -1)
    if not binary:
        bad = ~((rows == 0) | (rows == 1))
        row = int(np.argmax(bad.any(axis=1)))
        found = rows[row][bad[row]][0].item()
        what = "NaN" if isinstance(found, float) and np.isnan(found) else f"{found!r}"
        found_text = f"value {what} at row {row} (first offending row)"
    else:
        sums = array.sum(axis=1)
        row = int(np.argmax((sums > 1).any(axis=1)))
        col = int(np.argmax(sums[row] > 1))
        found_text = (f"{sums[row, col]:g} ones at position {col} of row {row} (first "
                      "offending row)")
    expected = ("one-hot sequences: values 0/1 with at most one 1 per position (rows A, C, G, T; "
                "all zeros = N)") if one_hot else "labels in {0, 1}"
    raise DatasetError(f"{where}: key '{key}': expected {expected}, found {found_text}")


def _as_float(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_dataset(
    path: str | os.PathLike,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    label_names: list[str],
    config: Any = None,
    provenance: dict[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    compression: str = "gzip",
) -> Path:
    """Write a complete dataset file atomically.

    Parameters
    ----------
    path : path-like
        Output file; replaced only once the whole file is written.
    splits : mapping
        ``{"train": (X, Y), "valid": (X, Y), "test": (X, Y)}`` with X (N, 4, L) one-hot
        (any numeric or bool dtype, values 0/1) and Y (N, C) in {0, 1}.
    label_names : list of str
        C class names.
    config : dataclass or dict, optional
        The generating configuration, stored as JSON in the ``config`` attribute.
    provenance : dict, optional
        Stored as JSON; defaults to :func:`motiflens._io.provenance`.
    extra : mapping, optional
        More content: numpy arrays become datasets (e.g. ``model_train``), dicts become groups
        (e.g. ``ground_truth`` -> ``{"train": {"seq": ..., ...}}``), strings, numbers and lists
        become attributes of the enclosing group (lists as JSON).
    compression : {"gzip", "lzf"}
        HDF5 filter; gzip at level 4.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    _check_split_names(path, splits)
    shapes = {}
    for name in SPLITS:
        X, Y = splits[name]
        shapes[f"X_{name}"], shapes[f"Y_{name}"] = np.shape(X), np.shape(Y)
    n_classes = check_shapes(path, shapes)
    _check_label_count(path, label_names, n_classes)
    positives: dict[str, tuple[np.ndarray, int]] = {}
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            for name in SPLITS:
                X, Y = splits[name]
                Y = _as_binary(path, f"Y_{name}", Y)
                _create_rows(handle, f"X_{name}", _as_binary(path, f"X_{name}", X), compression)
                _create_rows(handle, f"Y_{name}", Y, compression)
                positives[name] = (Y.sum(axis=0, dtype=np.int64), int(Y.shape[0]))
            _write_attrs(handle, label_names, config, provenance)
            if extra:
                _write_tree(handle, extra, compression)
    warn_constant_labels(path, label_names, positives, stacklevel=2)
    return path


class ConstantLabelWarning(UserWarning):
    """A label is positive for every sequence of a split, or for none: its AU-ROC / AU-PR on
    that split is undefined (reported as NaN/null and left out of the means)."""


def warn_constant_labels(path: object, label_names: list[str],
                         positives: Mapping[str, tuple[np.ndarray, int]],
                         stacklevel: int = 2) -> int:
    """Warn once, with a count, about every (label, split) whose labels are all 1 or all 0.

    Parameters
    ----------
    positives : mapping
        ``{split: ((C,) positive counts, rows)}``.
    stacklevel : int
        As seen from the caller: 2 attributes the warning to the caller's caller.

    Returns
    -------
    int
        The number of constant (label, split) pairs.
    """
    constant = []
    for split, (counts, rows) in positives.items():
        for name, count in zip(label_names, np.asarray(counts).tolist()):
            if rows and count in (0, rows):
                kind = "all positive" if count == rows else "all negative"
                constant.append(f"label {name!r} in split '{split}' ({kind}, {rows} rows)")
    if constant:
        import warnings

        warnings.warn(
            f"{path}: {len(constant)} label/split pair(s) with a constant label: "
            f"{'; '.join(constant)}; their AU-ROC/AU-PR on that split is undefined (left out "
            "of the means): use more sequences, other classes or negatives (`motiflens data "
            "... --shuffled-negatives`)",
            ConstantLabelWarning, stacklevel=stacklevel + 1)
    return len(constant)


class DatasetWriter:
    """Append sequences split by split, then publish the file atomically.

    The file is built under a temporary name next to ``path`` and renamed onto ``path`` when
    the writer is closed without error (end of the ``with`` block or :meth:`close`); on an
    exception (or :meth:`abort`) the temporary file is deleted and ``path`` is untouched.

    Parameters
    ----------
    path : path-like
        Output file.
    label_names : list of str
        C class names.
    length : int
        Sequence length L.
    config, provenance : optional
        As in :func:`write_dataset`.
    chunk_rows : int
        Rows per HDF5 chunk.
    compression : {"gzip", "lzf"}
        HDF5 filter.

    Examples
    --------
    >>> with DatasetWriter("out.h5", names, length=1000) as writer:   # doctest: +SKIP
    ...     for X, Y in batches:
    ...         writer.append("train", X, Y)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        label_names: list[str],
        length: int,
        config: Any = None,
        provenance: dict[str, Any] | None = None,
        chunk_rows: int = CHUNK_ROWS,
        compression: str = "gzip",
    ) -> None:
        self.path = Path(path)
        self.label_names = list(label_names)
        self.length = int(length)
        self.config = config
        self.provenance = provenance
        self.compression = compression
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._handle: h5py.File | None = h5py.File(self._tmp, "w")
        n_classes = len(self.label_names)
        self._positives = {name: np.zeros(n_classes, dtype=np.int64) for name in SPLITS}
        for name in SPLITS:
            self._create_resizable(f"X_{name}", (4, self.length), chunk_rows)
            self._create_resizable(f"Y_{name}", (n_classes,), chunk_rows)

    def _create_resizable(self, key: str, tail: tuple[int, ...], chunk_rows: int) -> None:
        self._handle.create_dataset(
            key, shape=(0, *tail), maxshape=(None, *tail), dtype=np.uint8,
            chunks=(chunk_rows, *tail), **_filter(self.compression),
        )

    def counts(self) -> dict[str, int]:
        """Rows written so far per split."""
        self._require_open()
        return {name: int(self._handle[f"X_{name}"].shape[0]) for name in SPLITS}

    def append(self, split: str, X: np.ndarray, Y: np.ndarray) -> None:
        """Append rows to ``split``.

        Parameters
        ----------
        split : {"train", "valid", "test"}
        X : (B, 4, L) one-hot array (values 0/1)
        Y : (B, C) labels in {0, 1}
        """
        self._require_open()
        if split not in SPLITS:
            raise DatasetError(f"{self.path}: unknown split {split!r}: expected one of {', '.join(SPLITS)}")
        xk, yk = f"X_{split}", f"Y_{split}"
        xs, ys = np.shape(X), np.shape(Y)
        if len(xs) != 3 or xs[1:] != (4, self.length):
            raise DatasetError(f"{self.path}: key '{xk}': expected shape (B, 4, {self.length}), found {xs}")
        if len(ys) != 2 or ys != (xs[0], len(self.label_names)):
            raise DatasetError(
                f"{self.path}: key '{yk}': expected shape ({xs[0]}, {len(self.label_names)}), found {ys}"
            )
        labels = _as_binary(self.path, yk, Y)
        for key, data in ((xk, _as_binary(self.path, xk, X)), (yk, labels)):
            target = self._handle[key]
            start = target.shape[0]
            target.resize(start + data.shape[0], axis=0)
            target[start:] = data
        self._positives[split] += labels.sum(axis=0, dtype=np.int64)

    def set_extra(self, extra: Mapping[str, Any]) -> None:
        """Write extra datasets, groups or attributes (see :func:`write_dataset`)."""
        self._require_open()
        _write_tree(self._handle, extra, self.compression)

    def close(self) -> Path:
        """Check every split has rows, write the attributes and publish the file."""
        self._require_open()
        try:
            empty = [name for name, count in self.counts().items() if count == 0]
            if empty:
                raise DatasetError(
                    f"{self.path}: key 'X_{empty[0]}': expected at least one sequence, found none"
                )
            _write_attrs(self._handle, self.label_names, self.config, self.provenance)
            counts = self.counts()
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        warn_constant_labels(self.path, self.label_names,
                             {name: (self._positives[name], counts[name]) for name in SPLITS},
                             stacklevel=2)
        return self.path

    def abort(self) -> None:
        """Discard the temporary file; ``path`` is left as it was."""
        if self._handle is not None:
            self._finish(DatasetError(f"{self.path}: writing aborted"))

    def _finish(self, exc: BaseException | None) -> None:
        self._handle.close()
        self._handle = None
        if exc is None:
            self._atomic.__exit__(None, None, None)
        else:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def _require_open(self) -> None:
        if self._handle is None:
            raise DatasetError(f"{self.path}: writer is already closed")

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._handle is None:
            return
        if exc_type is None:
            self.close()
        else:
            self._finish(exc)


def _check_split_names(path: Path, splits: Mapping[str, Any]) -> None:
    missing = [name for name in SPLITS if name not in splits]
    unknown = [name for name in splits if name not in SPLITS]
    if missing or unknown:
        raise DatasetError(
            f"{path}: splits: expected exactly {', '.join(SPLITS)}; "
            f"missing {missing or 'none'}, unknown {unknown or 'none'}"
        )


def _check_label_count(path: Path, label_names: list[str], n_classes: int) -> None:
    if len(label_names) != n_classes:
        raise DatasetError(
            f"{path}: attribute 'label_names': expected {n_classes} names (Y has {n_classes} "
            f"columns), found {len(label_names)}"
        )


def _as_binary(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """``array`` as uint8 after checking every value is 0 or 1."""
    array = np.asarray(array)
    if array.dtype == np.uint8 or array.dtype == np.bool_:
        out = array.astype(np.uint8, copy=False)
        if array.dtype == np.bool_ or out.max(initial=0) <= 1:
            return out
    elif np.all((array == 0) | (array == 1)):
        return array.astype(np.uint8)
    raise DatasetError(f"{path}: key '{key}': expected values in {{0, 1}} (one-hot / binary labels)")


def _filter(compression: str) -> dict[str, Any]:
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    if compression in ("none", None):
        return {}
    raise DatasetError(f"compression: expected 'gzip', 'lzf' or 'none', found {compression!r}")


def _create_rows(handle: h5py.Group, key: str, array: np.ndarray, compression: str) -> None:
    """Write an array chunked by rows (CHUNK_ROWS rows per chunk) with compression."""
    chunks = (min(CHUNK_ROWS, array.shape[0]), *array.shape[1:]) if array.size else None
    handle.create_dataset(key, data=array, chunks=chunks, **(_filter(compression) if chunks else {}))


def _write_attrs(handle: h5py.File, label_names: list[str], config: Any, prov: dict | None) -> None:
    handle.attrs["format"] = FORMAT
    handle.attrs["label_names"] = json.dumps(list(label_names))
    handle.attrs["config"] = json.dumps(to_jsonable(config if config is not None else {}))
    handle.attrs["provenance"] = json.dumps(to_jsonable(prov if prov is not None else _provenance()))


def _write_tree(group: h5py.Group, tree: Mapping[str, Any], compression: str) -> None:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            _write_tree(group.require_group(key), value, compression)
        elif isinstance(value, np.ndarray):
            if key in group:
                del group[key]
            if value.ndim >= 2:
                _create_rows(group, key, value, compression)
            elif value.size > CHUNK_ROWS:
                group.create_dataset(key, data=value, chunks=True, **_filter(compression))
            else:
                group.create_dataset(key, data=value)
        elif isinstance(value, (list, tuple)):
            group.attrs[key] = json.dumps(to_jsonable(value))
        elif isinstance(value, (str, int, float, bool, np.generic)):
            group.attrs[key] = value
        else:
            raise DatasetError(f"extra '{key}': expected an array, dict, string or number, found {type(value).__name__}")


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
        for key in _required_keys():
            data = np.ascontiguousarray(handle[key][()])
            digest.update(f"{key}:{data.dtype.str}:{data.shape}".encode())
            digest.update(data.tobytes())
        n_classes = int(handle["Y_train"].shape[1])
        digest.update("\t".join(_label_names(path, attrs, n_classes)).encode())
    return "sha256:" + digest.hexdigest()
