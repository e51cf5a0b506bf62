"""Tomtom's scores: pseudocounts, column scores, median shift, integer scaling, best
alignments, and the comparison of a chunk of queries with the database (docs/TOMTOM.md).

The numerical core of :mod:`motiflens.interpret.tomtom`, for a chunk of queries of one width
against a prepared :class:`Database`; the null distributions and p-values are in
:mod:`motiflens.interpret.tomtom_null`. Each step is described in docs/TOMTOM.md under the
heading named in its docstring. Everything is numpy (no JIT, no warm-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from motiflens.interpret.tomtom_null import range_tails, target_pvalues

BINS = 100  # integer score range 0..BINS per column
DEFAULT_NSITES = 20.0
BG_REGULARISER = 5e-7
#: Query columns scored together (a block of raw scores should fit in cache).
ROW_BLOCK = 4
# The one double >= 0 for which floor(x + 0.5) differs from C round(x).
_BELOW_HALF = np.nextafter(0.5, 0.0)


# --------------------------------------------------------------------------------------------
# Pseudocounts and the database
# --------------------------------------------------------------------------------------------
def regularised_background(background: Sequence[float]) -> np.ndarray:
    """Tomtom's background ``(b + 5e-7) / (1 + 4 * 5e-7)``, shape (4,)."""
    bg = np.asarray(background, dtype=np.float64)
    return (bg + BG_REGULARISER) / (1.0 + 4 * BG_REGULARISER)


def with_pseudocount(ppm: np.ndarray, nsites: float | None, bg: np.ndarray,
                     pseudo: float) -> np.ndarray:
    """Pseudocounted columns ``(p n + a b) / (n + a)`` of a (4, w) PPM, shape (w, 4).

    ``n`` = nsites (20 when unknown or <= 0), ``a`` = pseudo, ``b`` = regularised background.
    """
    n = float(nsites) if nsites is not None and nsites > 0 else DEFAULT_NSITES
    p = ppm.T.astype(np.float64)
    return (p * n + pseudo * bg[None, :]) / (n + pseudo)


@dataclass(frozen=True)
class WidthGroup:
    """The oriented targets of one width, whose columns are contiguous in ``Database.cols_t``."""

    width: int
    members: np.ndarray  # (n,) oriented-target indices (canonical order), ascending
    start: int  # first column of the group in the work order


@dataclass
class Database:
    """Oriented targets t1+, t1-, t2+, ... (canonical order, ``M`` of them, ``T`` columns).

    The columns are stored regrouped by target width (the *work order*): the median, the scale
    and the column nulls do not depend on column order, and the alignment scan then sees every
    width group as one (n, w) block.
    """

    widths: np.ndarray  # (M,) int
    target_index: np.ndarray  # (M,) index into the target list
    strand: np.ndarray  # (M,) 0 = "+", 1 = "-"
    groups: list[WidthGroup]
    cols_t: np.ndarray  # (4, T) columns in work order
    centred_t: np.ndarray = field(init=False)  # pearson: columns minus the uniform 1/4
    centred_ss: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        tc = self.cols_t - 0.25
        self.centred_t = tc
        self.centred_ss = tc[0] * tc[0] + tc[1] * tc[1] + tc[2] * tc[2] + tc[3] * tc[3]

    @property
    def n_columns(self) -> int:
        return int(self.cols_t.shape[1])

    @property
    def max_width(self) -> int:
        return int(self.widths.max())


def build_database(targets: Sequence[np.ndarray], both_strands: bool) -> tuple[Database, list]:
    """Database of pseudocounted (w, 4) target columns; also returns the oriented columns
    (canonical order) for consensus strings."""
    oriented = []
    for cols in targets:
        oriented.append(cols)
        if both_strands:
            oriented.append(cols[::-1, ::-1])
    per = 2 if both_strands else 1
    widths = np.array([o.shape[0] for o in oriented], dtype=np.int64)
    groups, parts, start = [], [], 0
    for w in np.unique(widths).tolist():
        members = np.flatnonzero(widths == w)
        groups.append(WidthGroup(int(w), members, start))
        parts.extend(oriented[m] for m in members.tolist())
        start += members.size * int(w)
    db = Database(
        widths=widths,
        target_index=np.repeat(np.arange(len(targets)), per),
        strand=np.tile(np.arange(per), len(targets)),
        groups=groups,
        cols_t=np.ascontiguousarray(np.concatenate(parts, axis=0).T),
    )
    return db, oriented


