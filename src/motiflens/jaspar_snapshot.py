"""Offline snapshots of a JASPAR release, for machines without ``pyjaspar``.

``pyjaspar`` (a dependency) bundles every JASPAR release as SQLite, 136 MB installed. A GPU node
or cluster image that lacks it can use a *snapshot* instead: one release's matrices exactly as
``pyjaspar`` holds them, written by ``motiflens jaspar-snapshot`` on a machine that has it, and
found through the environment variable ``MOTIFLENS_JASPAR_SNAPSHOT`` (a folder). Every function of
:mod:`motiflens.jaspar` then reads that release from the snapshot (and the others, if any, from
``pyjaspar``); tests check that the snapshot gives the same motifs, in the same order, with the
same PPMs bit for bit.

Files, per release, in the folder (this module owns the layout):

- ``<RELEASE>.jaspar``  every matrix of the release (all collections, tax groups and versions,
  in the database's internal-ID order) as raw counts, written exactly (JASPAR PFM format);
- ``<RELEASE>.tsv``     one row per matrix, same order: ``matrix_id``, ``collection``,
  ``tax_group`` (empty when the database has none), ``latest`` (``yes`` when no later version
  of the matrix is in the release), ``nsites`` (the largest column sum, rounded, as
  :mod:`motiflens.jaspar` sets it; also for the few matrices stored as probabilities);
- ``<RELEASE>.json``    the release, where it came from (``pyjaspar`` version), the number of
  matrices, those left out (no PPM: a column without counts) and the SHA-256 of the two files
  above (checked on reading).
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from motiflens._io import JASPAR_SNAPSHOT_ENV, read_json, write_json
from motiflens.errors import FormatError
from motiflens.motifs import Motif, read_jaspar
from motiflens.motifs.jaspar_pfm import write_jaspar_counts
from motiflens.tables import parse_int, read_tsv, write_tsv

__all__ = ["SNAPSHOT_ENV", "SnapshotEntry", "read_snapshot", "snapshot_folder",
           "snapshot_releases", "write_snapshot"]

#: Environment variable naming a snapshot folder (also recorded in provenance by ``_io``).
SNAPSHOT_ENV = JASPAR_SNAPSHOT_ENV
_COLUMNS = ("matrix_id", "collection", "tax_group", "latest", "nsites")
_FIX = "write it again with `motiflens jaspar-snapshot --release RELEASE --out FOLDER`"


@dataclass(frozen=True)
class SnapshotEntry:
    """One matrix of a release: the motif (PPM = counts / column sum) and its annotations."""

    motif: Motif
    collection: str
    tax_group: str | None
    latest: bool


def snapshot_folder() -> Path | None:
    """The folder named by ``MOTIFLENS_JASPAR_SNAPSHOT``, or None when it is unset or empty."""
    value = os.environ.get(SNAPSHOT_ENV, "").strip()
    return Path(value).expanduser() if value else None


def snapshot_releases(folder: Path | None = None) -> list[str]:
    """Releases held by the snapshot folder (``folder`` or the environment's), sorted."""
    folder = folder if folder is not None else snapshot_folder()
    if folder is None:
        return []
    if not folder.is_dir():
        raise FormatError(folder, f"{SNAPSHOT_ENV} names no folder; unset it or {_FIX}")
    return sorted(p.stem for p in folder.glob("*.json")
                  if (folder / f"{p.stem}.jaspar").is_file())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_snapshot(release: str, folder: str | os.PathLike,
                   matrices: Iterable[tuple[str, str, np.ndarray, str, str | None, bool]],
                   source: str, left_out: Iterable[str] = ()) -> Path:
    """Write one release's snapshot files into ``folder`` (each atomically).

    Parameters
    ----------
    release : str
        E.g. ``"JASPAR2016"``.
    folder : path-like
        Created if missing.
    matrices : iterable of (matrix_id, name, counts, collection, tax_group, latest)
        In database order; ``counts`` ``(4, w)``, rows A, C, G, T.
    source : str
        Where the matrices came from (recorded), e.g. ``"pyjaspar 4.0.0"``.
    left_out : iterable of str
        IDs of the release's matrices not written (recorded; e.g. those without a PPM).

    Returns
    -------
    Path
        The ``<release>.json`` written last.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows, counts = [], []
    for matrix_id, name, matrix, collection, tax_group, latest in matrices:
        counts.append((matrix_id, name, matrix))
        rows.append({"matrix_id": matrix_id, "collection": collection,
                     "tax_group": tax_group or "", "latest": "yes" if latest else "no",
                     "nsites": int(round(float(np.asarray(matrix).sum(axis=0).max())))})
    jaspar_path, tsv_path = folder / f"{release}.jaspar", folder / f"{release}.tsv"
    write_jaspar_counts(counts, jaspar_path)
    write_tsv(tsv_path, rows, _COLUMNS)
    manifest = folder / f"{release}.json"
    write_json(manifest, {"release": release, "source": source, "n_matrices": len(rows),
                          "left_out": list(left_out),
                          "sha256": {jaspar_path.name: _sha256(jaspar_path),
                                     tsv_path.name: _sha256(tsv_path)}})
    return manifest


def read_snapshot(release: str, folder: Path | None = None) -> tuple[SnapshotEntry, ...]:
    """Every matrix of ``release`` in the snapshot, in database order (cached per folder).

    Raises
    ------
    FormatError
        Naming the file: a missing or edited file (its SHA-256 differs from the manifest's), or
        an index that does not line up with the matrices.
    """
    folder = folder if folder is not None else snapshot_folder()
    if folder is None:
        raise FormatError(f"${SNAPSHOT_ENV}", f"not set; cannot read {release} from a snapshot")
    return _read_cached(str(folder.resolve()), release)


def _positive_int(text: str | None) -> int | None:
    try:
        value = parse_int(text)
    except ValueError:
        return None
    return value if value is not None and value >= 1 else None


@functools.lru_cache(maxsize=8)
def _read_cached(folder_text: str, release: str) -> tuple[SnapshotEntry, ...]:
    folder = Path(folder_text)
    manifest_path = folder / f"{release}.json"
    if not manifest_path.is_file():
        raise FormatError(manifest_path, f"no snapshot of {release} here; {_FIX}")
    manifest = read_json(manifest_path)
    for name, digest in dict(manifest.get("sha256", {})).items():
        path = folder / name
        if not path.is_file() or _sha256(path) != digest:
            raise FormatError(path, f"missing or changed since the snapshot was written "
                              f"(SHA-256 differs from {manifest_path.name}); {_FIX}")
    motifs = read_jaspar(folder / f"{release}.jaspar")
    tsv_path = folder / f"{release}.tsv"
    rows = read_tsv(tsv_path)
    if len(rows) != len(motifs) or len(rows) != manifest.get("n_matrices"):
        raise FormatError(tsv_path, f"{len(rows)} rows for {len(motifs)} matrices; {_FIX}")
    entries = []
    for lineno, (row, motif) in enumerate(zip(rows, motifs), start=2):
        if row["matrix_id"] != motif.id:
            raise FormatError(tsv_path, f"matrix_id {row['matrix_id']!r}, expected {motif.id!r} "
                              f"(the .jaspar file's order); {_FIX}", line=lineno)
        nsites = _positive_int(row.get("nsites"))
        if nsites is None:
            raise FormatError(tsv_path, f"nsites {row['nsites']!r}: expected a positive integer; "
                              f"{_FIX}", line=lineno)
        motif = Motif(motif.id, motif.ppm, name=motif.name, nsites=nsites)
        entries.append(SnapshotEntry(motif, str(row["collection"]),
                                     str(row["tax_group"]) or None, row["latest"] == "yes"))
    return tuple(entries)
