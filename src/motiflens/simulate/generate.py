"""The synthetic benchmark of Koo & Eddy (2019), seeded and deterministic (docs/PAPER.md §1).

Per sequence: draw the number of motifs k from ``count_probs``; draw k motifs uniformly with
replacement from the pool of 2C matrices (every PPM and its reverse complement); place them left
to right in draw order, separated by random gaps; write their columns into a (4, L) "sequence
model" that is uniform 0.25 elsewhere; sample every position independently from its column.
The label of class c is 1 when motif c (either strand) was embedded. One random permutation then
splits the sequences into train / valid / test.

Gap rules (``spacing``):

- ``"code"`` (the authors' code): the L - Σw free positions are divided into k + 1 gaps by
  normalising k + 1 uniform draws and rounding; rows whose rounded gaps do not sum exactly are
  redrawn. Gaps may be 0: motifs can touch each other or the sequence ends.
- ``"buffer"`` (the paper's text): every gap is at least 1 nt ("a buffer of at least 1
  nucleotide from other motifs and the ends"); the remaining L - Σw - (k + 1) positions are
  divided by the same normalised-uniform rule, so the two options differ only in the buffer.

All randomness comes from one ``numpy.random.default_rng(seed)``; the whole data set is drawn
with vectorised calls, so 25,000 sequences take about a second.
"""

from __future__ import annotations

import numpy as np

from motiflens._io import provenance
from motiflens.motifs import Motif

from .config import SimulationConfig, _check_fit, split_sizes
from .records import GroundTruth, SimulatedData, SimulatedSplit
from .sources import label_names_of, motif_pool, resolve_motifs

_CHUNK = 4096  # sequences sampled at once (bounds the float64 working memory)


