"""In-process MEME Tomtom: compare query motifs (e.g. conv filters) with a motif database.

Reimplements the p-value, E-value and q-value computation of MEME Tomtom (4.12.0, unchanged in
5.x) as described in ``shared/reference/tomtom/ALGORITHM.md``, vectorised with numpy (no JIT,
no warm-up):

1. Pseudocounts ``p' = (p n + a b) / (n + a)`` on queries *and* targets (``n`` = nsites, 20
   when unknown; ``a`` = 0.1; ``b`` = background, regularised as Tomtom does).
2. Column scores of every query column against every column of every target on both strands:
   ``ed`` (negated Euclidean distance; Tomtom's real default and the paper's) or ``pearson``.
3. Per query column, the lower median of its scores is subtracted ("complete scores"); one
   integer scale per query maps the shifted scores onto ``0..100``.
4. Exact null distributions: every contiguous range of query columns gets the exact pmf of its
   summed column scores (direct convolution in float64, so tails down to ~1e-300 keep full
   relative precision); the null of a target width is the maximum of ``2 (ql + w - 1)``
   independent alignment scores.
5. For each oriented target the best alignment (largest complete score, then largest overlap,
   then most negative offset) gets ``p = P(M_w >= C)`` rounded to float32, ``E = p N`` (``N``
   = number of targets), and q-values from Storey's bootstrap with Tomtom's Mersenne Twister
   (seed 4357, state carried from query to query), so q-values match Tomtom's exactly.

``-no-ssc`` (the reference files' option) only changes Tomtom's logos, never its numbers, so it
has no counterpart here.

Public API
----------
``TomtomConfig``, ``TomtomHit``, ``TomtomResult``, ``run_tomtom`` (full matrices + hits),
``tomtom`` (hits only), ``write_tomtom_tsv`` / ``read_tomtom_tsv`` (MEME 5 ``tomtom.tsv``
layout; the reader also takes MEME 4 ``-text`` output), ``compare_with_reference`` and
``python -m motiflens.interpret.tomtom --compare [DIR]`` (agreement table against real
MEME Tomtom outputs).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from motiflens._io import atomic_open
from motiflens.errors import ConfigError, FormatError
from motiflens.motifs import Motif

__all__ = [
    "Agreement",
    "DISTANCES",
    "TSV_COLUMNS",
    "TomtomConfig",
    "TomtomHit",
    "TomtomResult",
    "compare_with_reference",
    "format_agreement",
    "format_tomtom_tsv",
    "read_tomtom_tsv",
    "run_tomtom",
    "tomtom",
    "write_tomtom_tsv",
]

DISTANCES = ("ed", "pearson")
BINS = 100  # integer score range 0..BINS per column
TSV_COLUMNS = (
    "Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value", "Overlap",
    "Query_consensus", "Target_consensus", "Orientation",
)
_DEFAULT_NSITES = 20.0
_BG_REGULARISER = 5e-7
_MT_SEED = 4357
_BOOTSTRAPS = 100
_BOOTSTRAP_SAMPLE = 1000
_N_LAMBDA = 100


# --------------------------------------------------------------------------------------------
# Configuration and results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TomtomConfig:
    """Options of a Tomtom run (names follow the ``tomtom`` command line).

    Attributes
    ----------
    distance : {"ed", "pearson"}
        Column similarity (``-dist``). ``ed`` is what MEME Tomtom uses when ``-dist`` is not
        given (and what the paper used).
    min_overlap : int
        ``-min-overlap``: alignments must overlap ``min(min_overlap, ql, w)`` columns. It limits
        the alignments searched, not the null distribution (as in Tomtom).
    pseudocount : float
        ``-motif-pseudo``, applied to queries and targets with weight ``nsites``.
    evalue : bool
        ``-evalue``: threshold on the E-value (True, the paper's setting) or the q-value.
    thresh : float
        ``-thresh``: report matches with E (or q) <= thresh. Defaults are the paper's command
        (``-evalue -thresh 0.1``); Tomtom's own default is q <= 0.5.
    both_strands : bool
        Compare with targets' reverse complements too (False = Tomtom's ``-norc``).
    background : 4 floats
        A, C, G, T background for the pseudocounts (Tomtom takes it from the query file;
        the MEME files used here are uniform).
    """

    distance: str = "ed"
    min_overlap: int = 1
    pseudocount: float = 0.1
    evalue: bool = True
    thresh: float = 0.1
    both_strands: bool = True
    background: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25)

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ConfigError(f"tomtom distance (--dist) {self.distance!r}: expected one of "
                              f"{DISTANCES}")
        if int(self.min_overlap) != self.min_overlap or self.min_overlap < 1:
            raise ConfigError(f"tomtom min_overlap (--min-overlap) {self.min_overlap!r}: expected "
                              "an integer >= 1")
        if not np.isfinite(self.pseudocount) or self.pseudocount < 0:
            raise ConfigError(f"tomtom pseudocount (--pseudocount) {self.pseudocount!r}: expected "
                              "a number >= 0")
        if not np.isfinite(self.thresh) or self.thresh < 0:
            raise ConfigError(f"tomtom thresh (--thresh) {self.thresh!r}: expected a number >= 0")
        if not self.evalue and self.thresh > 1:
            raise ConfigError(
                f"tomtom thresh (--thresh) {self.thresh!r}: a q-value threshold must be <= 1 "
                "(drop --qvalue / set evalue=True to threshold on E-values)"
            )
        bg = np.asarray(self.background, dtype=np.float64)
        if bg.shape != (4,) or np.any(bg <= 0) or abs(bg.sum() - 1.0) > 1e-3:
            raise ConfigError(
                f"tomtom background {self.background!r}: expected 4 positive numbers summing to 1"
            )


@dataclass(frozen=True)
class TomtomHit:
    """One reported (query, target) match: a row of ``tomtom.tsv``.

    ``offset``: query column ``i`` is aligned with column ``i + offset`` of the target in the
    reported ``orientation`` ("+" or "-" = reverse complement).
    """

    query_id: str
    target_id: str
    offset: int
    pvalue: float
    evalue: float
    qvalue: float
    overlap: int
    query_consensus: str
    target_consensus: str
    orientation: str


@dataclass
class TomtomResult:
    """Every (query, target) comparison, best orientation per pair, plus the reported hits.

    Attributes
    ----------
    query_ids, target_ids : list of str
        Row and column labels (duplicate IDs dropped, first copy kept, as Tomtom does).
    pvalues : (Q, N) float32
        p-value of the best orientation and offset of each pair (Tomtom's p-value).
    evalues : (Q, N) float32
        ``pvalues * N``.
    qvalues : (Q, N) float32
        Tomtom's q-value of the entry reported for the pair.
    offsets, overlaps : (Q, N) int
        Optimal offset and overlap of the reported orientation.
    orientations : (Q, N) str array of "+" / "-"
    hits : list of TomtomHit
        The thresholded report (queries in input order, matches by increasing p-value).
    config : TomtomConfig
    query_consensus, target_consensus : list of str
        Consensus strings (of the pseudocounted PPMs; target strings on the + strand).
    """

    query_ids: list[str]
    target_ids: list[str]
    pvalues: np.ndarray
    evalues: np.ndarray
    qvalues: np.ndarray
    offsets: np.ndarray
    overlaps: np.ndarray
    orientations: np.ndarray
    hits: list[TomtomHit]
    config: TomtomConfig
    query_consensus: list[str] = field(default_factory=list)
    target_consensus: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Motif preparation
# --------------------------------------------------------------------------------------------
def _unique(motifs: Sequence[Motif], what: str) -> list[Motif]:
    """Drop later copies of duplicate IDs (Tomtom warns and keeps the first)."""
    seen: set[str] = set()
    kept = []
    for motif in motifs:
        if not isinstance(motif, Motif):
            raise ConfigError(f"tomtom {what}: expected motiflens.motifs.Motif, got {type(motif)}")
        if motif.id in seen:
            continue
        seen.add(motif.id)
        kept.append(motif)
    if not kept:
        raise ConfigError(f"tomtom: no {what} motifs given")
    return kept


def _background(config: TomtomConfig) -> np.ndarray:
    bg = np.asarray(config.background, dtype=np.float64)
    return (bg + _BG_REGULARISER) / (1.0 + 4 * _BG_REGULARISER)


def _with_pseudocount(motif: Motif, bg: np.ndarray, pseudo: float) -> np.ndarray:
    """Tomtom's pseudocounted PPM ``(p n + a b) / (n + a)``, shape (w, 4)."""
    n = float(motif.nsites) if motif.nsites is not None and motif.nsites > 0 else _DEFAULT_NSITES
    p = motif.ppm.T.astype(np.float64)
    return (p * n + pseudo * bg[None, :]) / (n + pseudo)


def _consensus_letters(cols: np.ndarray) -> np.ndarray:
    """Tomtom's consensus of (n, 4) probabilities as letter indices (n,).

    The first letter wins; a later letter replaces it only if its value is > the
    float32-rounded current maximum (this decides exact ties as Tomtom does)."""
    best = np.zeros(cols.shape[0], dtype=np.int64)
    cur = cols[:, 0].astype(np.float32).astype(np.float64)
    for letter in range(1, 4):
        better = cols[:, letter] > cur
        best[better] = letter
        cur = np.where(better, cols[:, letter].astype(np.float32).astype(np.float64), cur)
    return best


def _consensus_strings(cols: np.ndarray, widths: np.ndarray) -> list[str]:
    """Consensus strings of motifs whose (w, 4) columns are concatenated in ``cols``."""
    text = "".join("ACGT"[i] for i in _consensus_letters(cols).tolist())
    ends = np.cumsum(widths).tolist()
    return [text[e - w : e] for e, w in zip(ends, widths.tolist())]


@dataclass
class _Database:
    """Oriented targets t1+, t1-, t2+, ... and their columns concatenated."""

    cols: np.ndarray  # (T, 4) float64
    widths: np.ndarray  # (M,) int, M = number of oriented targets
    starts: np.ndarray  # (M,) first column of each oriented target in cols
    target_index: np.ndarray  # (M,) index into the target list
    strand: np.ndarray  # (M,) 0 = "+", 1 = "-"
    consensus: list[str]  # (M,)

    def __post_init__(self) -> None:
        self.cols_t = np.ascontiguousarray(self.cols.T)  # (4, T)
        tc = self.cols_t - 0.25
        self.centred_t = tc  # pearson: columns minus the uniform 1/4
        self.centred_ss = tc[0] * tc[0] + tc[1] * tc[1] + tc[2] * tc[2] + tc[3] * tc[3]


def _database(targets: list[np.ndarray], both_strands: bool) -> _Database:
    oriented = []
    for cols in targets:
        oriented.append(cols)
        if both_strands:
            oriented.append(cols[::-1, ::-1])
    per = 2 if both_strands else 1
    widths = np.array([o.shape[0] for o in oriented], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    cols = np.ascontiguousarray(np.concatenate(oriented, axis=0))
    return _Database(
        cols=cols,
        widths=widths,
        starts=starts,
        target_index=np.repeat(np.arange(len(targets)), per),
        strand=np.tile(np.arange(per), len(targets)),
        consensus=_consensus_strings(cols, widths),
    )


# --------------------------------------------------------------------------------------------
# Scores, median shift, integer scaling, column nulls
# --------------------------------------------------------------------------------------------
def _column_scores(q: np.ndarray, db: _Database, distance: str) -> np.ndarray:
    """Raw similarity of every query column with every database column (higher = closer).

    Evaluated letter by letter in Tomtom's order, so the values are bit-identical to its.

    Parameters
    ----------
    q : (ql, 4) float64 query columns
    db : _Database (uses ``cols_t``, (4, T), and for pearson ``centred_t`` / ``centred_ss``)
    distance : "ed" or "pearson"

    Returns
    -------
    (ql, T) float64
    """
    if distance == "ed":  # -sqrt(((d_A^2 + d_C^2) + d_G^2) + d_T^2)
        total = np.subtract(q[:, 0, None], db.cols_t[0][None, :])
        total *= total
        d = np.empty_like(total)
        for x in range(1, 4):
            np.subtract(q[:, x, None], db.cols_t[x][None, :], out=d)
            d *= d
            total += d
        np.sqrt(total, out=total)
        np.negative(total, out=total)
        return total
    qc = q - 0.25
    tc = db.centred_t
    num = qc[:, 0, None] * tc[0][None, :]
    for x in range(1, 4):
        num += qc[:, x, None] * tc[x][None, :]
    qss = qc[:, 0] * qc[:, 0] + qc[:, 1] * qc[:, 1] + qc[:, 2] * qc[:, 2] + qc[:, 3] * qc[:, 3]
    den = np.sqrt(qss[:, None] * db.centred_ss[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, 0.0, num / den)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C ``round()`` of values >= 0, in place, returned as int32.

    ``floor(x + 0.5)`` equals ``round(x)`` for every double ``x >= 0`` except
    0.49999999999999994 (whose sum with 0.5 rounds up to 1), which is set to 0 first.
    """
    x[x == np.nextafter(0.5, 0.0)] = 0.0
    x += 0.5
    np.floor(x, out=x)
    return x.astype(np.int32)


def _order_statistics(s: np.ndarray, k1: int, k2: int) -> tuple[np.ndarray, np.ndarray]:
    """The k1-th and k2-th smallest values (0-based, k1 <= k2 <= k1 + 1) of each row, exactly.

    Equivalent to ``np.partition(s, [k1, k2], axis=1)[:, [k1, k2]]`` but faster: bounds from a
    strided sample are checked by counting, and only the values between them are partitioned.
    Rows whose check fails fall back to a full partition.

    Parameters
    ----------
    s : (R, n) float64

    Returns
    -------
    v1, v2 : (R,) float64
    """
    rows, n = s.shape
    v1, v2 = np.empty(rows), np.empty(rows)
    step = 16
    if n < 64 * step:
        part = np.partition(s, sorted({k1, k2}), axis=1)
        return part[:, k1].copy(), part[:, k2].copy()
    sample = s[:, ::step]
    ns = sample.shape[1]
    centre = (k1 * ns) // n
    margin = int(1.5 * np.sqrt(ns)) + 2  # ~3 standard deviations of the sample rank
    r_lo, r_hi = max(centre - margin, 0), min(centre + margin, ns - 1)
    part = np.partition(sample, [r_lo, r_hi], axis=1)
    lo, hi = part[:, r_lo, None], part[:, r_hi, None]
    below = s < lo
    band = s <= hi
    band &= ~below
    n_below = np.count_nonzero(below, axis=1)
    n_band = np.count_nonzero(band, axis=1)
    # row-major: the band of row r is values[ends[r] - n_band[r] : ends[r]]
    values = np.compress(band.ravel(), s.ravel())
    ends = np.cumsum(n_band)
    for r in range(rows):
        a, b = int(k1 - n_below[r]), int(k2 - n_below[r])
        if 0 <= a and b < n_band[r]:
            part_r = np.partition(values[ends[r] - n_band[r] : ends[r]], sorted({a, b}))
            v1[r], v2[r] = part_r[a], part_r[b]
        else:  # the sample bounds missed the order statistics (rare): full partition
            full = np.partition(s[r], sorted({k1, k2}))
            v1[r], v2[r] = full[k1], full[k2]
    return v1, v2


def _scale_scores(s: np.ndarray) -> tuple[np.ndarray, int]:
    """Median shift and integer scaling of one query's scores (§3-4 of ALGORITHM.md).

    Parameters
    ----------
    s : (ql, T) float64 raw scores (overwritten).

    Returns
    -------
    X : (ql, T) int32 scores in 0..BINS
    Z : int, the scaled value of a median column (the "complete score" filler)
    """
    n = s.shape[1]
    k1, k2 = max(n // 2 - 1, 0), max((n + 1) // 2 - 1, 0)
    v1, v2 = _order_statistics(s, k1, k2)
    s -= ((v1 + v2) / 2.0)[:, None]
    lo, hi = float(s.min()), float(s.max())
    if hi == lo:
        lo = hi - 1.0
    off = np.floor(lo)
    scale = np.floor(BINS / (hi - off))
    s -= off
    s *= scale
    return _round_half_away(s), int(round(-off * scale))


def _column_pmfs(X: np.ndarray) -> np.ndarray:
    """Null pmf of each query column's score, (ql, BINS + 1), from X (ql, T)."""
    ql, n = X.shape
    flat = X + (np.arange(ql, dtype=np.int32) * (BINS + 1))[:, None]
    return np.bincount(flat.ravel(), minlength=ql * (BINS + 1)).reshape(ql, BINS + 1) / float(n)


@dataclass
class _RangeTails:
    """Upper tails of the summed null score of every contiguous range of query columns.

    For the range of length ``k`` starting at query column ``s``:
    ``flat[start[k, s] + y - base[k, s]] = P(sum_{i=s}^{s+k-1} X_i >= y)`` for
    ``0 <= y - base[k, s] < length[k]``; the tail is 1 below that window and 0 above it.
    """

    flat: np.ndarray  # (total,) float64
    start: np.ndarray  # (ql + 1, ql) int64
    base: np.ndarray  # (ql + 1, ql) int64, smallest possible sum of the range
    length: np.ndarray  # (ql + 1,) int64

    def lookup(self, k: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        """P(range [s_j, s_j + k_j - 1] sum >= y_j) for k, s, y of shape (n,)."""
        local = y - self.base[k, s]
        size = self.length[k]
        t = self.flat[self.start[k, s] + np.clip(local, 0, size - 1)]
        return np.where(local >= size, 0.0, np.minimum(t, 1.0))


def _range_tails(f: np.ndarray) -> _RangeTails:
    """Exact null of every contiguous range of one query's columns (Tomtom's range pmfs).

    The pmf of range ``[s, s + k - 1]`` is ``f_s * ... * f_{s+k-1}`` (exact discrete
    convolution in float64; sums of non-negative terms keep full relative precision in the
    far tails, which an FFT would not). Each column pmf is cut to its support (offset
    ``lo_i``, common width ``W``). Ranges grow by one column per step: the pmfs of all
    length-k ranges, split into blocks of ``K = W - 1`` values, are multiplied by the banded
    Toeplitz matrix of the next column's kernel (one small matrix product per range, batched)
    and overlap-added.

    Parameters
    ----------
    f : (ql, BINS + 1) column pmfs.

    Returns
    -------
    _RangeTails
    """
    ql, nb = f.shape
    nz = f > 0
    lo = nz.argmax(axis=1)
    hi = nb - 1 - nz[:, ::-1].argmax(axis=1)
    width = int((hi - lo).max()) + 1
    K = max(width - 1, 1)
    # kernels g[i, m] = f[i, lo_i + m], m < width
    padded = np.concatenate([f, np.zeros((ql, width))], axis=1)
    g = np.take_along_axis(padded, lo[:, None] + np.arange(width)[None, :], axis=1)
    # toeplitz[i, j, j + m] = g[i, m]: a block of K values convolved with column i's pmf
    toeplitz = np.zeros((ql, K, 2 * K))
    j = np.arange(K)[:, None]
    toeplitz[:, j, j + np.arange(width)[None, :]] = g[:, None, :]

    lo_cum = np.concatenate([[0], np.cumsum(lo)]).astype(np.int64)
    # blocks[s, c, :] = local values cK .. (c+1)K - 1 of the pmf of [s, s + k - 1]
    blocks = np.zeros((ql, 2, K))
    blocks.reshape(ql, 2 * K)[:, :width] = g
    length = np.zeros(ql + 1, dtype=np.int64)
    length[1:] = (np.arange(1, ql + 1) + 1) * K
    rows = ql + 1 - np.arange(ql + 1)  # ranges of each length k
    rows[0] = 0
    sizes = (rows * length).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = np.empty(int(offsets[-1]))
    start = np.zeros((ql + 1, ql), dtype=np.int64)
    base = np.zeros((ql + 1, ql), dtype=np.int64)
    for k in range(1, ql + 1):
        n_rows = ql - k + 1
        if k > 1:
            y = np.matmul(blocks[:n_rows], toeplitz[k - 1 :])  # (n_rows, k, 2K)
            blocks = np.zeros((n_rows, k + 1, K))
            blocks[:, :k] = y[..., :K]
            blocks[:, 1:] += y[..., K:]
        view = flat[offsets[k] : offsets[k + 1]].reshape(n_rows, length[k])
        # upper tail = cumulative sum from the top (as Tomtom sums it)
        np.cumsum(blocks.reshape(n_rows, -1)[:, ::-1], axis=1, out=view[:, ::-1])
        start[k, :n_rows] = offsets[k] + np.arange(n_rows) * length[k]
        base[k, :n_rows] = lo_cum[k:] - lo_cum[:n_rows]
    return _RangeTails(flat, start, base, length)


def _alignment_ranges(ql: int, w: int) -> list[tuple[int, int]]:
    """Query column range [s, e] of each of the ql + w - 1 alignments of the null (§5)."""
    ranges = []
    for a in range(ql + w - 1):
        if a < ql:
            s = ql - 1 - a
            e = min(ql, s + w) - 1
        else:
            s = 0
            e = min(ql, w + ql - 1 - a) - 1
        ranges.append((s, e))
    return ranges


@dataclass
class _Layout:
    """Index tables for one query width ``ql`` against the oriented targets."""

    # observed scores: every allowed configuration of every oriented target
    positions: np.ndarray  # (A,) start column in the padded score row
    overlap: np.ndarray  # (A,)
    offset: np.ndarray  # (A,)
    seg_start: np.ndarray  # (M,) first configuration of each oriented target
    seg_len: np.ndarray  # (M,)
    col_pos: np.ndarray  # (T,) padded position of each database column
    padded: int
    # null: the ql + w - 1 alignments (all overlaps) of every oriented target
    null_target: np.ndarray  # (A0,) oriented target of each null alignment
    null_k: np.ndarray  # (A0,) range length
    null_s: np.ndarray  # (A0,) range start
    null_start: np.ndarray  # (M,) first null alignment of each oriented target


def _layout(db: _Database, ql: int, min_overlap: int) -> _Layout:
    gap = ql - 1
    M = db.widths.size
    w = db.widths
    b = db.starts + (np.arange(M) + 1) * gap  # padded column of each target's column 0
    col_pos = np.arange(db.cols.shape[0]) + np.repeat(b - db.starts, w)
    if min_overlap > 1:
        mo = np.minimum(np.minimum(min_overlap, ql), w)
        lo, hi = mo, ql + w - mo
    else:
        lo, hi = np.ones_like(w), ql + w - 1
    seg_len = hi - lo + 1
    seg_start = np.concatenate([[0], np.cumsum(seg_len)[:-1]])
    owner = np.repeat(np.arange(M), seg_len)
    c = np.arange(seg_len.sum()) - np.repeat(seg_start, seg_len) + lo[owner]  # configuration
    wo = w[owner]
    ranges = {int(v): _alignment_ranges(ql, int(v)) for v in np.unique(w)}
    null_len = ql + w - 1
    null_target = np.repeat(np.arange(M), null_len)
    se = np.concatenate([np.array(ranges[int(v)], dtype=np.int64) for v in w.tolist()])
    null_k = se[:, 1] - se[:, 0] + 1
    return _Layout(
        positions=b[owner] + c - ql,
        overlap=np.minimum(np.minimum(c, wo), np.minimum(ql, ql + wo - c)),
        offset=c - ql,
        seg_start=seg_start,
        seg_len=seg_len,
        col_pos=col_pos,
        padded=int(db.cols.shape[0] + (M + 1) * gap),
        null_target=null_target,
        null_k=null_k,
        null_s=se[:, 0],
        null_start=np.concatenate([[0], np.cumsum(null_len)[:-1]]),
    )


def _best_alignments(X: np.ndarray, Z: int, lay: _Layout) -> tuple[np.ndarray, ...]:
    """Best complete score of one query against each oriented target (§6).

    Largest complete score; ties: larger overlap, then the first configuration (most
    negative offset).

    Parameters
    ----------
    X : (ql, T) int32 scaled scores; Z : median filler

    Returns
    -------
    score, offset, overlap : (M,) int64
    """
    ql = X.shape[0]
    pad = np.zeros((ql, lay.padded), dtype=np.int32)
    pad[:, lay.col_pos] = X - np.int32(Z)
    n = lay.padded - ql + 1
    diag = pad[0, :n].copy()
    for i in range(1, ql):
        diag += pad[i, i : i + n]
    key = (diag[lay.positions].astype(np.int64) + ql * Z) * 1024 + lay.overlap
    best = np.maximum.reduceat(key, lay.seg_start)
    is_best = key == np.repeat(best, lay.seg_len)
    first = np.minimum.reduceat(
        np.where(is_best, np.arange(key.size), key.size), lay.seg_start
    )
    return best >> 10, lay.offset[first], lay.overlap[first]


def _pvalues(tails: _RangeTails, Z: int, scores: np.ndarray, lay: _Layout, mult: int) -> np.ndarray:
    """``P(M_w >= C)`` for one query's observed complete scores.

    ``M_w`` is the maximum of ``mult * (ql + w - 1)`` independent alignment scores (one per
    overlap, per strand); computed as ``1 - prod_a (1 - P(C_a >= C))^mult`` with log1p /
    expm1, which keeps full relative precision for small p (as Tomtom's tail sum of the max
    pmf does).

    Parameters
    ----------
    tails : from ``_range_tails``
    Z : median filler of the query
    scores : (M,) int complete score of each oriented target
    lay : _Layout for this query width
    mult : 2 with both strands, else 1

    Returns
    -------
    (M,) float64
    """
    ql = tails.length.size - 1
    y = scores[lay.null_target] - (ql - lay.null_k) * Z
    t = tails.lookup(lay.null_k, lay.null_s, y)
    with np.errstate(divide="ignore"):
        log_none = np.add.reduceat(np.log1p(-t), lay.null_start)
    return -np.expm1(mult * log_none)


# --------------------------------------------------------------------------------------------
# q-values (Storey bootstrap with Tomtom's Mersenne Twister)
# --------------------------------------------------------------------------------------------
class _TomtomRandom:
    """MT19937 seeded the 1998 ``sgenrand`` way (Tomtom's generator), never reseeded."""

    def __init__(self, seed: int = _MT_SEED) -> None:
        key = np.empty(624, dtype=np.uint64)
        key[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):
            key[i] = (69069 * int(key[i - 1])) & 0xFFFFFFFF
        self._bits = np.random.MT19937()
        self._bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": key.astype(np.uint32), "pos": 624},
        }

    def uniform(self, n: int) -> np.ndarray:
        """n doubles in [0, 1), each from two 32-bit outputs ``(hi 2^32 + lo) 2^-64``."""
        raw = self._bits.random_raw(2 * n).astype(np.float64).reshape(n, 2)
        return (raw[:, 0] * 4294967296.0 + raw[:, 1]) * 2.0**-64


def _qvalues(p_sorted: np.ndarray, rng: _TomtomRandom) -> np.ndarray:
    """Tomtom's q-values of p-values already in report order.

    Parameters
    ----------
    p_sorted : (m,) float64 (the float32 p-values), sorted ascending

    Returns
    -------
    (m,) float64
    """
    m = p_sorted.size
    pi0 = 1.0
    if m > 100:
        lambdas = 0.5 * (np.arange(_N_LAMBDA) + 1) / 100.0
        # number of lambdas <= p, for each p: p counts towards #{p >= lambda_k} for k < that
        n_le = np.searchsorted(lambdas, p_sorted, side="right")

        def pi0_of(counts_le: np.ndarray, size: int) -> np.ndarray:
            """(R, n) counts of lambdas <= p -> (R, 100) pi0(lambda_k) of each of R samples."""
            rows = counts_le.shape[0]
            offset = (np.arange(rows) * (_N_LAMBDA + 1))[:, None]
            hist = np.bincount((counts_le + offset).ravel(), minlength=rows * (_N_LAMBDA + 1))
            hist = hist.reshape(rows, _N_LAMBDA + 1)
            n_ge = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]  # #{p >= lambda_k}
            with np.errstate(divide="ignore"):
                return np.where(n_ge > 0, n_ge / ((1.0 - lambdas) * size), np.inf)

        full = pi0_of(n_le[None, :], m)[0]
        pi0_min = full.min()
        u = rng.uniform(_BOOTSTRAPS * _BOOTSTRAP_SAMPLE)
        idx = np.floor(u * m).astype(np.int64).reshape(_BOOTSTRAPS, _BOOTSTRAP_SAMPLE)
        diff = pi0_of(n_le[idx], _BOOTSTRAP_SAMPLE) - pi0_min
        err = (diff * diff).sum(axis=0)
        pi0 = float(min(max(full[int(np.argmin(err))], 0.0), 1.0))
    rank = np.arange(1, m + 1, dtype=np.float64)
    fdr = np.minimum(1.0, pi0 * p_sorted * m / rank)
    return np.minimum.accumulate(fdr[::-1])[::-1]


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------
def _single_threaded_blas():
    """Limit BLAS to one thread: the many small products here run slower multi-threaded
    (and much slower on a busy machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run_tomtom(
    queries: Sequence[Motif],
    targets: Sequence[Motif],
    config: TomtomConfig | None = None,
    n_jobs: int | None = None,
) -> TomtomResult:
    """Compare every query with every target, as MEME Tomtom does.

    Parameters
    ----------
    queries : sequence of Motif
        E.g. conv-filter PPMs; each (4, w).
    targets : sequence of Motif
        The database (e.g. JASPAR); ``N`` = number of distinct IDs.
    config : TomtomConfig, optional
    n_jobs : int, optional
        Threads over queries (numpy releases the GIL in the heavy steps); default
        ``min(2, cpu count)``. Results do not depend on it.

    Returns
    -------
    TomtomResult
        (Q, N) matrices for the best orientation of every pair, and the thresholded hits.
    """
    config = config or TomtomConfig()
    queries = _unique(queries, "query")
    targets = _unique(targets, "target")
    bg = _background(config)
    q_cols = [_with_pseudocount(m, bg, config.pseudocount) for m in queries]
    t_cols = [_with_pseudocount(m, bg, config.pseudocount) for m in targets]
    db = _database(t_cols, config.both_strands)
    n_q, n_t, n_o = len(queries), len(targets), db.widths.size
    mult = 2 if config.both_strands else 1

    p64 = np.empty((n_q, n_o))
    offsets = np.empty((n_q, n_o), dtype=np.int64)
    overlaps = np.empty((n_q, n_o), dtype=np.int64)
    widths = np.array([c.shape[0] for c in q_cols])
    layouts = {ql: _layout(db, ql, config.min_overlap) for ql in np.unique(widths).tolist()}

    def one(r: int) -> None:
        lay = layouts[int(widths[r])]
        X, Z = _scale_scores(_column_scores(q_cols[r], db, config.distance))
        score, offsets[r], overlaps[r] = _best_alignments(X, Z, lay)
        p64[r] = _pvalues(_range_tails(_column_pmfs(X)), Z, score, lay, mult)

    n_jobs = min(2, os.cpu_count() or 1) if n_jobs is None else max(1, int(n_jobs))
    with _single_threaded_blas():
        if n_jobs == 1 or n_q == 1:
            for r in range(n_q):
                one(r)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                list(pool.map(one, range(n_q)))
    return _assemble(queries, targets, db, q_cols, p64, offsets, overlaps, config, n_t)


def _assemble(
    queries: list[Motif],
    targets: list[Motif],
    db: _Database,
    q_cols: list[np.ndarray],
    p64: np.ndarray,
    offsets: np.ndarray,
    overlaps: np.ndarray,
    config: TomtomConfig,
    n_t: int,
) -> TomtomResult:
    """Sort, q-values, thresholding and best-orientation matrices."""
    n_q, n_o = p64.shape
    p32 = p64.astype(np.float32)
    e32 = p32 * np.float32(n_t)  # float32 arithmetic, = float32(p N)
    q_all = np.empty((n_q, n_o))
    order_all = np.empty((n_q, n_o), dtype=np.int64)
    # ties: larger overlap first, then strcmp of "<strand><ID>" ('+' < '-'); Tomtom's extra
    # "target file index" key is the index of the database *file* (always one file here)
    labels = [("-" if st else "+") + targets[t].id for t, st in zip(db.target_index, db.strand)]
    label_rank = np.empty(n_o, dtype=np.int64)
    label_rank[sorted(range(n_o), key=lambda j: labels[j].encode())] = np.arange(n_o)
    rng = _TomtomRandom()
    for i in range(n_q):
        order = np.lexsort((label_rank, -overlaps[i], p32[i]))
        order_all[i] = order
        q_all[i, order] = _qvalues(p32[i, order].astype(np.float64), rng)
    q32 = q_all.astype(np.float32)

    # best orientation = the one that comes first in report order
    rank = np.empty_like(order_all)
    np.put_along_axis(rank, order_all, np.arange(n_o)[None, :], axis=1)
    if config.both_strands:
        pick = np.where(rank[:, 1::2] < rank[:, 0::2], 1, 0)
        best = 2 * np.arange(n_t)[None, :] + pick
    else:
        best = np.broadcast_to(np.arange(n_t)[None, :], (n_q, n_t))
    take = lambda a: np.take_along_axis(a, best, axis=1)  # noqa: E731

    q_cons = _consensus_strings(np.concatenate(q_cols), np.array([c.shape[0] for c in q_cols]))
    hits: list[TomtomHit] = []
    for i in range(n_q):
        reported: set[int] = set()
        for j in order_all[i]:
            value = float(e32[i, j] if config.evalue else q32[i, j])  # compared in double
            if value > config.thresh:
                break
            t = int(db.target_index[j])
            if t in reported:
                continue
            reported.add(t)
            hits.append(
                TomtomHit(
                    query_id=queries[i].id,
                    target_id=targets[t].id,
                    offset=int(offsets[i, j]),
                    pvalue=float(p32[i, j]),
                    evalue=float(e32[i, j]),
                    qvalue=float(q32[i, j]),
                    overlap=int(overlaps[i, j]),
                    query_consensus=q_cons[i],
                    target_consensus=db.consensus[j],
                    orientation="-" if db.strand[j] else "+",
                )
            )
    return TomtomResult(
        query_ids=[m.id for m in queries],
        target_ids=[m.id for m in targets],
        pvalues=take(p32),
        evalues=take(e32),
        qvalues=take(q32),
        offsets=take(offsets),
        overlaps=take(overlaps),
        orientations=np.where(take(db.strand[None, :].repeat(n_q, axis=0)) == 1, "-", "+"),
        hits=hits,
        config=config,
        query_consensus=q_cons,
        target_consensus=[db.consensus[j] for j in range(0, n_o, 2 if config.both_strands else 1)],
    )


def tomtom(
    queries: Sequence[Motif],
    targets: Sequence[Motif],
    config: TomtomConfig | None = None,
    n_jobs: int | None = None,
) -> list[TomtomHit]:
    """The thresholded Tomtom report (``run_tomtom(...).hits``)."""
    return run_tomtom(queries, targets, config, n_jobs=n_jobs).hits


# --------------------------------------------------------------------------------------------
# tomtom.tsv
# --------------------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    """C ``%g`` of a float32 value, as Tomtom prints it."""
    return "%g" % float(np.float32(value))


def write_tomtom_tsv(
    hits: Sequence[TomtomHit], path: str | os.PathLike, command: str | None = None
) -> Path:
    """Write hits in MEME 5 ``tomtom.tsv`` layout (atomically).

    Header ``Query_ID  Target_ID  Optimal_offset  p-value  E-value  q-value  Overlap
    Query_consensus  Target_consensus  Orientation``; numbers as ``%g`` of float32 (as Tomtom
    prints them); trailing ``#`` comment lines name the program and, if given, the command.

    Parameters
    ----------
    hits : sequence of TomtomHit
    path : path-like
    command : str, optional
        Recorded in a trailing comment line.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(format_tomtom_tsv(hits, command))
    return path


def format_tomtom_tsv(hits: Sequence[TomtomHit], command: str | None = None) -> str:
    """The text :func:`write_tomtom_tsv` writes (e.g. to print the table on stdout)."""
    lines = ["\t".join(TSV_COLUMNS) + "\n"]
    for h in hits:
        lines.append(
            f"{h.query_id}\t{h.target_id}\t{h.offset}\t{_fmt(h.pvalue)}\t{_fmt(h.evalue)}\t"
            f"{_fmt(h.qvalue)}\t{h.overlap}\t{h.query_consensus}\t{h.target_consensus}\t"
            f"{h.orientation}\n"
        )
    lines.append("\n# Tomtom (Motif Comparison Tool): motiflens in-process reimplementation"
                 " of MEME Tomtom 4.12/5.x\n")
    if command:
        lines.append(f"# {command}\n")
    return "".join(lines)


def read_tomtom_tsv(path: str | os.PathLike) -> list[TomtomHit]:
    """Read a Tomtom table: MEME 5 ``tomtom.tsv``, MEME 4 ``-text`` / ``tomtom.txt`` (header
    ``#Query ID ...``), or ``write_tomtom_tsv`` output; ``.gz`` is accepted.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of TomtomHit, in file order.

    Raises
    ------
    FormatError
        Missing file, no header, a row without 10 fields or with non-numeric values.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"cannot read Tomtom table: {exc}") from None
    header_seen = False
    hits: list[TomtomHit] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        norm = line.lstrip("#").replace(" ", "_").split("\t")
        if not header_seen:
            if norm[:2] == ["Query_ID", "Target_ID"]:
                header_seen = True
                continue
            raise FormatError(
                path, "expected a Tomtom header starting 'Query_ID<TAB>Target_ID'", line=lineno
            )
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 10:
            raise FormatError(path, f"row has {len(parts)} fields, expected 10", line=lineno)
        try:
            hits.append(
                TomtomHit(
                    query_id=parts[0], target_id=parts[1], offset=int(parts[2]),
                    pvalue=float(parts[3]), evalue=float(parts[4]), qvalue=float(parts[5]),
                    overlap=int(parts[6]), query_consensus=parts[7], target_consensus=parts[8],
                    orientation=parts[9],
                )
            )
        except ValueError as exc:
            raise FormatError(path, f"bad number in row: {exc}", line=lineno) from None
    if not header_seen:
        raise FormatError(path, "no Tomtom header line found")
    return hits


# --------------------------------------------------------------------------------------------
# Agreement with real MEME Tomtom outputs
# --------------------------------------------------------------------------------------------
def _reference_runs() -> dict[str, tuple[str, TomtomConfig]]:
    """Reference file name -> (query file, the Tomtom options that produced it); see
    ``shared/reference/tomtom/README.md``."""
    runs: dict[str, tuple[str, TomtomConfig]] = {}
    for name in ("jaspar", "planted"):
        queries = f"queries_{name}.meme"
        for dist in DISTANCES:
            # tomtom -no-ssc -min-overlap 5 -dist D -evalue -thresh 1 (or 1000 for __all)
            runs[f"{name}__{dist}.tsv"] = (queries, TomtomConfig(dist, 5, thresh=1.0))
            runs[f"{name}__{dist}__all.tsv.gz"] = (queries, TomtomConfig(dist, 5, thresh=1000.0))
        # the paper's command: tomtom -evalue -thresh 0.1 (ed, min-overlap 1)
        runs[f"{name}__paper_default.tsv"] = (queries, TomtomConfig("ed", 1, thresh=0.1))
    return runs


@dataclass(frozen=True)
class Agreement:
    """Agreement of our report with one reference file (fractions of the reference rows)."""

    file: str
    rows_ref: int
    rows_ours: int
    same_pairs: bool
    pvalue: float  # printed %g identical
    evalue: float
    qvalue: float
    qvalue_1pct: float  # within 1% relative
    offset: float
    overlap: float
    orientation: float
    consensus: float
    rank_order: float  # same (query, target) at the same row


def _agreement(name: str, ref: list[TomtomHit], ours: list[TomtomHit]) -> Agreement:
    mine = {(h.query_id, h.target_id): h for h in ours}
    n = max(len(ref), 1)

    def frac(pred) -> float:
        return sum(1 for r in ref if (r.query_id, r.target_id) in mine
                   and pred(r, mine[(r.query_id, r.target_id)])) / n

    def close(a: float, b: float) -> bool:
        return a == b or abs(a - b) <= 0.01 * max(abs(a), abs(b))

    return Agreement(
        file=name,
        rows_ref=len(ref),
        rows_ours=len(ours),
        same_pairs={(r.query_id, r.target_id) for r in ref} == set(mine),
        pvalue=frac(lambda r, o: _fmt(r.pvalue) == _fmt(o.pvalue)),
        evalue=frac(lambda r, o: _fmt(r.evalue) == _fmt(o.evalue)),
        qvalue=frac(lambda r, o: _fmt(r.qvalue) == _fmt(o.qvalue)),
        qvalue_1pct=frac(lambda r, o: close(r.qvalue, o.qvalue)),
        offset=frac(lambda r, o: r.offset == o.offset),
        overlap=frac(lambda r, o: r.overlap == o.overlap),
        orientation=frac(lambda r, o: r.orientation == o.orientation),
        consensus=frac(lambda r, o: (r.query_consensus, r.target_consensus)
                       == (o.query_consensus, o.target_consensus)),
        rank_order=sum(1 for r, o in zip(ref, ours)
                       if (r.query_id, r.target_id) == (o.query_id, o.target_id)) / n,
    )


def compare_with_reference(reference_dir: str | os.PathLike) -> list[Agreement]:
    """Run every reference configuration and compare with the real MEME Tomtom outputs.

    Parameters
    ----------
    reference_dir : path-like
        Folder with ``jaspar2016_vertebrates.meme``, the query files and the ``*.tsv[.gz]``
        outputs (``shared/reference/tomtom``).

    Returns
    -------
    list of Agreement, one per reference file found.
    """
    from motiflens.motifs import read_meme

    ref_dir = Path(reference_dir)
    db = read_meme(ref_dir / "jaspar2016_vertebrates.meme")
    cache: dict[tuple[str, str, int], TomtomResult] = {}
    out = []
    for name, (query_file, config) in _reference_runs().items():
        if not (ref_dir / name).exists():
            continue
        key = (query_file, config.distance, config.min_overlap)
        if key not in cache:
            full = TomtomConfig(distance=config.distance, min_overlap=config.min_overlap,
                                evalue=True, thresh=1e9)
            cache[key] = run_tomtom(read_meme(ref_dir / query_file), db, full)
        ours = _rethreshold(cache[key].hits, config.thresh)
        out.append(_agreement(name, read_tomtom_tsv(ref_dir / name), ours))
    return out


def _rethreshold(hits: list[TomtomHit], thresh: float) -> list[TomtomHit]:
    """Tomtom's stop-at-first-E-above-thresh walk on an unthresholded, ordered report.

    Valid because the unthresholded report lists each target once, at its first (best)
    position, and later copies (other strand) never come before the stopping point.
    """
    kept = []
    stopped: set[str] = set()
    for h in hits:
        if h.query_id in stopped:
            continue
        if h.evalue > thresh:
            stopped.add(h.query_id)
            continue
        kept.append(h)
    return kept


def format_agreement(rows: Sequence[Agreement]) -> str:
    """A fixed-width table of agreement percentages."""
    head = ("file", "rows", "ours", "pairs", "p %g", "E %g", "q %g", "q 1%", "offset",
            "overlap", "strand", "cons", "order")
    lines = ["{:<30} {:>6} {:>6} {:>5} ".format(*head[:4])
             + " ".join(f"{h:>7}" for h in head[4:])]
    for a in rows:
        pct = [a.pvalue, a.evalue, a.qvalue, a.qvalue_1pct, a.offset, a.overlap,
               a.orientation, a.consensus, a.rank_order]
        lines.append(f"{a.file:<30} {a.rows_ref:>6} {a.rows_ours:>6} "
                     f"{'yes' if a.same_pairs else 'NO':>5} "
                     + " ".join(f"{100 * v:>7.3f}" for v in pct))
    return "\n".join(lines)


def _default_reference_dir() -> Path:
    return Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "tomtom"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m motiflens.interpret.tomtom``: run Tomtom, or ``--compare`` with the
    reference outputs."""
    parser = argparse.ArgumentParser(prog="python -m motiflens.interpret.tomtom",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", nargs="?", const=str(_default_reference_dir()),
                        metavar="DIR", help="agreement table against real MEME Tomtom outputs")
    parser.add_argument("query", nargs="?", help="query motifs (MEME or JASPAR file)")
    parser.add_argument("target", nargs="?", help="target (database) motifs (MEME or JASPAR "
                        "file, or a JASPAR release name)")
    parser.add_argument("-o", "--output", default="tomtom.tsv")
    parser.add_argument("--dist", choices=DISTANCES, default="ed")
    parser.add_argument("--min-overlap", type=int, default=1)
    parser.add_argument("--thresh", type=float, default=0.1)
    parser.add_argument("--qvalue", action="store_true", help="threshold on q (default: E)")
    args = parser.parse_args(argv)
    if args.compare:
        print(format_agreement(compare_with_reference(args.compare)))
        return 0
    if not (args.query and args.target):
        parser.error("give QUERY and TARGET MEME files, or --compare")
    from motiflens.errors import MotiflensError
    from motiflens.jaspar import load_motif_source

    try:
        config = TomtomConfig(distance=args.dist, min_overlap=args.min_overlap,
                              thresh=args.thresh, evalue=not args.qvalue)
        hits = tomtom(load_motif_source(args.query), load_motif_source(args.target), config)
        write_tomtom_tsv(hits, args.output, command=" ".join(sys.argv))
    except MotiflensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
