"""Row-chunk readers over numeric MATLAB variables, MATLAB 7.3 (HDF5) or level 5.

Always in MATLAB orientation (N first). MATLAB 7.3 variables are read through h5py (which sees
the dims reversed); level-5 variables are memory-mapped in place when uncompressed, or
decompressed once to a temporary file and memory-mapped when stored zlib-compressed.
Nothing here knows about DeepSEA.
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from motiflens.errors import DatasetError, FormatError

log = logging.getLogger(__name__)


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
