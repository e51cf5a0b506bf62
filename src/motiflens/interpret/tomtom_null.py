"""Tomtom's null distributions and p-values (docs/TOMTOM.md, "Null distribution" and
"p-value").

The null score of an alignment covering query columns ``[s, e]`` is the sum of independent
column scores, each drawn from that column's null pmf; the p-value of a target's best complete
score is the chance that the best of all its ``ql + w - 1`` alignments (on each strand) scores
as high. :func:`range_tails` builds the exact upper tails of every range sum that can occur;
:func:`target_pvalues` combines them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

#: Block length of the batched convolutions (docs/TOMTOM.md, "Speed"); any value >= 1 gives
#: the same numbers up to float64 rounding.
CONV_BLOCK = 24
#: Range starts processed together (bounds the working set of the convolutions).
START_GROUP = 16


@dataclass
class RangeTails:
    """Upper tails of the summed null score of contiguous ranges of query columns, for each
    query of a chunk: ranges of ``k <= max_len`` columns (the longest a target can align).

    For the range of length ``k`` starting at query column ``s`` of query ``j``:
    ``flat[j, start[k, s] + y - base[j, k, s]] = P(sum_{i=s}^{s+k-1} X_i >= y)`` for
    ``0 <= y - base[j, k, s] < length[k]``; the tail is 1 below that window and 0 above it
    (the last value of every window is 0).
    """

    flat: np.ndarray  # (nq, total) float64
    start: np.ndarray  # (max_len + 1, ql) int64
    base: np.ndarray  # (nq, max_len + 1, ql) int64, smallest possible sum of the range
    length: np.ndarray  # (max_len + 1,) int64

    def lookup(self, k: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``P(range sum >= y)`` for ranges (k, s) of shape (A,) and y of shape (nq, n, A)."""
        nq, total = self.flat.shape
        local = y - self.base[:, k, s][:, None, :]
        # every stored window ends with a 0 (past the support), so clipping is exact
        np.clip(local, 0, self.length[k] - 1, out=local)
        local += self.start[k, s]
        local += (np.arange(nq) * total)[:, None, None]
        t = np.take(self.flat.reshape(-1), local)
        return np.minimum(t, 1.0, out=t)


