"""One-hot encoding of DNA sequences, rows A, C, G, T (the convention of every motiflens array).

One table does the work: a byte becomes a code (0..3 for A, C, G, T in either case, 4 for N,
255 for anything else, :func:`byte_codes`) and a code a one-hot column (code 4 = N = an all-zero
column, :func:`codes_to_onehot`). :func:`one_hot_encode` reads any other character as N; the
real-data builders reject it instead (:func:`motiflens.data.genome.sequence_codes`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from motiflens.errors import DatasetError
from motiflens.motifs import ALPHABET

__all__ = ["ALPHABET", "INVALID", "byte_codes", "codes_to_onehot", "decode", "one_hot_encode"]

#: The code of a byte that is none of A, C, G, T, N (either case).
INVALID = 255

# Byte -> code: 0..3 for A, C, G, T (either case), 4 for N/n, INVALID for anything else.
_CODES = np.full(256, INVALID, dtype=np.uint8)
for _i, _base in enumerate(ALPHABET + "N"):
    _CODES[ord(_base)] = _i
    _CODES[ord(_base.lower())] = _i
# Code -> one-hot column (code 4 = N -> zeros).
_ONEHOT = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), dtype=np.uint8)])


def byte_codes(raw: bytes) -> np.ndarray:
    """Codes of the bytes of a DNA text.

    Parameters
    ----------
    raw : bytes
        L bytes.

    Returns
    -------
    numpy.ndarray
        (L,) uint8: 0..3 for A, C, G, T (either case), 4 for N, :data:`INVALID` otherwise.
    """
    return _CODES[np.frombuffer(raw, dtype=np.uint8)]


def codes_to_onehot(codes: np.ndarray) -> np.ndarray:
    """Turn codes 0..4 into one-hot.

    Parameters
    ----------
    codes : numpy.ndarray
        (N, L) or (L,) integer codes from :func:`byte_codes` (4 = N).

    Returns
    -------
    numpy.ndarray
        (N, 4, L) or (4, L) uint8 one-hot, C-contiguous; N positions are all-zero columns.
    """
    onehot = _ONEHOT[codes]  # (..., L, 4)
    return np.ascontiguousarray(np.moveaxis(onehot, -1, -2))


def one_hot_encode(seqs: str | Sequence[str], dtype: np.dtype | type = np.float32) -> np.ndarray:
    """One-hot encode DNA sequences of equal length.

    Parameters
    ----------
    seqs : str or sequence of str
        One sequence or N sequences, all of length L. Upper or lower case; A, C, G, T map to
        rows 0..3, every other character (N, IUPAC ambiguity codes, '-') to an all-zero column.
    dtype : numpy dtype
        Output type (float32 by default; uint8 for compact storage).

    Returns
    -------
    numpy.ndarray
        (N, 4, L) one-hot array; N = 1 when ``seqs`` is a single string.

    Raises
    ------
    DatasetError
        When the sequences differ in length or are not ASCII.
    """
    if isinstance(seqs, str):
        seqs = [seqs]
    seqs = list(seqs)
    if not seqs:
        return np.zeros((0, 4, 0), dtype=dtype)
    length = len(seqs[0])
    for i, seq in enumerate(seqs):
        if len(seq) != length:
            raise DatasetError(
                f"one_hot_encode: sequence {i} has length {len(seq)}, expected {length} "
                "(all sequences must have the same length)"
            )
    try:
        raw = "".join(seqs).encode("ascii")
    except UnicodeEncodeError:
        raise DatasetError("one_hot_encode: sequences must be ASCII text (A, C, G, T, N, ...)") from None
    codes = byte_codes(raw).reshape(len(seqs), length)
    codes[codes == INVALID] = 4
    return codes_to_onehot(codes).astype(dtype, copy=False)


def decode(X: np.ndarray) -> list[str]:
    """Turn one-hot arrays back into strings.

    Parameters
    ----------
    X : numpy.ndarray
        (N, 4, L) or (4, L) array; each column is read as the row with the largest value, and an
        all-zero column as 'N'.

    Returns
    -------
    list of str
        N sequences of length L (one when ``X`` is 2-D).
    """
    X = np.asarray(X)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] != 4:
        raise DatasetError(f"decode: expected an array of shape (N, 4, L), found {X.shape}")
    letters = np.frombuffer((ALPHABET + "N").encode("ascii"), dtype=np.uint8)
    idx = np.argmax(X, axis=1)
    idx[~np.any(X != 0, axis=1)] = 4
    chars = letters[idx]
    return [row.tobytes().decode("ascii") for row in chars]
