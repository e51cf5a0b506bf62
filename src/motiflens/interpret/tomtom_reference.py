"""Agreement of the in-process Tomtom with real MEME Tomtom outputs (docs/TOMTOM.md,
"Agreement with MEME Tomtom").

The reference files (``tests/data/tomtom_reference`` in the repository) hold a JASPAR 2016
database, two query sets and ten tables printed by MEME Tomtom 4.12.0 under the options listed
in :data:`REFERENCE_RUNS`. :func:`compare_with_reference` reruns every configuration here and
compares each reference row with ours field by field, as printed. The test suite
(``tests/test_tomtom.py``) asserts full agreement; ``benchmarks/tomtom_speed.py --compare``
and :func:`agreement_table` print the table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from motiflens.errors import ConfigError
from motiflens.interpret.tomtom_driver import DISTANCES, TomtomConfig, TomtomHit, run_tomtom
from motiflens.interpret.tomtom_io import format_value, read_tomtom_tsv

#: The reference inputs and outputs, in the repository checkout.
REFERENCE_DIR = Path(__file__).resolve().parents[3] / "tests" / "data" / "tomtom_reference"
DATABASE_FILE = "jaspar2016_vertebrates.meme"


def _reference_runs() -> dict[str, tuple[str, TomtomConfig]]:
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


#: Reference table -> (query file, the Tomtom options that produced it).
REFERENCE_RUNS: dict[str, tuple[str, TomtomConfig]] = _reference_runs()


def printed_row(hit: TomtomHit) -> tuple:
    """The ten fields of a hit as a Tomtom table prints them (numbers as float32 ``%g``)."""
    return (hit.query_id, hit.target_id, hit.offset, format_value(hit.pvalue),
            format_value(hit.evalue), format_value(hit.qvalue), hit.overlap,
            hit.query_consensus, hit.target_consensus, hit.orientation)


def printed_rows(hits: Sequence[TomtomHit]) -> list[tuple]:
    """:func:`printed_row` of many hits (the numbers formatted in one pass)."""
    numbers = np.array([(h.pvalue, h.evalue, h.qvalue) for h in hits], dtype=np.float32)
    text = [("%g" % p, "%g" % e, "%g" % q) for p, e, q in numbers.reshape(-1, 3).tolist()]
    return [(h.query_id, h.target_id, h.offset, *t, h.overlap, h.query_consensus,
             h.target_consensus, h.orientation) for h, t in zip(hits, text)]


@dataclass(frozen=True)
class Agreement:
    """Agreement of our report with one reference table: fractions of the reference rows whose
    (query, target) pair we report with the same printed field."""

    file: str
    rows_ref: int
    rows_ours: int
    same_pairs: bool  # the same set of (query, target) pairs is reported
    pvalue: float  # printed %g identical
    evalue: float
    qvalue: float
    qvalue_1pct: float  # within 1 % relative
    offset: float
    overlap: float
    orientation: float
    consensus: float  # query and target consensus both identical
    rank_order: float  # the same (query, target) at the same row
    rows_identical: float  # all ten printed fields identical, at the same row
    first_difference: str  # the first reference row that differs, with ours ("" if none)


def row_agreement(name: str, ref: Sequence[TomtomHit], ours: Sequence[TomtomHit]) -> Agreement:
    """Compare two reports row by row (see :class:`Agreement`)."""
    ref_rows, our_rows = printed_rows(ref), printed_rows(ours)
    mine = {row[:2]: row for row in our_rows}
    pairs = [(r, mine[r[:2]]) for r in ref_rows if r[:2] in mine]
    n = max(len(ref), 1)
    equal = np.array([[a == b for a, b in zip(r, o)] for r, o in pairs], dtype=bool)
    equal = equal.reshape(len(pairs), 10)

    def frac(*fields: int) -> float:
        return int(equal[:, list(fields)].all(axis=1).sum()) / n

    def close(a: str, b: str) -> bool:
        a, b = float(a), float(b)
        return a == b or abs(a - b) <= 0.01 * max(abs(a), abs(b))

    same_rows = [r == o for r, o in zip(ref_rows, our_rows)] + [False] * (len(ref) - len(ours))
    first = ""
    if not all(same_rows):
        i = same_rows.index(False)
        first = (f"row {i + 1}: reference {ref_rows[i]} ours "
                 f"{our_rows[i] if i < len(our_rows) else None}")
    return Agreement(
        file=name,
        rows_ref=len(ref),
        rows_ours=len(ours),
        same_pairs={r[:2] for r in ref_rows} == set(mine),
        pvalue=frac(3),
        evalue=frac(4),
        qvalue=frac(5),
        qvalue_1pct=sum(1 for r, o in pairs if close(r[5], o[5])) / n,
        offset=frac(2),
        overlap=frac(6),
        orientation=frac(9),
        consensus=frac(7, 8),
        rank_order=sum(1 for r, o in zip(ref_rows, our_rows) if r[:2] == o[:2]) / n,
        rows_identical=sum(same_rows) / n,
        first_difference=first,
    )


def rethreshold(hits: Sequence[TomtomHit], thresh: float) -> list[TomtomHit]:
    """Tomtom's stop-at-the-first-E-above-thresh walk on an unthresholded, ordered report.

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


