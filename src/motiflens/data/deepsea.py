"""The DeepSEA training bundle -> a motiflens dataset (docs/PAPER.md §6), streamed in chunks.

The bundle ``deepsea_train/`` holds

* ``train.mat`` -- MATLAB 7.3 (HDF5). Seen by h5py (MATLAB's column-major dims reversed):
  ``trainxdata`` (1000, 4, N) and ``traindata`` (919, N), N = 4,400,000.
* ``valid.mat``, ``test.mat`` -- MATLAB 5: ``validxdata`` (N, 4, 1000), ``validdata``
  (N, 919), and ``testxdata`` / ``testdata`` likewise.

One-hot rows are A, G, C, T (reordered to A, C, G, T with ``[0, 2, 1, 3]``); N = all zeros.
Each file holds forward strands followed by their reverse complements; rows are kept in file
order, so the output keeps that arrangement (kept forward rows, then kept reverse rows).

Nothing is read whole: train.mat is read ``chunk_rows`` rows at a time through h5py; the
MATLAB 5 files are memory-mapped (uncompressed variables) or, when a variable is stored
zlib-compressed, decompressed once to a temporary file next to the output and memory-mapped.

The work is split across :mod:`motiflens.data.deepsea_config` (constants and settings),
:mod:`motiflens.data.matfile` (MAT-file readers) and :mod:`motiflens.data.deepsea_bundle`
(per-file checks and row selection); this module converts a whole bundle and re-exports
their public names.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from motiflens._io import provenance
from motiflens.data.dataset import DatasetWriter
from motiflens.data.deepsea_bundle import BundleSplit, iter_deepsea_chunks
from motiflens.data.deepsea_config import (  # noqa: F401  (importable from here as before)
    AGCT_TO_ACGT,
    BUNDLE_FILES,
    N_DEEPSEA_LABELS,
    PAPER_COLUMNS,
    PAPER_LABEL_NAMES,
    DeepSEAConfig,
)
from motiflens.data.matfile import MatVariable, open_mat_variable  # noqa: F401
from motiflens.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)


@dataclass
class SplitReport:
    """What happened to one bundle file."""

    source: str
    rows_read: int = 0
    rows_kept: int = 0
    kept_forward_half: int = 0
    kept_reverse_half: int = 0
    positives_per_label: list[int] = field(default_factory=list)
    seconds: float = 0.0


def build_deepsea(bundle_dir: str | os.PathLike, out: str | os.PathLike,
                  label_columns: Sequence[int] = PAPER_COLUMNS,
                  label_names: Sequence[str] | None = None,
                  chunk_rows: int = 50_000, min_positive: int = 1, strands: str = "both",
                  tmp_dir: str | os.PathLike | None = None,
                  progress: Callable[[str], None] | None = None) -> Path:
    """Turn a DeepSEA bundle into a motiflens dataset, reading in chunks.

    Parameters
    ----------
    bundle_dir : path-like
        ``deepsea_train/`` with train.mat (MATLAB 7.3), valid.mat and test.mat (MATLAB 5).
    out : path-like
        Output HDF5 (written atomically; the layout of :mod:`motiflens.data.dataset`).
    label_columns : sequence of int
        0-based DeepSEA columns, default the 12 K562 columns of docs/PAPER.md §6.
    label_names : sequence of str, optional
        Names of ``label_columns``; required unless the columns are :data:`PAPER_COLUMNS`.
    chunk_rows : int
        Rows per read (50,000 x 4 x 1000 uint8 = 200 MB).
    min_positive : int
        Keep rows positive for at least this many selected labels.
    strands : {"both", "forward"}
        Keep both strands as in the bundle, or only each file's forward (first) half.
    tmp_dir : path-like, optional
        Scratch directory for compressed MATLAB 5 variables (default: next to ``out``).
    progress : callable, optional
        Called with one-line progress messages.

    Returns
    -------
    pathlib.Path
        ``out``. The file's ``config`` attribute holds the :class:`DeepSEAConfig`; its
        ``provenance`` attribute also holds per-split counts (rows read/kept, kept per strand
        half, positives per label).

    Raises
    ------
    DatasetError
        Missing files or keys, wrong shapes, label/sequence count mismatch, non-binary labels,
        non-one-hot sequences, or a split with no row positive for any selected label.
    """
    label_columns = [int(c) for c in label_columns]
    if label_names is None:
        if tuple(label_columns) != PAPER_COLUMNS:
            raise ConfigError("label_names: required when label_columns differ from the paper's "
                              "12 K562 columns")
        label_names = list(PAPER_LABEL_NAMES)
    config = DeepSEAConfig(bundle_dir=str(bundle_dir), label_columns=label_columns,
                           label_names=list(label_names), min_positive=min_positive,
                           strands=strands, chunk_rows=chunk_rows)
    config.validate()
    out = Path(out)
    say = progress or (lambda msg: log.info("%s", msg))
    scratch = Path(tmp_dir) if tmp_dir is not None else out.resolve().parent
    scratch.mkdir(parents=True, exist_ok=True)

    # Open (and check) every file before writing anything.
    splits: dict[str, BundleSplit] = {}
    try:
        for name in BUNDLE_FILES:
            splits[name] = BundleSplit(bundle_dir, name, tmp_dir=scratch)
        lengths = {name: s.length for name, s in splits.items()}
        if len(set(lengths.values())) != 1:
            raise DatasetError(f"{bundle_dir}: sequence lengths differ between files: {lengths}")
        length = lengths["train"]
        reports: dict[str, SplitReport] = {}
        with DatasetWriter(out, config.label_names, length=length, config=config) as writer:
            for name, split in splits.items():
                rep = SplitReport(source=str(split.path))
                rep.positives_per_label = [0] * len(label_columns)
                t0 = time.perf_counter()
                half = split.n_rows // 2
                for X, Y, rows in iter_deepsea_chunks(split, config):
                    writer.append(name, X, Y)
                    rep.rows_kept += len(rows)
                    rep.kept_forward_half += int((rows < half).sum())
                    rep.kept_reverse_half += int((rows >= half).sum())
                    pos = Y.sum(axis=0, dtype=np.int64)
                    rep.positives_per_label = [a + int(b) for a, b in
                                               zip(rep.positives_per_label, pos)]
                rep.rows_read = split.n_rows if strands == "both" else half
                rep.seconds = round(time.perf_counter() - t0, 3)
                reports[name] = rep
                say(f"{split.path.name}: kept {rep.rows_kept:,} of {rep.rows_read:,} rows "
                    f"({rep.kept_forward_half:,} forward half, {rep.kept_reverse_half:,} reverse "
                    f"half) in {rep.seconds:.1f} s")
                if rep.rows_kept == 0:
                    raise DatasetError(
                        f"{split.path}: no row is positive for >= {min_positive} of label columns "
                        f"{label_columns} (empty result; check label_columns)")
            writer.provenance = provenance(
                source="deepsea", bundle_dir=str(bundle_dir),
                splits={k: vars(v) for k, v in reports.items()})
    finally:
        for split in splits.values():
            split.close()
    return out