def range_tails(f: np.ndarray, max_len: int) -> RangeTails:
    """Exact null of every range of at most ``max_len`` consecutive query columns.

    The null score of range ``[s, s + k - 1]`` is the sum of independent column scores, so its
    upper tail is that of range ``[s, s + k - 2]`` convolved with the pmf of column
    ``s + k - 1``: ``P(A + X >= y) = sum_m P(X = m) P(A >= y - m)``, where ``P(A >= y) = 1``
    below A's support. The tails are built this way, length by length, in float64 by direct
    convolution: sums of non-negative terms keep full relative precision in the far tails
    (which an FFT would not), and no tail is ever formed as 1 - CDF. Ranges longer than
    ``max_len`` are never needed: no alignment with a target of width ``w`` covers more than
    ``min(ql, w)`` query columns.

    Each column pmf is cut to its support (offset ``lo_i``, kernel length ``kw``). The tails of
    all length-k ranges of all queries, split into blocks of ``CONV_BLOCK`` values, are
    multiplied by the banded Toeplitz matrix of the next column's kernel (batched small matrix
    products) and overlap-added; the ``kw - 1`` lowest values then get the kernel's own tail
    (the part of ``P(X >= y)`` that meets ``P(A >= y - m) = 1``).

    Parameters
    ----------
    f : (nq, ql, BINS + 1) column pmfs
    max_len : int, longest range needed (``min(ql, widest target)``)
    """
    nq, ql, nb = f.shape
    top = min(max_len, ql)
    nz = f > 0
    lo = nz.argmax(axis=2)
    hi = nb - 1 - nz[..., ::-1].argmax(axis=2)
    kw = int((hi - lo).max()) + 1
    B = CONV_BLOCK
    pieces = -(-(B + kw - 1) // B)  # output blocks touched by one input block
    wide = pieces * B
    padded = np.concatenate([f, np.zeros((nq, ql, kw))], axis=2)
    g = np.take_along_axis(padded, lo[..., None] + np.arange(kw), axis=2)  # (nq, ql, kw)
    g_tail = np.cumsum(g[..., ::-1], axis=2)[..., ::-1]  # tail of each column, from the top
    # toeplitz[.., j, j + m] = g[.., m]: rows start (wide + 1) values apart in memory
    toeplitz = np.zeros((nq, ql, B, wide))
    diag = (toeplitz.strides[0], toeplitz.strides[1], (wide + 1) * 8, 8)
    as_strided(toeplitz, (nq, ql, B, kw), diag, writeable=True)[...] = g[:, :, None, :]

    # k (kw - 1) + 1 support values, then at least one 0 (see RangeTails.lookup)
    n_blocks = np.array([0] + [-(-(k * (kw - 1) + 2) // B) for k in range(1, top + 1)])
    length = n_blocks * B
    rows = np.array([0] + [ql - k + 1 for k in range(1, top + 1)])
    offsets = np.concatenate([[0], np.cumsum(rows * length)]).astype(np.int64)
    flat = np.empty((nq, int(offsets[-1])))

    def tails_of(k: int, blocks: bool = True) -> np.ndarray:  # view of flat
        shape = (nq, rows[k], n_blocks[k], B) if blocks else (nq, rows[k], length[k])
        return flat[:, offsets[k] : offsets[k + 1]].reshape(shape)

    one = tails_of(1, blocks=False)
    one[..., :kw] = g_tail
    one[..., kw:] = 0.0
    for s0 in range(0, rows[min(2, top)], START_GROUP):  # groups of starts: stays in cache
        cur = tails_of(1)[:, s0 : s0 + START_GROUP]
        for k in range(2, top + 1):
            n = min(START_GROUP, rows[k] - s0)
            if n <= 0:
                break
            prev, nxt = cur.shape[2], tails_of(k)[:, s0 : s0 + n]
            y = np.matmul(cur[:, :n], toeplitz[:, s0 + k - 1 : s0 + k - 1 + n])
            y = y.reshape(nq, n, prev, pieces, B)
            nxt[:, :, :prev] = y[:, :, :, 0]
            nxt[:, :, prev:] = 0.0
            for p in range(1, pieces):
                m = min(prev, n_blocks[k] - p)
                nxt[:, :, p : p + m] += y[:, :, :m, p]
            low = tails_of(k, blocks=False)[:, s0 : s0 + n, : kw - 1]
            low += g_tail[:, s0 + k - 1 : s0 + k - 1 + n, 1:]
            cur = nxt

    start = np.zeros((top + 1, ql), dtype=np.int64)
    base = np.zeros((nq, top + 1, ql), dtype=np.int64)
    lo_cum = np.concatenate([np.zeros((nq, 1), np.int64), np.cumsum(lo, axis=1)], axis=1)
    for k in range(1, top + 1):
        start[k, : rows[k]] = offsets[k] + np.arange(rows[k]) * length[k]
        base[:, k, : rows[k]] = lo_cum[:, k:] - lo_cum[:, : rows[k]]
    return RangeTails(flat, start, base, length.astype(np.int64))


def alignment_ranges(ql: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Length ``k`` and first query column ``s`` of the range covered by each of the
    ``ql + w - 1`` alignments of a width-``w`` target (docs/TOMTOM.md, "Null distribution")."""
    a = np.arange(ql + w - 1)
    s = np.where(a < ql, ql - 1 - a, 0)
    e = np.where(a < ql, np.minimum(ql, s + w) - 1, np.minimum(ql, w + ql - 1 - a) - 1)
    return e - s + 1, s


def target_pvalues(tails: RangeTails, C: np.ndarray, Z: np.ndarray, w: int,
                   mult: int) -> np.ndarray:
    """``P(M_w >= C)`` for the best complete scores C (nq, n) of width-``w`` targets.

    ``M_w`` is the maximum of ``mult * (ql + w - 1)`` independent alignment scores (each
    alignment once per strand); ``P(M_w >= C) = 1 - prod_a (1 - P(C_a >= C))^mult``, computed
    with log1p / expm1, which keeps full relative precision for small p.

    Parameters
    ----------
    tails : RangeTails of the chunk's queries
    C : (nq, n) int, complete score of each target's best alignment
    Z : (nq,) int, each query's median-column score
    w : int, target width
    mult : 2 with both strands, else 1

    Returns
    -------
    (nq, n) float64
    """
    ql = tails.start.shape[1]
    k, s = alignment_ranges(ql, w)
    # the range sum must reach C minus what the unaligned query columns contribute
    y = C[:, :, None] - ((ql - k)[None, :] * Z[:, None])[:, None, :]
    t = tails.lookup(k, s, y)
    with np.errstate(divide="ignore"):
        log_none = np.log1p(-t).sum(axis=2)
    return -np.expm1(mult * log_none)
