"""Tomtom's q-values: Storey's bootstrap estimate of pi0 with Tomtom's random numbers
(docs/TOMTOM.md, "q-values").

Tomtom draws from one Mersenne Twister seeded once per run and carries its state from query
to query, so a query's q-values depend on its position in the query file. :class:`TomtomRandom`
reproduces that generator; :func:`qvalues` takes the p-values of many queries at once, in
query order, and consumes the draws in the same order as Tomtom.
"""

from __future__ import annotations

import numpy as np

MT_SEED = 4357
BOOTSTRAPS = 100
BOOTSTRAP_SAMPLE = 1000
N_LAMBDA = 100
_LAMBDAS = 0.5 * (np.arange(N_LAMBDA) + 1) / 100.0
_ROWS_PER_BATCH = 2  # queries bootstrapped together: small arrays, reused by malloc


class TomtomRandom:
    """MT19937 seeded the 1998 ``sgenrand`` way (Tomtom's generator), never reseeded."""

    def __init__(self, seed: int = MT_SEED) -> None:
        key = np.empty(624, dtype=np.uint64)
        key[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):
            key[i] = (69069 * int(key[i - 1])) & 0xFFFFFFFF
        bits = np.random.MT19937()
        bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": key.astype(np.uint32), "pos": 624},
        }
        # integers over the full uint32 range hand out the raw 32-bit outputs, in order
        self._gen = np.random.Generator(bits)

    def raw32(self, n: int) -> np.ndarray:
        """The next n 32-bit outputs (uint32)."""
        return self._gen.integers(0, 2**32, size=n, dtype=np.uint32)

    def scaled(self, n: int) -> np.ndarray:
        """n doubles ``hi 2^32 + lo`` (rounded to double once, as Tomtom's sum is), each from
        two consecutive 32-bit outputs; ``scaled(n) * 2^-64`` is Tomtom's uniform draw."""
        raw = self.raw32(2 * n)
        out = raw[0::2].astype(np.float64)
        out *= 4294967296.0
        out += raw[1::2]
        return out

    def uniform(self, n: int) -> np.ndarray:
        """n doubles in [0, 1) as Tomtom makes them: ``(hi 2^32 + lo) 2^-64``."""
        return self.scaled(n) * 2.0**-64


def _pi0_table(hist: np.ndarray, size: int) -> np.ndarray:
    """pi0(lambda_k) = #{p >= lambda_k} / ((1 - lambda_k) size), +inf when the count is 0.

    hist : (..., 101) counts of p-values by the number of lambdas <= p; returns (..., 100).
    """
    n_ge = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1][..., 1:]  # p >= lambda_k
    with np.errstate(divide="ignore"):
        return np.where(n_ge > 0, n_ge / ((1.0 - _LAMBDAS) * size), np.inf)


def _histograms(values: np.ndarray) -> np.ndarray:
    """Counts of the values 0..100 in each row of (R, n) -> (R, 101)."""
    rows = values.shape[0]
    key = (np.arange(rows, dtype=np.int32) * (N_LAMBDA + 1))[:, None] + values
    return np.bincount(key.ravel(), minlength=rows * (N_LAMBDA + 1)).reshape(rows, -1)


def qvalues(p_sorted: np.ndarray, rng: TomtomRandom) -> np.ndarray:
    """Tomtom's q-values of each row of p-values, rows in query order.

    Parameters
    ----------
    p_sorted : (n_q, m) float64 (the float32 p-values), each row sorted ascending
    rng : TomtomRandom, advanced by 200,000 draws per row when ``m > 100``

    Returns
    -------
    (n_q, m) float64
    """
    n_q, m = p_sorted.shape
    pi0 = np.ones(n_q)
    if m > 100:
        # number of lambdas <= p: p counts towards #{p >= lambda_k} for k below that
        n_le = np.searchsorted(_LAMBDAS, p_sorted, side="right").astype(np.uint8)
        full = _pi0_table(_histograms(n_le), m)
        pi0_min = full.min(axis=1)
        scale = m * 2.0**-64  # floor(u m) for u = x 2^-64 is floor(x (m 2^-64)), exactly
        draws = BOOTSTRAPS * BOOTSTRAP_SAMPLE
        for a in range(0, n_q, _ROWS_PER_BATCH):
            b = min(a + _ROWS_PER_BATCH, n_q)
            u = rng.scaled((b - a) * draws)
            u *= scale
            idx = u.astype(np.int32).reshape(b - a, draws)  # < m: int32 converts fastest
            sample = np.stack([np.take(n_le[r], idx[r - a]) for r in range(a, b)])
            hist = _histograms(sample.reshape((b - a) * BOOTSTRAPS, BOOTSTRAP_SAMPLE))
            boot = _pi0_table(hist, BOOTSTRAP_SAMPLE).reshape(b - a, BOOTSTRAPS, N_LAMBDA)
            diff = boot - pi0_min[a:b, None, None]
            err = (diff * diff).sum(axis=1)
            pick = np.argmin(err, axis=1)
            pi0[a:b] = np.clip(full[np.arange(a, b), pick], 0.0, 1.0)
    rank = np.arange(1, m + 1, dtype=np.float64)
    fdr = np.minimum(1.0, pi0[:, None] * p_sorted * m / rank)
    return np.minimum.accumulate(fdr[:, ::-1], axis=1)[:, ::-1]
