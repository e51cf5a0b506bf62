"""One-hot encoding of DNA sequences, rows A, C, G, T (the convention of every motiflens array)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from motiflens.errors import DatasetError

ALPHABET = "ACGT"

# Byte -> row index (0..3) or 4 for anything else (N, IUPAC codes, gaps): an all-zero column.
_LOOKUP = np.full(256, 4, dtype=np.uint8)
for _i, _base in enumerate(ALPHABET):
    _LOOKUP[ord(_base)] = _i
    _LOOKUP[ord(_base.lower())] = _i
_EYE = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])


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
    codes = _LOOKUP[np.frombuffer(raw, dtype=np.uint8)].reshape(len(seqs), length)
    return _EYE[codes].transpose(0, 2, 1).astype(dtype, copy=False)


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
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    idx = np.argmax(X, axis=1)
    idx[~np.any(X != 0, axis=1)] = 4
    chars = letters[idx]
    return [row.tobytes().decode("ascii") for row in chars]
