"""Position probability matrices (PPMs): the ``Motif`` type, information content, and MEME /
JASPAR file input and output.

Conventions
-----------
A PPM is a ``(4, w)`` float64 array with rows A, C, G, T; every column sums to 1. MEME files
store the transpose (one row per position); the readers and writers here convert.

Submodules
----------
- :mod:`~motiflens.motifs.ppm`: the ``Motif`` type and PPM math (IC, reverse complement,
  consensus, trimming).
- :mod:`~motiflens.motifs.meme`: MEME minimal format reader and writer (reader rules in its
  docstring).
- :mod:`~motiflens.motifs.jaspar_pfm`: JASPAR PFM reader and writer.
- :mod:`~motiflens.motifs._textio`: text-file helpers shared by both formats.
"""

from __future__ import annotations

from ._textio import SUM_TOLERANCE  # noqa: F401  (importable from here as before)
from .jaspar_pfm import read_jaspar, write_jaspar, write_jaspar_counts
from .meme import read_meme, write_meme
from .ppm import (
    ALPHABET,
    Motif,
    consensus,
    information_content,
    reverse_complement,
    trim_motif,
    trim_ppm,
)

__all__ = [
    "ALPHABET",
    "Motif",
    "consensus",
    "information_content",
    "read_jaspar",
    "read_meme",
    "reverse_complement",
    "trim_motif",
    "trim_ppm",
    "write_jaspar",
    "write_jaspar_counts",
    "write_meme",
]
