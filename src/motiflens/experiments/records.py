"""Portable sweep records: the small, committable part of a sweep directory.

A record is everything that aggregation, re-interpretation, the report and the later analyses
(attribution, importance) read, and nothing that can be made again cheaply or is only needed
to resume an interrupted training::

    experiment.yaml  sweep.json                       what ran (settings, dataset digest)
    summary/ ...                                      the tables
    runs/<model>/trial-<k>/
        trial.json config.json metrics.json history.tsv result.json
        checkpoint.pt                                 best weights (state_dict + config, ~0.7 MB)
        interpret/layer<N>/{filters.meme, queries.meme, tomtom.tsv, filters.tsv, summary.json}
        reinterpret/<variant>/...                     the same files per re-interpretation
        analysis/<interpretation>/layer<N>/*.tsv, summary.json   importance, completeness, nulls

Left out: ``last.pt`` (optimizer state for resuming, ~2.5 MB), ``data/`` (the simulated
dataset: made again from ``experiment.yaml`` and checked against ``sweep.json``'s digest),
per-trial logos and per-model figures (drawn again by the report), locks and temporary files.
The report and the paper's figures (``figures/fig2.*`` ...) are kept.

A records directory *is* a sweep directory: ``motiflens reproduce EXP --out RECORDS`` with the
same settings skips every recorded trial (``result.json`` present) and trains only missing ones,
on any machine; ``motiflens report`` and ``motiflens reinterpret`` work on it directly.
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

from motiflens import _io
from motiflens.errors import ConfigError, FormatError
from motiflens.experiments.sweep import RECORD_FORMAT, RESULT, SWEEP

#: Files kept in a record, as glob patterns relative to the sweep directory.
RECORD_PATTERNS = (
    "experiment.yaml", "sweep.json", "summary/*", "summary/*/*", "summary/*/*/*",
    "runs/*/trial-*/trial.json", "runs/*/trial-*/config.json", "runs/*/trial-*/metrics.json",
    "runs/*/trial-*/history.tsv", "runs/*/trial-*/result.json", "runs/*/trial-*/checkpoint.pt",
    "runs/*/trial-*/interpret/layer*/*.meme", "runs/*/trial-*/interpret/layer*/*.tsv",
    "runs/*/trial-*/interpret/layer*/summary.json",
    "runs/*/trial-*/reinterpret/*/result.json",
    "runs/*/trial-*/reinterpret/*/layer*/*.meme", "runs/*/trial-*/reinterpret/*/layer*/*.tsv",
    "runs/*/trial-*/reinterpret/*/layer*/summary.json",
    "runs/*/trial-*/analysis/*/layer*/*.tsv", "runs/*/trial-*/analysis/*/layer*/summary.json",
    "report.html", "figures/pool_size.*",
    *(f"figures/{name}{twin}.*" for name in ("fig2", "fig3", "s1fig", "fig4", "s2fig")
      for twin in ("", "-exp")),
)


def is_record_file(relative: str) -> bool:
    """True when ``relative`` (a path inside a sweep directory, '/'-separated) belongs in a record."""
    if any(part.startswith((".tmp-", ".lock")) for part in relative.split("/")):
        return False
    return any(fnmatch.fnmatchcase(relative, pattern) and
               relative.count("/") == pattern.count("/") for pattern in RECORD_PATTERNS)


def record_files(sweep_dir: str | Path, complete_only: bool = True) -> list[Path]:
    """The files of ``sweep_dir`` that belong in its record, sorted.

    Parameters
    ----------
    complete_only : bool
        Leave out the files of trials without ``result.json`` (unfinished trials are never
        recorded: a record says a trial is done).
    """
    root = Path(sweep_dir)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if not is_record_file(relative):
            continue
        parts = relative.split("/")
        if complete_only and parts[0] == "runs" and not (root / "/".join(parts[:3]) / RESULT).is_file():
            continue
        files.append(path)
    return files


def export_records(sweep_dir: str | Path, dest: str | Path) -> list[Path]:
    """Copy the record of a sweep into ``dest`` (created; files already there are replaced).

    Each file is written atomically, trial by trial with ``result.json`` last, so an
    interrupted export never leaves a trial that looks complete but is not.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    FormatError
        ``sweep_dir`` is not a sweep directory, or a trial's record format is newer than this
        version of motiflens reads.
    """
    root = Path(sweep_dir).expanduser().resolve()
    if not (root / SWEEP).is_file():
        raise FormatError(root / SWEEP, "not a sweep directory (no sweep.json)")
    target = Path(dest).expanduser().resolve()
    if target == root or root in target.parents:
        raise ConfigError(f"{target}: inside the sweep directory {root}; choose --to outside "
                          "it (e.g. docs/results/NAME)")
    files = record_files(root)
    files.sort(key=lambda p: (p.name == RESULT, str(p)))
    written = []
    for path in files:
        if path.name == RESULT:
            check_record_format(path)
        out = target / path.relative_to(root)
        with _io.atomic_path(out) as tmp:
            shutil.copyfile(path, tmp)
        written.append(out)
    return written


def check_record_format(result_path: str | Path) -> int:
    """The record format of a trial's ``result.json`` (0 for records before versioning).

    Raises
    ------
    FormatError
        Written by a newer motiflens than this one.
    """
    version = int(_io.read_json(result_path).get("record_format", 0))
    if version > RECORD_FORMAT:
        raise FormatError(Path(result_path), f"record format {version} is newer than this "
                          f"motiflens reads ({RECORD_FORMAT}); upgrade motiflens")
    return version
