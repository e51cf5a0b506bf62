"""The DeepSEA training bundle -> a motiflens dataset (docs/PAPER.md §6), streamed in chunks.

The bundle ``deepsea_train/`` holds

* ``train.mat`` -- MATLAB 7.3 (HDF5). Seen by h5py (MATLAB's column-major dims reversed):
  ``trainxdata`` (1000, 4, N) and ``traindata`` (919, N), N = 4,400,000.
* ``valid.mat``, ``test.mat`` -- MATLAB 5: ``validxdata`` (N, 4, 1000), ``validdata``
  (N, 919), and ``testxdata`` / ``testdata`` likewise.

One-hot rows are A, G, C, T (reordered to A, C, G, T with ``[0, 2, 1, 3]``); N = all zeros.
Each file holds forward strands followed by their reverse complements; rows are kept in file
order, so the output keeps that arrangement (kept forward rows, then kept reverse rows).

Nothing is read whole: train.mat is read ``chunk_rows`` rows at a time through h5py; the
MATLAB 5 files are memory-mapped (uncompressed variables) or, when a variable is stored
zlib-compressed, decompressed once to a temporary file next to the output and memory-mapped.
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import h5py
import numpy as np

from motiflens._io import provenance
from motiflens.data.dataset import DatasetWriter
from motiflens.errors import ConfigError, DatasetError, FormatError

log = logging.getLogger(__name__)

#: The 12 K562 label columns of docs/PAPER.md §6 (0-based), in the paper's class order.
PAPER_COLUMNS: tuple[int, ...] = (592, 602, 344, 345, 635, 636, 349, 642, 359, 361, 661, 369)
#: Names of :data:`PAPER_COLUMNS` (STAT1 is the IFNa30-treated K562 experiment).
PAPER_LABEL_NAMES: tuple[str, ...] = ("Arid3a", "CEBPB", "FOSL1", "Gabpa", "MAFK", "MAX",
                                      "MEF2A", "NFYB", "SP1", "SRF", "STAT1", "YY1")
#: Bundle channel order A, G, C, T -> motiflens A, C, G, T.
AGCT_TO_ACGT: tuple[int, int, int, int] = (0, 2, 1, 3)
#: split -> (file, sequence key, label key).
BUNDLE_FILES: dict[str, tuple[str, str, str]] = {
    "train": ("train.mat", "trainxdata", "traindata"),
    "valid": ("valid.mat", "validxdata", "validdata"),
    "test": ("test.mat", "testxdata", "testdata"),
}
N_DEEPSEA_LABELS = 919


@dataclass
class DeepSEAConfig:
    """How a DeepSEA bundle becomes a dataset (stored as the output's ``config`` attribute).

    Attributes
    ----------
    bundle_dir : str
        Directory holding train.mat, valid.mat, test.mat.
    label_columns : list of int
        0-based columns of the 919 DeepSEA labels to keep, in output order.
    label_names : list of str
        One name per column.
    min_positive : int
        Keep rows positive for at least this many of the selected columns (1 = paper).
    strands : {"both", "forward"}
        "both" keeps every row as in the bundle (forward half, then reverse-complement half);
        "forward" keeps only the first half of each file.
    chunk_rows : int
        Rows read per chunk (train.mat reads are rounded to its HDF5 chunking).
        Memory is about ``chunk_rows * 4 * L`` bytes times ~3.
    channel_order : str
        The bundle's one-hot row order (A, G, C, T per docs/PAPER.md §6).
    """

    bundle_dir: str
    label_columns: list[int] = field(default_factory=lambda: list(PAPER_COLUMNS))
    label_names: list[str] = field(default_factory=lambda: list(PAPER_LABEL_NAMES))
    min_positive: int = 1
    strands: str = "both"
    chunk_rows: int = 50_000
    channel_order: str = "AGCT"

    def validate(self) -> None:
        """Raise ConfigError for inconsistent settings."""
        cols = list(self.label_columns)
        if not cols:
            raise ConfigError("label_columns: expected at least one column")
        if len(set(cols)) != len(cols):
            raise ConfigError(f"label_columns: duplicated columns in {cols}")
        bad = [c for c in cols if not 0 <= int(c) < N_DEEPSEA_LABELS]
        if bad:
            raise ConfigError(f"label_columns: expected 0-based columns in [0, {N_DEEPSEA_LABELS}),"
                              f" found {bad}")
        if len(self.label_names) != len(cols):
            raise ConfigError(f"label_names: expected {len(cols)} names (one per label column), "
                              f"found {len(self.label_names)}")
        if len(set(self.label_names)) != len(self.label_names):
            raise ConfigError(f"label_names: duplicated names in {list(self.label_names)}")
        if self.min_positive < 1:
            raise ConfigError(f"min_positive: expected >= 1, found {self.min_positive}")
        if self.strands not in ("both", "forward"):
            raise ConfigError(f"strands: expected 'both' or 'forward', found {self.strands!r}")
        if self.chunk_rows < 1:
            raise ConfigError(f"chunk_rows: expected >= 1, found {self.chunk_rows}")
        if sorted(self.channel_order) != sorted("ACGT") or len(self.channel_order) != 4:
            raise ConfigError(f"channel_order: expected a permutation of ACGT, "
                              f"found {self.channel_order!r}")

    @property
    def channel_index(self) -> list[int]:
        """Indices that reorder the bundle's channels to A, C, G, T."""
        return [self.channel_order.index(b) for b in "ACGT"]


# ---------------------------------------------------------------------------------------------
# Row-chunk readers over MATLAB variables, always in MATLAB orientation (N first).


class MatVariable:
    """A numeric MATLAB array read by rows, whichever file version holds it.

    ``shape`` is MATLAB's (N, ...); :meth:`rows` returns C-contiguous numpy rows.
    """

    path: Path
    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    row_align: int = 1

    def rows(self, start: int, stop: int, cols: Sequence[int] | None = None,
             select: np.ndarray | None = None) -> np.ndarray:
        """Rows ``start:stop`` in MATLAB orientation, C-contiguous.

        Parameters
        ----------
        start, stop : int
        cols : sequence of int, optional
            For 2-D variables, only these columns (in this order).
        select : (k,) int array, optional
            Only rows ``start + select`` (sorted); cheaper than selecting afterwards because
            only the kept rows are transposed/copied.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""


class _HDF5Variable(MatVariable):
    """MATLAB 7.3 variable: h5py sees the dims reversed, (..., N)."""

    def __init__(self, path: Path, handle: h5py.File, key: str) -> None:
        self.path, self.key = path, key
        node = handle.get(key)
        if node is None or not isinstance(node, h5py.Dataset):
            found = ", ".join(k for k in handle.keys() if not k.startswith("#")) or "none"
            raise DatasetError(f"{path}: missing key '{key}' (found: {found})")
        self._ds = node
        if not np.issubdtype(node.dtype, np.number) and node.dtype != np.bool_:
            raise DatasetError(f"{path}: key '{key}': expected a numeric array, found {node.dtype}")
        self.shape = tuple(int(s) for s in node.shape[::-1])
        self.dtype = node.dtype
        self.row_align = int(node.chunks[-1]) if node.chunks else 1

    def rows(self, start: int, stop: int, cols: Sequence[int] | None = None,
             select: np.ndarray | None = None) -> np.ndarray:
        if cols is None:
            block = self._ds[..., start:stop]
        else:
            order = np.argsort(cols)
            sorted_cols = np.asarray(cols)[order]
            block = self._ds[sorted_cols.tolist(), start:stop]
            block = block[np.argsort(order)]
        if select is not None:
            block = block[..., select]
        return np.ascontiguousarray(block.T)


# MATLAB 5 (level 5 MAT-file) element types and classes
_MI_INT8, _MI_UINT8, _MI_INT16, _MI_UINT16, _MI_INT32, _MI_UINT32 = 1, 2, 3, 4, 5, 6
_MI_SINGLE, _MI_DOUBLE, _MI_INT64, _MI_UINT64, _MI_MATRIX, _MI_COMPRESSED = 7, 9, 12, 13, 14, 15
_MI_DTYPES = {_MI_INT8: "i1", _MI_UINT8: "u1", _MI_INT16: "i2", _MI_UINT16: "u2",
              _MI_INT32: "i4", _MI_UINT32: "u4", _MI_SINGLE: "f4", _MI_DOUBLE: "f8",
              _MI_INT64: "i8", _MI_UINT64: "u8"}
_NUMERIC_CLASSES = set(range(6, 16))  # mxDOUBLE_CLASS .. mxUINT64_CLASS


class _ZlibSource:
    """Sequential reads from a zlib-compressed file region, decompressed on the fly.

    Output is produced in pieces of at most 16 MiB, so memory stays bounded whatever the
    compression ratio.
    """

    _PIECE = 1 << 24

    def __init__(self, handle, size: int) -> None:
        self._h, self._left = handle, size
        self._z = zlib.decompressobj()
        self._buf = bytearray()

    def _fill(self) -> bool:
        if self._z.unconsumed_tail:
            data = self._z.decompress(self._z.unconsumed_tail, self._PIECE)
        elif self._left > 0:
            raw = self._h.read(min(1 << 20, self._left))
            if not raw:
                return False
            self._left -= len(raw)
            data = self._z.decompress(raw, self._PIECE)
        else:
            data = self._z.flush()
            self._buf += data
            return bool(data)
        self._buf += data
        return True

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise EOFError
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def copy_to(self, dest, n: int) -> None:
        """Write the next ``n`` decompressed bytes to ``dest``."""
        while n > 0:
            if not self._buf and not self._fill():
                raise EOFError
            take = min(n, len(self._buf))
            dest.write(self._buf[:take])
            del self._buf[:take]
            n -= take


class _Mat5Variable(MatVariable):
    """A numeric variable of a level-5 MAT-file, memory-mapped in MATLAB (Fortran) order."""

    def __init__(self, path: Path, key: str, tmp_dir: str | os.PathLike | None = None) -> None:
        self.path, self.key = path, key
        self._tmpfile: Path | None = None
        found: list[str] = []
        with open(path, "rb") as fh:
            header = fh.read(128)
            if len(header) < 128:
                raise FormatError(path, "too short for a MATLAB 5 file (128-byte header expected)")
            endian = {b"IM": "<", b"MI": ">"}.get(header[126:128])
            if endian is None:
                raise FormatError(path, "not a MATLAB 5 MAT-file (no endian indicator at byte 126)")
            self._endian = endian
            fh.seek(0, os.SEEK_END)
            file_size = fh.tell()
            pos = 128
            while pos + 8 <= file_size:
                fh.seek(pos)
                mtype, nbytes = struct.unpack(endian + "II", fh.read(8))
                body = pos + 8
                nxt = body + nbytes if mtype == _MI_COMPRESSED else body + nbytes + (-nbytes % 8)
                if mtype not in (_MI_MATRIX, _MI_COMPRESSED):
                    pos = nxt
                    continue
                if mtype == _MI_COMPRESSED:
                    src = _ZlibSource(fh, nbytes)
                    try:
                        inner_type, _ = struct.unpack(endian + "II", src.read(8))
                    except (EOFError, zlib.error):
                        raise FormatError(path, f"corrupt compressed element at byte {pos}") from None
                    if inner_type != _MI_MATRIX:
                        pos = nxt
                        continue
                else:
                    src = _FileRegion(fh, body, nbytes)
                try:
                    name, cls, dims, dtype, data_bytes = self._read_matrix_header(src)
                except (EOFError, zlib.error, struct.error):
                    raise FormatError(path, f"corrupt matrix element at byte {pos}") from None
                found.append(name)
                if name != key:
                    pos = nxt
                    continue
                self._setup(cls, dims, dtype, data_bytes, src, mtype == _MI_COMPRESSED,
                            tmp_dir)
                return
        raise DatasetError(f"{path}: missing key '{key}' (found: {', '.join(found) or 'none'})")

    def _read_matrix_header(self, src) -> tuple[str, int, tuple[int, ...], np.dtype, int]:
        e = self._endian

        def tag() -> tuple[int, int, bytes | None]:
            first = struct.unpack(e + "I", src.read(4))[0]
            if first >> 16:  # small data element: type and size share 4 bytes, data in 4 more
                data = src.read(4)
                return first & 0xFFFF, first >> 16, data[: first >> 16]
            return first, struct.unpack(e + "I", src.read(4))[0], None

        def element() -> tuple[int, bytes]:
            mtype, nbytes, small = tag()
            if small is not None:
                return mtype, small
            data = src.read(nbytes)
            src.read(-nbytes % 8)
            return mtype, data

        _, flags = element()
        flags_word = struct.unpack(e + "I", flags[:4])[0]
        cls, complex_ = flags_word & 0xFF, bool(flags_word & 0x0800)
        _, dims_raw = element()
        dims = struct.unpack(e + f"{len(dims_raw) // 4}i", dims_raw)
        _, name_raw = element()
        name = name_raw.decode("latin-1")
        if cls not in _NUMERIC_CLASSES or complex_:
            return name, cls, dims, np.dtype("u1"), -1
        mtype, nbytes, small = tag()
        if mtype not in _MI_DTYPES:
            raise FormatError(self.path, f"variable '{name}': unsupported data type {mtype}")
        dtype = np.dtype(e + _MI_DTYPES[mtype])
        if small is not None:
            self._small = small
            return name, cls, dims, dtype, -2
        return name, cls, dims, dtype, nbytes

    def _setup(self, cls: int, dims: tuple[int, ...], dtype: np.dtype, data_bytes: int, src,
               compressed: bool, tmp_dir) -> None:
        if data_bytes == -1:
            raise DatasetError(f"{self.path}: key '{self.key}': expected a real numeric array "
                               f"(MATLAB class {cls} is not one)")
        n_items = int(np.prod(dims))
        self._small_array: np.ndarray | None = None
        self._map_path, self._map_offset = self.path, 0
        if data_bytes == -2:
            self._small_array = np.frombuffer(self._small, dtype=dtype)[:n_items].reshape(
                dims, order="F")
        else:
            if data_bytes != n_items * dtype.itemsize:
                raise FormatError(self.path, f"variable '{self.key}': {data_bytes} data bytes for "
                                             f"dims {dims} of {dtype} (expected "
                                             f"{n_items * dtype.itemsize})")
            if compressed:
                fd, tmp = tempfile.mkstemp(prefix=f".tmp-{self.key}-", suffix=".bin",
                                           dir=tmp_dir)
                self._tmpfile = Path(tmp)
                log.info("%s: decompressing '%s' (%.1f MB) to %s", self.path, self.key,
                         data_bytes / 1e6, tmp)
                try:
                    with os.fdopen(fd, "wb") as out:
                        src.copy_to(out, data_bytes)
                except (EOFError, zlib.error):
                    self.close()
                    raise FormatError(self.path, f"variable '{self.key}': compressed data ends "
                                                 "early or is corrupt") from None
                self._map_path = self._tmpfile
            else:
                self._map_offset = src.offset
        self.shape = tuple(int(d) for d in dims)
        self.dtype = dtype
        if n_items == 0:
            self._small_array = np.zeros(dims, dtype=dtype)

    def rows(self, start: int, stop: int, cols: Sequence[int] | None = None,
             select: np.ndarray | None = None) -> np.ndarray:
        # A fresh map per call: unmapping afterwards drops the file pages from this process's
        # resident set, so a 2 GB test.mat does not accumulate in RSS.
        array = self._small_array if self._small_array is not None else np.memmap(
            self._map_path, dtype=self.dtype, mode="r", offset=self._map_offset,
            shape=self.shape, order="F")
        try:
            block = array[start:stop]
            if select is not None:
                block = block[select]
            if cols is not None:
                block = block[:, list(cols)]
            return np.array(block, order="C", copy=True)
        finally:
            del array

    def close(self) -> None:
        self._small_array = None
        if self._tmpfile is not None and self._tmpfile.exists():
            self._tmpfile.unlink()
        self._tmpfile = None


class _FileRegion:
    """Sequential reads from an uncompressed file region; ``offset`` = current file offset."""

    def __init__(self, handle, start: int, size: int) -> None:
        self._h, self.offset, self._end = handle, start, start + size

    def read(self, n: int) -> bytes:
        if self.offset + n > self._end:
            raise EOFError
        self._h.seek(self.offset)
        data = self._h.read(n)
        if len(data) < n:
            raise EOFError
        self.offset += n
        return data


def open_mat_variable(path: str | os.PathLike, key: str, handle: h5py.File | None = None,
                      tmp_dir: str | os.PathLike | None = None) -> MatVariable:
    """Open one numeric variable of a MAT-file (7.3/HDF5 or level 5) for row-chunk reads.

    Parameters
    ----------
    path : path-like
    key : str
        Variable name, e.g. ``"trainxdata"``.
    handle : h5py.File, optional
        An open handle when the file is HDF5 (MATLAB 7.3).
    tmp_dir : path-like, optional
        Where a compressed level-5 variable is decompressed to (default: system temp).

    Returns
    -------
    MatVariable
        ``shape`` in MATLAB orientation (N first).
    """
    path = Path(path)
    if handle is not None:
        return _HDF5Variable(path, handle, key)
    return _Mat5Variable(path, key, tmp_dir)


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
        self.path = Path(bundle_dir) / fname
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


@dataclass
class SplitReport:
    """What happened to one bundle file."""

    source: str
    rows_read: int = 0
    rows_kept: int = 0
    kept_forward_half: int = 0
    kept_reverse_half: int = 0
    positives_per_label: list[int] = field(default_factory=list)
    seconds: float = 0.0


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


def build_deepsea(bundle_dir: str | os.PathLike, out: str | os.PathLike,
                  label_columns: Sequence[int] = PAPER_COLUMNS,
                  label_names: Sequence[str] | None = None,
                  chunk_rows: int = 50_000, min_positive: int = 1, strands: str = "both",
                  tmp_dir: str | os.PathLike | None = None,
                  progress: Callable[[str], None] | None = None) -> Path:
    """Turn a DeepSEA bundle into a motiflens dataset, reading in chunks.

    Parameters
    ----------
    bundle_dir : path-like
        ``deepsea_train/`` with train.mat (MATLAB 7.3), valid.mat and test.mat (MATLAB 5).
    out : path-like
        Output HDF5 (written atomically; the layout of :mod:`motiflens.data.dataset`).
    label_columns : sequence of int
        0-based DeepSEA columns, default the 12 K562 columns of docs/PAPER.md §6.
    label_names : sequence of str, optional
        Names of ``label_columns``; required unless the columns are :data:`PAPER_COLUMNS`.
    chunk_rows : int
        Rows per read (50,000 x 4 x 1000 uint8 = 200 MB).
    min_positive : int
        Keep rows positive for at least this many selected labels.
    strands : {"both", "forward"}
        Keep both strands as in the bundle, or only each file's forward (first) half.
    tmp_dir : path-like, optional
        Scratch directory for compressed MATLAB 5 variables (default: next to ``out``).
    progress : callable, optional
        Called with one-line progress messages.

    Returns
    -------
    pathlib.Path
        ``out``. The file's ``config`` attribute holds the :class:`DeepSEAConfig`; its
        ``provenance`` attribute also holds per-split counts (rows read/kept, kept per strand
        half, positives per label).

    Raises
    ------
    DatasetError
        Missing files or keys, wrong shapes, label/sequence count mismatch, non-binary labels,
        non-one-hot sequences, or a split with no row positive for any selected label.
    """
    label_columns = [int(c) for c in label_columns]
    if label_names is None:
        if tuple(label_columns) != PAPER_COLUMNS:
            raise ConfigError("label_names: required when label_columns differ from the paper's "
                              "12 K562 columns")
        label_names = list(PAPER_LABEL_NAMES)
    config = DeepSEAConfig(bundle_dir=str(bundle_dir), label_columns=label_columns,
                           label_names=list(label_names), min_positive=min_positive,
                           strands=strands, chunk_rows=chunk_rows)
    config.validate()
    out = Path(out)
    say = progress or (lambda msg: log.info("%s", msg))
    scratch = Path(tmp_dir) if tmp_dir is not None else out.resolve().parent
    scratch.mkdir(parents=True, exist_ok=True)

    # Open (and check) every file before writing anything.
    splits: dict[str, BundleSplit] = {}
    try:
        for name in BUNDLE_FILES:
            splits[name] = BundleSplit(bundle_dir, name, tmp_dir=scratch)
        lengths = {name: s.length for name, s in splits.items()}
        if len(set(lengths.values())) != 1:
            raise DatasetError(f"{bundle_dir}: sequence lengths differ between files: {lengths}")
        length = lengths["train"]
        reports: dict[str, SplitReport] = {}
        with DatasetWriter(out, config.label_names, length=length, config=config) as writer:
            for name, split in splits.items():
                rep = SplitReport(source=str(split.path))
                rep.positives_per_label = [0] * len(label_columns)
                t0 = time.perf_counter()
                half = split.n_rows // 2
                for X, Y, rows in iter_deepsea_chunks(split, config):
                    writer.append(name, X, Y)
                    rep.rows_kept += len(rows)
                    rep.kept_forward_half += int((rows < half).sum())
                    rep.kept_reverse_half += int((rows >= half).sum())
                    pos = Y.sum(axis=0, dtype=np.int64)
                    rep.positives_per_label = [a + int(b) for a, b in
                                               zip(rep.positives_per_label, pos)]
                rep.rows_read = split.n_rows if strands == "both" else half
                rep.seconds = round(time.perf_counter() - t0, 3)
                reports[name] = rep
                say(f"{split.path.name}: kept {rep.rows_kept:,} of {rep.rows_read:,} rows "
                    f"({rep.kept_forward_half:,} forward half, {rep.kept_reverse_half:,} reverse "
                    f"half) in {rep.seconds:.1f} s")
                if rep.rows_kept == 0:
                    raise DatasetError(
                        f"{split.path}: no row is positive for >= {min_positive} of label columns "
                        f"{label_columns} (empty result; check label_columns)")
            writer.provenance = provenance(
                source="deepsea", bundle_dir=str(bundle_dir),
                splits={k: vars(v) for k, v in reports.items()})
    finally:
        for split in splits.values():
            split.close()
    return out