# --------------------------------------------------------------------------------------------
# Column scores, median shift, integer scaling
# --------------------------------------------------------------------------------------------
def column_scores(q: np.ndarray, db: Database, distance: str, out: np.ndarray,
                  tmp: np.ndarray) -> np.ndarray:
    """Raw similarity (higher = closer) of every query column with every database column.

    Evaluated letter by letter in Tomtom's order, so the values are bit-identical to its.

    Parameters
    ----------
    q : (ql, 4) query columns
    db : Database
    distance : "ed" or "pearson"
    out, tmp : (ql, T) float64 buffers (``out`` receives the scores)
    """
    t = db.cols_t
    if distance == "ed":  # -sqrt(((d_A^2 + d_C^2) + d_G^2) + d_T^2)
        np.subtract.outer(q[:, 0], t[0], out=out)
        np.multiply(out, out, out=out)
        for x in range(1, 4):
            np.subtract.outer(q[:, x], t[x], out=tmp)
            np.multiply(tmp, tmp, out=tmp)
            np.add(out, tmp, out=out)
        np.sqrt(out, out=out)
        return np.negative(out, out=out)
    qc = q - 0.25
    tc = db.centred_t
    np.multiply.outer(qc[:, 0], tc[0], out=out)
    for x in range(1, 4):
        np.multiply.outer(qc[:, x], tc[x], out=tmp)
        np.add(out, tmp, out=out)
    qss = qc[:, 0] * qc[:, 0] + qc[:, 1] * qc[:, 1] + qc[:, 2] * qc[:, 2] + qc[:, 3] * qc[:, 3]
    np.multiply.outer(qss, db.centred_ss, out=tmp)
    np.sqrt(tmp, out=tmp)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(out, tmp, out=out)
    out[tmp == 0] = 0.0
    return out


