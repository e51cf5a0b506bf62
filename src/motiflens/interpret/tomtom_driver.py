"""Tomtom's driver: options, results, and the run over all queries (docs/TOMTOM.md).

:func:`run_tomtom` prepares the motifs (pseudocounts, oriented targets), hands chunks of
queries of one width to :func:`motiflens.interpret.tomtom_algorithm.compare_chunk` (threads
over chunks), then sorts each query's matches, computes q-values and thresholds the report as
Tomtom does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from motiflens.errors import ConfigError
from motiflens.interpret.tomtom_algorithm import (
    BINS,
    Database,
    build_database,
    compare_chunk,
    regularised_background,
    with_pseudocount,
)
from motiflens.interpret.tomtom_qvalues import TomtomRandom, qvalues
from motiflens.motifs import Motif

DISTANCES = ("ed", "pearson")
#: Memory a chunk of queries may use (bytes, roughly): sets how many queries share one pass.
_CHUNK_BYTES = 64 * 2**20
_MAX_CHUNK = 8


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


def _unique(motifs: Sequence[Motif], what: str, allow_empty: bool = False) -> list[Motif]:
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
    if not kept and not allow_empty:
        raise ConfigError(f"tomtom: no {what} motifs given")
    return kept


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


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------
def _chunks(widths: np.ndarray, db: Database) -> list[np.ndarray]:
    """Query indices grouped by width, in chunks of about ``_CHUNK_BYTES``."""
    out = []
    for ql in np.unique(widths).tolist():
        idx = np.flatnonzero(widths == ql)
        # float64 values of the range tails (k columns: about k * BINS values per range), the
        # largest convolution product (~8 times one length's tails) and the int16 scores
        level = [(ql - k + 1) * (k * BINS + 16) for k in range(1, min(ql, db.max_width) + 1)]
        per_query = 8 * (sum(level) + 8 * max(level)) + 2 * ql * db.n_columns
        size = int(max(1, min(_MAX_CHUNK, _CHUNK_BYTES // per_query)))
        out.extend(idx[a : a + size] for a in range(0, idx.size, size))
    return out


def _single_threaded_blas():
    """Limit BLAS to one thread: the many small matrix products here run slower
    multi-threaded (and much slower on a busy machine)."""
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
        E.g. conv-filter PPMs; each (4, w). None at all (a layer of dead filters) gives
        (0, N) matrices and no hits.
    targets : sequence of Motif
        The database (e.g. JASPAR); ``N`` = number of distinct IDs.
    config : TomtomConfig, optional
    n_jobs : int, optional
        Threads over chunks of queries (numpy releases the GIL in the heavy steps); default
        ``min(2, cpu count)``. Results do not depend on it.

    Returns
    -------
    TomtomResult
        (Q, N) matrices for the best orientation of every pair, and the thresholded hits.
    """
    config = config or TomtomConfig()
    queries = _unique(queries, "query", allow_empty=True)  # a layer of dead filters: no hits
    targets = _unique(targets, "target")
    bg = regularised_background(config.background)
    q_cols = [with_pseudocount(m.ppm, m.nsites, bg, config.pseudocount) for m in queries]
    t_cols = [with_pseudocount(m.ppm, m.nsites, bg, config.pseudocount) for m in targets]
    db, oriented = build_database(t_cols, config.both_strands)
    n_q, n_o = len(queries), db.widths.size
    mult = 2 if config.both_strands else 1

    p64 = np.empty((n_q, n_o))
    offsets = np.empty((n_q, n_o), dtype=np.int64)
    overlaps = np.empty((n_q, n_o), dtype=np.int64)
    chunks = _chunks(np.array([c.shape[0] for c in q_cols]), db)

    def one(rows: np.ndarray) -> None:
        p, off, ov = compare_chunk([q_cols[r] for r in rows.tolist()], db, config.distance,
                                   config.min_overlap, mult)
        p64[rows], offsets[rows], overlaps[rows] = p, off, ov

    n_jobs = min(2, os.cpu_count() or 1) if n_jobs is None else max(1, int(n_jobs))
    with _single_threaded_blas():
        if n_jobs == 1 or len(chunks) == 1:
            for rows in chunks:
                one(rows)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                list(pool.map(one, chunks))
    t_cons = _consensus_strings(np.concatenate(oriented), db.widths)
    return _assemble(queries, targets, db, q_cols, t_cons, p64, offsets, overlaps, config)