def compare_with_reference(reference_dir: str | os.PathLike | None = None,
                           n_jobs: int | None = None) -> list[Agreement]:
    """Run every reference configuration and compare with the real MEME Tomtom tables.

    One unthresholded run per (query file, distance, min-overlap) is thresholded for each
    table (:func:`rethreshold`; the test suite checks that this equals a direct run).

    Parameters
    ----------
    reference_dir : path-like, optional
        Folder with the database, the query files and the ``*.tsv[.gz]`` tables; default
        :data:`REFERENCE_DIR`.
    n_jobs : int, optional
        Passed to :func:`run_tomtom`.

    Returns
    -------
    list of Agreement, one per reference table present, in :data:`REFERENCE_RUNS` order.
    """
    from motiflens.motifs import read_meme

    ref_dir = Path(reference_dir) if reference_dir is not None else REFERENCE_DIR
    if not (ref_dir / DATABASE_FILE).is_file():
        raise ConfigError(f"Tomtom reference files not found in {ref_dir} (expected "
                          f"{DATABASE_FILE} and the MEME Tomtom tables)")
    db = read_meme(ref_dir / DATABASE_FILE)
    cache: dict[tuple[str, str, int], list[TomtomHit]] = {}
    out = []
    for name, (query_file, config) in REFERENCE_RUNS.items():
        if not (ref_dir / name).exists():
            continue
        key = (query_file, config.distance, config.min_overlap)
        if key not in cache:
            full = TomtomConfig(distance=config.distance, min_overlap=config.min_overlap,
                                evalue=True, thresh=1e9)
            cache[key] = run_tomtom(read_meme(ref_dir / query_file), db, full, n_jobs).hits
        ours = rethreshold(cache[key], config.thresh)
        out.append(row_agreement(name, read_tomtom_tsv(ref_dir / name), ours))
    return out


def format_agreement(rows: Sequence[Agreement]) -> str:
    """A fixed-width table of agreement percentages, one line per reference table."""
    head = ("file", "rows", "ours", "pairs", "p %g", "E %g", "q %g", "q 1%", "offset",
            "overlap", "strand", "cons", "order", "rows=")
    lines = ["{:<30} {:>6} {:>6} {:>5} ".format(*head[:4])
             + " ".join(f"{h:>7}" for h in head[4:])]
    for a in rows:
        pct = [a.pvalue, a.evalue, a.qvalue, a.qvalue_1pct, a.offset, a.overlap,
               a.orientation, a.consensus, a.rank_order, a.rows_identical]
        lines.append(f"{a.file:<30} {a.rows_ref:>6} {a.rows_ours:>6} "
                     f"{'yes' if a.same_pairs else 'NO':>5} "
                     + " ".join(f"{100 * v:>7.3f}" for v in pct))
    return "\n".join(lines)


def agreement_table(reference_dir: str | os.PathLike | None = None) -> str:
    """The agreement table of :func:`compare_with_reference`, as text."""
    return format_agreement(compare_with_reference(reference_dir))
