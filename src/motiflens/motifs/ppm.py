"""The ``Motif`` type and PPM math: reverse complement, information content, consensus and
IC-based trimming.

A PPM is a ``(4, w)`` float64 array with rows A, C, G, T; every column sums to 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ALPHABET = "ACGT"

__all__ = [
    "ALPHABET",
    "Motif",
    "consensus",
    "information_content",
    "reverse_complement",
    "trim_motif",
    "trim_ppm",
]


# --------------------------------------------------------------------------------------------
# PPM operations
# --------------------------------------------------------------------------------------------
def _as_ppm(ppm: object) -> np.ndarray:
    """Return ``ppm`` as a float64 ``(4, w)`` array or raise ``ValueError``."""
    arr = np.array(ppm, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 4 or arr.shape[1] < 1:
        raise ValueError(f"a PPM must have shape (4, w) with w >= 1, got {arr.shape}")
    return arr


def reverse_complement(ppm: np.ndarray) -> np.ndarray:
    """Reverse complement of a PPM: flip both axes (A<->T, C<->G, positions reversed).

    Parameters
    ----------
    ppm : (4, w) array

    Returns
    -------
    (4, w) float64 array
    """
    return _as_ppm(ppm)[::-1, ::-1].copy()


def information_content(ppm: np.ndarray, pseudocount: float = 0.0) -> np.ndarray:
    """Information content of each column, in bits: ``log2(4) + sum_b p_b log2 p_b``.

    Parameters
    ----------
    ppm : (4, w) array
        Columns should sum to 1.
    pseudocount : float
        Added to every probability before the columns are renormalised
        (``p' = (p + c) / (1 + 4c)``). With 0 (default), ``0 log 0`` is taken as 0.

    Returns
    -------
    (w,) float64 array, each value in [0, 2].
    """
    p = _as_ppm(ppm)
    if pseudocount < 0:
        raise ValueError(f"pseudocount must be >= 0, got {pseudocount}")
    if pseudocount:
        p = (p + pseudocount) / (p.sum(axis=0, keepdims=True) + 4 * pseudocount)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return np.log2(4.0) + plogp.sum(axis=0)


def consensus(ppm: np.ndarray) -> str:
    """Most probable letter of each column (ties go to the first of A, C, G, T).

    Parameters
    ----------
    ppm : (4, w) array

    Returns
    -------
    str of length w
    """
    idx = np.argmax(_as_ppm(ppm), axis=0)
    return "".join(ALPHABET[i] for i in idx)


def trim_ppm(ppm: np.ndarray, ic_threshold: float = 0.5, pad: int = 3) -> tuple[int, int]:
    """Column range to keep when trimming a PPM before comparison (docs/PAPER.md §4, authors' code).

    Keeps the columns from the first to the last one whose information content exceeds
    ``ic_threshold`` bits, plus ``pad`` columns on each side, clipped to the motif. If no
    column exceeds the threshold the whole motif is kept (as the authors' code does).

    Parameters
    ----------
    ppm : (4, w) array
    ic_threshold : float
        Bits; columns with IC strictly above it are informative.
    pad : int
        Columns added on each side of the informative span.

    Returns
    -------
    (start, stop) : tuple of int
        Slice bounds, ``0 <= start < stop <= w``; trimmed PPM is ``ppm[:, start:stop]``.
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    ic = information_content(ppm)
    informative = np.flatnonzero(ic > ic_threshold)
    if informative.size == 0:
        return 0, ic.size
    start = max(int(informative[0]) - pad, 0)
    stop = min(int(informative[-1]) + pad + 1, ic.size)
    return start, stop


def trim_motif(motif: "Motif", ic_threshold: float = 0.5, pad: int = 3) -> "Motif":
    """A copy of ``motif`` cut to the columns chosen by :func:`trim_ppm`."""
    start, stop = trim_ppm(motif.ppm, ic_threshold=ic_threshold, pad=pad)
    return Motif(motif.id, motif.ppm[:, start:stop], name=motif.name, nsites=motif.nsites)


# --------------------------------------------------------------------------------------------
# Motif
# --------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Motif:
    """A DNA motif as a position probability matrix.

    Attributes
    ----------
    id : str
        Identifier, e.g. ``"MA0151.1"`` or ``"filter_3"``.
    ppm : (4, w) float64 array
        Rows A, C, G, T; every column sums to 1 (checked to 1e-3).
    name : str
        Human-readable name, e.g. ``"Arid3a"``.
    nsites : int or None
        Number of sites the matrix was built from, if known.
    """

    id: str
    ppm: np.ndarray
    name: str = ""
    nsites: int | None = field(default=None)

    def __post_init__(self) -> None:
        self.ppm = _as_ppm(self.ppm)
        if not np.all(np.isfinite(self.ppm)) or np.any(self.ppm < 0):
            raise ValueError(f"motif {self.id!r}: PPM values must be finite and >= 0")
        sums = self.ppm.sum(axis=0)
        bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
        if bad.size:
            raise ValueError(
                f"motif {self.id!r}: PPM column {int(bad[0])} sums to {sums[bad[0]]:.6g}, "
                "expected 1"
            )
        if self.nsites is not None:
            self.nsites = int(self.nsites)

    @property
    def width(self) -> int:
        """Number of columns ``w``."""
        return int(self.ppm.shape[1])

    def reverse_complement(self) -> "Motif":
        """The motif on the other strand (same id, name and nsites)."""
        return Motif(self.id, reverse_complement(self.ppm), name=self.name, nsites=self.nsites)

    def information_content(self, pseudocount: float = 0.0) -> np.ndarray:
        """(w,) information content of each column in bits."""
        return information_content(self.ppm, pseudocount=pseudocount)

    def consensus(self) -> str:
        """Most probable letter of each column."""
        return consensus(self.ppm)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Motif):
            return NotImplemented
        return (
            self.id == other.id
            and self.name == other.name
            and self.nsites == other.nsites
            and self.ppm.shape == other.ppm.shape
            and bool(np.array_equal(self.ppm, other.ppm))
        )

    def __repr__(self) -> str:
        return (
            f"Motif(id={self.id!r}, name={self.name!r}, width={self.width}, "
            f"nsites={self.nsites}, consensus={self.consensus()!r})"
        )
