"""Writing a dataset file atomically: whole (:func:`write_dataset`) or appended split by split
(:class:`DatasetWriter`), with a warning for labels that are constant on a split. The layout is
described in :mod:`motiflens.data.dataset`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from motiflens._io import atomic_path, provenance as _provenance, to_jsonable
from motiflens.data.dataset.layout import CHUNK_ROWS, FORMAT, SPLITS, check_shapes
from motiflens.errors import DatasetError

__all__ = ["ConstantLabelWarning", "DatasetWriter", "warn_constant_labels", "write_dataset"]


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