def lower_medians(s: np.ndarray) -> np.ndarray:
    """Tomtom's row median ``(v[floor(n/2) - 1] + v[ceil(n/2) - 1]) / 2`` of sorted rows,
    i.e. the lower median when ``n`` is even; s is (R, n), left unchanged."""
    n = s.shape[1]
    k1, k2 = max(n // 2 - 1, 0), max((n + 1) // 2 - 1, 0)
    part = np.partition(s, sorted({k1, k2}), axis=1)
    return (part[:, k1] + part[:, k2]) / 2.0


def scaled_scores(q: np.ndarray, db: Database, distance: str, X: np.ndarray, f: np.ndarray,
                  raw: np.ndarray, tmp: np.ndarray) -> int:
    """Scores of one query in 0..BINS and their null pmfs (docs/TOMTOM.md, "Median shift and
    integer scaling").

    Rows are processed in blocks of ``ROW_BLOCK`` query columns so that each block's raw scores
    stay in cache from computation to median (here), and again from shift to histogram
    (:func:`quantise`).

    Parameters
    ----------
    q : (ql, 4) query columns
    db, distance : as for :func:`column_scores`
    X : (ql, T) int16, receives the scaled scores
    f : (ql, BINS + 1), receives the column pmfs
    raw : (ql, T) float64 buffer; tmp : (>= min(ql, ROW_BLOCK), T) float64 buffer

    Returns
    -------
    Z : int, the scaled value of a median column (what an unaligned query column scores)
    """
    ql = q.shape[0]
    m, low, high = np.empty(ql), np.empty(ql), np.empty(ql)
    for a in range(0, ql, ROW_BLOCK):
        b = min(a + ROW_BLOCK, ql)
        s = column_scores(q[a:b], db, distance, raw[a:b], tmp[: b - a])
        m[a:b] = lower_medians(s)
        # every later step is monotone in s, so row extremes can be taken now
        low[a:b] = s.min(axis=1) - m[a:b]
        high[a:b] = s.max(axis=1) - m[a:b]
    return quantise(raw, m, low, high, X, f)


def quantise(raw: np.ndarray, m: np.ndarray, low: np.ndarray, high: np.ndarray, X: np.ndarray,
             f: np.ndarray) -> int:
    """Median shift, one integer scale per query, rounding, column pmfs.

    Parameters
    ----------
    raw : (ql, T) float64 raw scores (overwritten)
    m : (ql,) row medians; low, high : (ql,) row extremes of ``raw - m``
    X, f : outputs, as for :func:`scaled_scores`

    Returns
    -------
    Z : int
    """
    ql = raw.shape[0]
    lo, hi = float(low.min()), float(high.max())
    if hi == lo:
        lo = hi - 1.0
    off = np.floor(lo)
    scale = np.floor(BINS / (hi - off))
    # C round() of x >= 0 is floor(x + 0.5) except for the double just below 0.5 (which rounds
    # to 0); only rows whose scaled minimum is <= that double can hold it
    suspects = set(np.flatnonzero((low - off) * scale <= _BELOW_HALF).tolist())
    for a in range(0, ql, ROW_BLOCK):
        b = min(a + ROW_BLOCK, ql)
        s = raw[a:b]
        np.subtract(s, m[a:b, None], out=s)
        s -= off
        s *= scale
        for r in suspects.intersection(range(a, b)):
            row = raw[r]
            row[row == _BELOW_HALF] = 0.0
        s += 0.5
        X[a:b] = s  # float -> int truncates, = floor for values > 0
        f[a:b] = column_pmfs(X[a:b])
    return int(round(-off * scale))


def column_pmfs(X: np.ndarray) -> np.ndarray:
    """Null pmf of each query column's score, (ql, BINS + 1), from one query's X (ql, T)."""
    ql, n = X.shape
    idx = X + (np.arange(ql, dtype=np.intp) * (BINS + 1))[:, None]
    counts = np.bincount(idx.ravel(), minlength=ql * (BINS + 1))
    return counts.reshape(ql, BINS + 1) / float(n)


# --------------------------------------------------------------------------------------------
# Best alignment and p-value of every (query, oriented target)
# --------------------------------------------------------------------------------------------
def _diagonal_sums(Xg: np.ndarray, ql: int, w: int) -> np.ndarray:
    """Sum of the scores of each configuration: (nq, ql + w - 1, n) from Xg (nq, ql, n, w).

    Configuration ``c`` (index ``c - 1``) pairs query column ``i`` with target column
    ``t = i + c - ql``. The loop runs over the narrower of the two motifs.
    """
    nq, _, n, _ = Xg.shape
    dtype = np.int16 if BINS * min(ql, w) < 2**15 else np.int32
    acc = np.zeros((nq, ql + w - 1, n), dtype=dtype)
    if w <= ql:
        rev = Xg[:, ::-1]
        for t in range(w):
            acc[:, t : t + ql] += rev[..., t]
    else:
        for i in range(ql):
            acc[:, ql - 1 - i : ql - 1 - i + w] += Xg[:, i].transpose(0, 2, 1)
    return acc


def compare_chunk(
    queries: Sequence[np.ndarray], db: Database, distance: str, min_overlap: int, mult: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p-value, offset and overlap of the best alignment of each query with each oriented
    target (docs/TOMTOM.md, "Best alignment" and "p-value").

    Parameters
    ----------
    queries : sequence of (ql, 4) pseudocounted query columns, all of one width
    db : Database
    distance : "ed" or "pearson"
    min_overlap : int
    mult : 2 with both strands (each alignment counted once per strand), else 1

    Returns
    -------
    p : (nq, M) float64; offset, overlap : (nq, M) int64 (canonical target order)
    """
    nq, ql, T = len(queries), queries[0].shape[0], db.n_columns
    X = np.empty((nq, ql, T), dtype=np.int16)
    Z = np.empty(nq, dtype=np.int64)
    f = np.empty((nq, ql, BINS + 1))
    raw, tmp = np.empty((ql, T)), np.empty((min(ql, ROW_BLOCK), T))
    for r, q in enumerate(queries):
        Z[r] = scaled_scores(q, db, distance, X[r], f[r], raw, tmp)
    tails = range_tails(f, min(ql, db.max_width))

    M = db.widths.size
    p = np.empty((nq, M))
    offsets = np.empty((nq, M), dtype=np.int64)
    overlaps = np.empty((nq, M), dtype=np.int64)
    for grp in db.groups:
        w, n = grp.width, grp.members.size
        Xg = X[:, :, grp.start : grp.start + n * w].reshape(nq, ql, n, w)
        c = np.arange(1, ql + w)
        ov = np.minimum(np.minimum(c, w), np.minimum(ql, ql + w - c))
        # complete score: aligned columns plus Z for each unaligned query column
        score = _diagonal_sums(Xg, ql, w) + ((ql - ov)[None, :] * Z[:, None])[..., None]
        if min_overlap > 1:
            mo = min(min_overlap, ql, w)
            first, last = mo - 1, ql + w - mo  # positions of configurations mo .. ql + w - mo
        else:
            first, last = 0, ql + w - 1
        # largest score, then largest overlap, then the first configuration
        key = score[:, first:last] * (min(ql, w) + 1) + ov[first:last, None]
        best = key.argmax(axis=1) + first  # (nq, n)
        C = np.take_along_axis(score, best[:, None, :], axis=1)[:, 0, :]
        offsets[:, grp.members] = best + 1 - ql
        overlaps[:, grp.members] = ov[best]
        p[:, grp.members] = target_pvalues(tails, C, Z, w, mult)
    return p, offsets, overlaps