def tomtom(
    queries: Sequence[Motif],
    targets: Sequence[Motif],
    config: TomtomConfig | None = None,
    n_jobs: int | None = None,
) -> list[TomtomHit]:
    """The thresholded Tomtom report (``run_tomtom(...).hits``)."""
    return run_tomtom(queries, targets, config, n_jobs=n_jobs).hits


def _assemble(
    queries: list[Motif],
    targets: list[Motif],
    db: Database,
    q_cols: list[np.ndarray],
    t_cons: list[str],
    p64: np.ndarray,
    offsets: np.ndarray,
    overlaps: np.ndarray,
    config: TomtomConfig,
) -> TomtomResult:
    """Report order, q-values, thresholding and best-orientation matrices
    (docs/TOMTOM.md, "Report")."""
    n_q, n_o = p64.shape
    n_t = len(targets)
    p32 = p64.astype(np.float32)
    e32 = p32 * np.float32(n_t)  # float32 arithmetic, = float32(p N)
    # ties: larger overlap first, then strcmp of "<strand><ID>" ('+' < '-'); Tomtom's extra
    # "target file index" key is the index of the database *file* (always one file here)
    labels = [("-" if st else "+") + targets[t].id for t, st in zip(db.target_index, db.strand)]
    label_rank = np.empty(n_o, dtype=np.int64)
    label_rank[sorted(range(n_o), key=lambda j: labels[j].encode())] = np.arange(n_o)
    order = np.lexsort((np.broadcast_to(label_rank, (n_q, n_o)), -overlaps, p32), axis=-1)
    q_sorted = (qvalues(np.take_along_axis(p32, order, axis=1).astype(np.float64), TomtomRandom())
                if n_q else np.empty((0, n_o)))
    q32 = np.empty((n_q, n_o), dtype=np.float32)
    np.put_along_axis(q32, order, q_sorted.astype(np.float32), axis=1)

    # best orientation = the one that comes first in report order
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_o)[None, :], axis=1)
    if config.both_strands:
        best = 2 * np.arange(n_t)[None, :] + np.where(rank[:, 1::2] < rank[:, 0::2], 1, 0)
    else:
        best = np.broadcast_to(np.arange(n_t)[None, :], (n_q, n_t))
    take = lambda a: np.take_along_axis(a, best, axis=1)  # noqa: E731

    q_cons = (_consensus_strings(np.concatenate(q_cols), np.array([c.shape[0] for c in q_cols]))
              if q_cols else [])
    # walk each query's report: stop at the first value above the threshold (compared in
    # double), skip the second strand of a target already reported
    value = np.take_along_axis(e32 if config.evalue else q32, order, axis=1).astype(np.float64)
    above = value > config.thresh
    stop = np.where(above.any(axis=1), above.argmax(axis=1), n_o)
    hits: list[TomtomHit] = []
    strand_of = ["-" if st else "+" for st in db.strand.tolist()]
    target_of = db.target_index.tolist()
    for i in range(n_q):
        walk = order[i, : stop[i]]
        _, first = np.unique(db.target_index[walk], return_index=True)
        keep = walk[np.sort(first)]
        columns = (keep.tolist(), offsets[i, keep].tolist(), p32[i, keep].tolist(),
                   e32[i, keep].tolist(), q32[i, keep].tolist(), overlaps[i, keep].tolist())
        for j, off, pv, ev, qv, ov in zip(*columns):
            hits.append(TomtomHit(
                query_id=queries[i].id, target_id=targets[target_of[j]].id, offset=off,
                pvalue=pv, evalue=ev, qvalue=qv, overlap=ov, query_consensus=q_cons[i],
                target_consensus=t_cons[j], orientation=strand_of[j],
            ))
    return TomtomResult(
        query_ids=[m.id for m in queries],
        target_ids=[m.id for m in targets],
        pvalues=take(p32),
        evalues=take(e32),
        qvalues=take(q32),
        offsets=take(offsets),
        overlaps=take(overlaps),
        orientations=np.where(take(np.broadcast_to(db.strand, (n_q, n_o))) == 1, "-", "+"),
        hits=hits,
        config=config,
        query_consensus=q_cons,
        target_consensus=[t_cons[j] for j in range(0, n_o, 2 if config.both_strands else 1)],
    )
