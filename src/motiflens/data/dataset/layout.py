"""The HDF5 dataset layout's names and its shape and value rules, shared by the reader
(:mod:`motiflens.data.dataset.reader`) and the writer (:mod:`motiflens.data.dataset.writer`).
The layout itself is described in :mod:`motiflens.data.dataset`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from motiflens.errors import DatasetError

__all__ = ["CHUNK_ROWS", "FORMAT", "GROUND_TRUTH_FIELDS", "SPLITS", "check_shapes",
           "check_values", "required_keys"]

SPLITS: tuple[str, str, str] = ("train", "valid", "test")
FORMAT = "motiflens-dataset-1"
CHUNK_ROWS = 256
GROUND_TRUTH_FIELDS: tuple[str, ...] = ("seq", "tf", "strand", "start", "width")


def required_keys() -> list[str]:
    """``["X_train", "Y_train", "X_valid", ...]``: the arrays every dataset file has."""
    return [f"{kind}_{name}" for name in SPLITS for kind in ("X", "Y")]


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