def draw_layout(
    rng: np.random.Generator, config: SimulationConfig, widths: np.ndarray
) -> GroundTruth:
    """Draw k, the motifs and their positions for every sequence (generation order).

    Parameters
    ----------
    rng : numpy.random.Generator
    config : SimulationConfig
    widths : (2C,) int array
        Width of each pool entry.

    Returns
    -------
    GroundTruth
        M instances; ``seq`` is the generation index, ``tf`` = pool index // 2.
    """
    n, kmax = config.n_sequences, len(config.count_probs)
    counts = rng.choice(np.arange(1, kmax + 1), size=n, p=np.asarray(config.count_probs, dtype=np.float64))
    picks = rng.integers(0, widths.size, size=(n, kmax))
    used = np.arange(kmax)[None, :] < counts[:, None]          # (n, kmax)
    w = np.where(used, widths[picks], 0)                        # (n, kmax)
    buffer = 1 if config.spacing == "buffer" else 0
    free = config.length - w.sum(axis=1) - buffer * (counts + 1)
    gaps = _draw_gaps(rng, free, counts, kmax) + buffer * (np.arange(kmax + 1)[None, :] <= counts[:, None])
    starts = np.cumsum(gaps[:, :kmax], axis=1) + np.cumsum(w, axis=1) - w
    seq, slot = np.nonzero(used)
    pool = picks[seq, slot]
    return GroundTruth(
        seq=seq.astype(np.int64),
        tf=(pool // 2).astype(np.int64),
        strand=np.where(pool % 2 == 0, 1, -1).astype(np.int8),
        start=starts[seq, slot].astype(np.int64),
        width=widths[pool].astype(np.int64),
    )


def _draw_gaps(rng: np.random.Generator, free: np.ndarray, counts: np.ndarray, kmax: int) -> np.ndarray:
    """k + 1 gaps per sequence summing exactly to ``free`` (authors' normalise-round-redraw rule).

    Returns
    -------
    (n, kmax + 1) int64; columns beyond k are 0.
    """
    gaps = np.zeros((free.size, kmax + 1), dtype=np.int64)
    for k in range(1, kmax + 1):
        pending = np.flatnonzero(counts == k)
        while pending.size:
            u = rng.uniform(0.0, 1.0, size=(pending.size, k + 1))
            g = np.round(u / u.sum(axis=1, keepdims=True) * free[pending, None]).astype(np.int64)
            ok = g.sum(axis=1) == free[pending]
            gaps[pending[ok], : k + 1] = g[ok]
            pending = pending[~ok]
    return gaps


def build_models(truth: GroundTruth, pool: list[np.ndarray], n: int, length: int) -> np.ndarray:
    """(n, 4, L) float64 sequence models: 0.25 background with each instance's PPM written in."""
    model = np.full((n, 4, length), 0.25, dtype=np.float64)
    pool_index = 2 * truth.tf + (truth.strand < 0)
    for p, ppm in enumerate(pool):
        rows = np.flatnonzero(pool_index == p)
        if rows.size == 0:
            continue
        cols = truth.start[rows, None] + np.arange(ppm.shape[1])[None, :]   # (m, w)
        model[truth.seq[rows, None], :, cols] = ppm.T                        # (m, w, 4) <- (w, 4)
    return model


def sample_sequences(rng: np.random.Generator, model: np.ndarray) -> np.ndarray:
    """Sample each position from its column: one uniform draw per position.

    Parameters
    ----------
    model : (n, 4, L) float array, columns summing to 1

    Returns
    -------
    (n, L) uint8 base indices 0..3 (A, C, G, T).
    """
    cum = np.cumsum(model, axis=1)[:, :3, :]                       # (n, 3, L)
    u = rng.random((model.shape[0], 1, model.shape[2]))
    return (u >= cum).sum(axis=1).astype(np.uint8)


def _generate(
    config: SimulationConfig, motifs: list[Motif]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, GroundTruth, np.ndarray]:
    """X (N, 4, L), Y (N, C), model (N, 4, L), ground truth and the split permutation (N,),
    all in generation order."""
    rng = np.random.default_rng(config.seed)
    pool = motif_pool(motifs)
    widths = np.array([p.shape[1] for p in pool], dtype=np.int64)
    truth = draw_layout(rng, config, widths)
    n, length = config.n_sequences, config.length
    X = np.empty((n, 4, length), dtype=np.float32)
    model32 = np.empty((n, 4, length), dtype=np.float32)
    bounds = np.searchsorted(truth.seq, np.arange(0, n + _CHUNK, _CHUNK))
    for c, lo in enumerate(range(0, n, _CHUNK)):
        hi = min(lo + _CHUNK, n)
        part = truth.subset(slice(bounds[c], bounds[c + 1]))
        part.seq = part.seq - lo
        model = build_models(part, pool, hi - lo, length)
        bases = sample_sequences(rng, model)
        X[lo:hi] = bases[:, None, :] == np.arange(4, dtype=np.uint8)[None, :, None]
        model32[lo:hi] = model
    Y = np.zeros((n, len(motifs)), dtype=np.float32)
    Y[truth.seq, truth.tf] = 1.0
    order = rng.permutation(n)
    return X, Y, model32, truth, order


def _split(X: np.ndarray, Y: np.ndarray, model: np.ndarray, truth: GroundTruth, index: np.ndarray) -> SimulatedSplit:
    """Rows ``index`` (generation order) as a split, with ground truth re-indexed."""
    new_pos = np.full(X.shape[0], -1, dtype=np.int64)
    new_pos[index] = np.arange(index.size)
    keep = new_pos[truth.seq] >= 0
    part = truth.subset(keep)
    part.seq = new_pos[part.seq]
    order = np.lexsort((part.start, part.seq))
    return SimulatedSplit(X=X[index], Y=Y[index], model=model[index], ground_truth=part.subset(order), index=index)


def simulate(config: SimulationConfig | None = None) -> SimulatedData:
    """Generate the synthetic data set.

    Parameters
    ----------
    config : SimulationConfig, optional
        Defaults to the paper's settings (25,000 × 200 nt, the 12 JASPAR 2016 motifs).

    Returns
    -------
    SimulatedData
        Train / valid / test splits with X (N, 4, L), Y (N, C), model (N, 4, L) and ground truth.

    Raises
    ------
    ConfigError
        Invalid fractions or probabilities, unknown spacing, or motifs that cannot fit.
    """
    config = config or SimulationConfig()
    config.validate()
    motifs = resolve_motifs(config.motifs, config.release)
    _check_fit(config, motifs)
    X, Y, model, truth, order = _generate(config, motifs)
    n_train, n_valid, _ = split_sizes(config.n_sequences, config.split)
    cuts = {"train": order[:n_train], "valid": order[n_train : n_train + n_valid], "test": order[n_train + n_valid :]}
    splits = {name: _split(X, Y, model, truth, idx) for name, idx in cuts.items()}
    return SimulatedData(
        **splits,
        motifs=motifs,
        label_names=label_names_of(motifs),
        config=config,
        provenance=provenance(seed=config.seed),
    )
