"""In-process MEME Tomtom: compare query motifs (e.g. conv filters) with a motif database.

Reproduces the p-values, E-values, q-values, offsets, overlaps, orientations and consensus
strings of MEME Tomtom (4.12.0; the numbers are unchanged in 5.x) with numpy, no JIT and no
warm-up. docs/TOMTOM.md describes the algorithm, how the agreement with the real program is
tested, and where the time goes.

This module is the public face; the work is split by seam:

- :mod:`~motiflens.interpret.tomtom_driver`: options (``TomtomConfig``), results
  (``TomtomResult``, ``TomtomHit``), ``run_tomtom`` / ``tomtom``, report order and thresholds;
- :mod:`~motiflens.interpret.tomtom_algorithm`: pseudocounts, column scores, median shift,
  integer scaling, best alignments;
- :mod:`~motiflens.interpret.tomtom_null`: null distributions and p-values;
- :mod:`~motiflens.interpret.tomtom_qvalues`: q-values with Tomtom's random numbers;
- :mod:`~motiflens.interpret.tomtom_io`: ``tomtom.tsv`` writing and reading;
- :mod:`~motiflens.interpret.tomtom_reference`: agreement with real MEME Tomtom tables
  (``compare_with_reference``; printed by ``benchmarks/tomtom_speed.py --compare``).

The command line is ``motiflens tomtom QUERY TARGET``.
"""

from __future__ import annotations

from motiflens.interpret.tomtom_driver import (
    DISTANCES,
    TomtomConfig,
    TomtomHit,
    TomtomResult,
    run_tomtom,
    tomtom,
)
from motiflens.interpret.tomtom_io import (
    TSV_COLUMNS,
    format_tomtom_tsv,
    read_tomtom_tsv,
    write_tomtom_tsv,
)
from motiflens.interpret.tomtom_reference import (
    Agreement,
    agreement_table,
    compare_with_reference,
    format_agreement,
)

__all__ = [
    "Agreement",
    "DISTANCES",
    "TSV_COLUMNS",
    "TomtomConfig",
    "TomtomHit",
    "TomtomResult",
    "agreement_table",
    "compare_with_reference",
    "format_agreement",
    "format_tomtom_tsv",
    "read_tomtom_tsv",
    "run_tomtom",
    "tomtom",
    "write_tomtom_tsv",
]

if __name__ == "__main__":  # pragma: no cover - the old second command line is gone
    raise SystemExit("use `motiflens tomtom QUERY TARGET`; the agreement table with MEME "
                     "Tomtom: `python benchmarks/tomtom_speed.py --compare`")
