"""One DeepSEA bundle file: open and check its variables, then stream the kept rows.

:class:`BundleSplit` opens train/valid/test.mat and validates shapes and counts;
:func:`iter_deepsea_chunks` selects rows positive for the chosen labels, reorders channels to
A, C, G, T and checks labels are binary and sequences one-hot.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from motiflens.data.deepsea_config import BUNDLE_FILES, N_DEEPSEA_LABELS, DeepSEAConfig
from motiflens.data.matfile import open_mat_variable
from motiflens.errors import ConfigError, DatasetError


class BundleSplit:
    """One file of a DeepSEA bundle: sequences and labels, read in row chunks.

    Attributes
    ----------
    n_rows : int
    length : int
        Sequence length L (1000 in DeepSEA).
    x, y : MatVariable
        MATLAB-oriented (N, 4, L) and (N, 919) variables.
    """

    def __init__(self, bundle_dir: str | os.PathLike, split: str,
                 tmp_dir: str | os.PathLike | None = None) -> None:
        if split not in BUNDLE_FILES:
            raise ConfigError(f"unknown DeepSEA split {split!r}: expected one of "
                              f"{', '.join(BUNDLE_FILES)}")
        fname, xkey, ykey = BUNDLE_FILES[split]
        bundle = Path(bundle_dir)
        if not bundle.is_dir():
            what = ("an archive: unpack it first (tar xzf) and pass the deepsea_train/ folder"
                    if bundle.name.endswith((".tar.gz", ".tgz", ".tar")) else
                    "a file, not a folder" if bundle.exists() else "folder not found")
            raise DatasetError(f"{bundle}: {what} (--bundle)")
        self.path = bundle / fname
        if not self.path.exists():
            raise DatasetError(f"{self.path}: file not found (a DeepSEA bundle directory holds "
                               f"{', '.join(f for f, _, _ in BUNDLE_FILES.values())})")
        self._h5: h5py.File | None = None
        if h5py.is_hdf5(self.path):
            self._h5 = h5py.File(self.path, "r", rdcc_nbytes=64 << 20)
        try:
            self.x = open_mat_variable(self.path, xkey, self._h5, tmp_dir)
            self.y = open_mat_variable(self.path, ykey, self._h5, tmp_dir)
            self._check(xkey, ykey)
        except BaseException:
            self.close()
            raise

    def _check(self, xkey: str, ykey: str) -> None:
        xs, ys = self.x.shape, self.y.shape
        h5 = self._h5 is not None

        def show(shape: tuple[int, ...]) -> str:
            return str(tuple(shape[::-1]) if h5 else tuple(shape))

        expect_x = "(L, 4, N) as seen by h5py" if h5 else "(N, 4, L)"
        expect_y = f"({N_DEEPSEA_LABELS}, N) as seen by h5py" if h5 else f"(N, {N_DEEPSEA_LABELS})"
        if len(xs) != 3 or xs[1] != 4:
            raise DatasetError(f"{self.path}: key '{xkey}': expected shape {expect_x}, "
                               f"found {show(xs)}")
        if len(ys) != 2 or ys[1] != N_DEEPSEA_LABELS:
            raise DatasetError(f"{self.path}: key '{ykey}': expected shape {expect_y}, "
                               f"found {show(ys)}")
        if xs[0] != ys[0]:
            raise DatasetError(f"{self.path}: label/sequence count mismatch: key '{xkey}' has "
                               f"{xs[0]} sequences, key '{ykey}' has {ys[0]} label rows")
        if xs[0] == 0:
            raise DatasetError(f"{self.path}: key '{xkey}' holds no sequences")
        self.n_rows, self.length = int(xs[0]), int(xs[2])
        self.xkey, self.ykey = xkey, ykey

    def close(self) -> None:
        for var in (getattr(self, "x", None), getattr(self, "y", None)):
            if var is not None:
                var.close()
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self) -> "BundleSplit":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_deepsea_chunks(split: BundleSplit, config: DeepSEAConfig
                        ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stream the kept rows of one bundle file.

    Parameters
    ----------
    split : BundleSplit
    config : DeepSEAConfig

    Yields
    ------
    X : (B, 4, L) uint8 one-hot, rows A, C, G, T
    Y : (B, C) uint8 labels of the selected columns
    rows : (B,) int64 row indices in the source file
    """
    cols = [int(c) for c in config.label_columns]
    chan = config.channel_index
    n = split.n_rows if config.strands == "both" else split.n_rows // 2
    step = max(1, int(config.chunk_rows))
    align = split.x.row_align
    if align > 1:
        step = max(align, (step // align) * align)
    for start in range(0, n, step):
        stop = min(n, start + step)
        y = split.y.rows(start, stop, cols)
        if y.dtype != np.uint8:
            bad = (y != 0) & (y != 1)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise DatasetError(f"{split.path}: key '{split.ykey}': expected labels in {{0, 1}},"
                                   f" found {y[r, c]!r} at row {start + r}, column {cols[c]}")
            y = y.astype(np.uint8)
        elif y.max(initial=0) > 1:
            r, c = np.argwhere(y > 1)[0]
            raise DatasetError(f"{split.path}: key '{split.ykey}': expected labels in {{0, 1}}, "
                               f"found {y[r, c]} at row {start + r}, column {cols[c]}")
        keep = np.flatnonzero(y.sum(axis=1, dtype=np.int64) >= config.min_positive)
        if keep.size == 0:
            continue
        x = split.x.rows(start, stop, select=keep)  # (k, 4, L), bundle channel order
        x = x[:, chan, :]
        _check_onehot(x, split, start + keep)
        yield x.astype(np.uint8, copy=False), np.ascontiguousarray(y[keep]), start + keep


def _check_onehot(x: np.ndarray, split: BundleSplit, rows: np.ndarray) -> None:
    """Every position must be one-hot or all zero (N)."""
    if x.dtype != np.uint8:
        bad_val = (x != 0) & (x != 1)
    else:
        bad_val = x > 1
    col_sum = x.sum(axis=1, dtype=np.int64)
    bad_rows = bad_val.any(axis=(1, 2)) | (col_sum > 1).any(axis=1)
    if bad_rows.any():
        i = int(np.flatnonzero(bad_rows)[0])
        raise DatasetError(f"{split.path}: key '{split.xkey}': row {int(rows[i])} is not one-hot "
                           "(expected each position to be 0/1 with at most one 1 across the 4 "
                           "channels)")
