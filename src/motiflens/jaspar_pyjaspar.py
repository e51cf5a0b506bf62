"""pyjaspar's bundled JASPAR databases (SQLite, offline): the one module that reads them.

:mod:`motiflens.jaspar` asks here for a release's motifs unless a snapshot holds that release
(:mod:`motiflens.jaspar_snapshot`); :func:`export_snapshot` writes such a snapshot from pyjaspar.
Release names are checked by the caller. PPM = counts / column sum, no pseudocount.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from motiflens import jaspar_snapshot as snapshot
from motiflens.errors import ConfigError
from motiflens.motifs import Motif

__all__ = ["export_snapshot", "pyjaspar_by_ids", "pyjaspar_database", "pyjaspar_releases"]

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_ .-]+$")


def pyjaspar_releases() -> list[str]:
    """Releases bundled with pyjaspar; [] when pyjaspar is not installed."""
    try:
        import pyjaspar
    except ImportError:
        return []
    return sorted(pyjaspar.jaspar_releases)


def _open_db(release: str) -> Any:
    """A pyjaspar ``jaspardb`` on the bundled SQLite file (no network)."""
    if release not in pyjaspar_releases():
        raise ConfigError(f"JASPAR release {release!r} needs pyjaspar, which does not hold it "
                          "here (not installed, or another version)")
    from pyjaspar import jaspardb

    return jaspardb(release=release)


def _distinct(db: Any, sql: str) -> list[str]:
    return sorted(str(row[0]) for row in db.conn.execute(sql).fetchall())


def _check_filter(db: Any, release: str, collection: str | None, tax_group: str | None) -> None:
    """Validate collection and tax group against the release (pyjaspar pastes them into SQL)."""
    if collection is not None:
        valid = _distinct(db, "select distinct COLLECTION from MATRIX")
        if collection.upper() not in valid:
            raise ConfigError(
                f"unknown JASPAR collection {collection!r} in {release}; expected one of "
                f"{', '.join(valid)}"
            )
    if tax_group is not None:
        valid = _distinct(
            db, "select distinct VAL from MATRIX_ANNOTATION where TAG = 'tax_group'"
        )
        if tax_group.lower() not in valid or not _SAFE_VALUE.match(tax_group):
            raise ConfigError(
                f"unknown JASPAR tax group {tax_group!r} in {release}; expected one of "
                f"{', '.join(valid)}"
            )


def _counts(jmotif: Any) -> np.ndarray:
    """``(4, w)`` float64 counts of a Bio.motifs.jaspar.Motif, rows A, C, G, T."""
    return np.array([jmotif.counts[b] for b in "ACGT"], dtype=np.float64)


def _usable(counts: np.ndarray) -> bool:
    """Counts that make a PPM: finite, non-negative, no empty column. Two UNVALIDATED matrices
    of JASPAR2022-2026 (UN0498.1, UN0570.1) have empty columns."""
    return bool(np.all(np.isfinite(counts)) and np.all(counts >= 0)
                and np.all(counts.sum(axis=0) > 0))


def _to_motif(jmotif: Any, name: str | None = None) -> Motif:
    """Bio.motifs.jaspar.Motif -> Motif with PPM = counts / column sum."""
    counts = _counts(jmotif)
    if not _usable(counts):
        raise ConfigError(f"JASPAR matrix {jmotif.matrix_id} has a column without counts (it "
                          "cannot be a PPM); leave it out of the query")
    totals = counts.sum(axis=0)
    nsites = int(round(totals.max()))
    return Motif(jmotif.matrix_id, counts / totals, name=name or jmotif.name, nsites=nsites)


@functools.lru_cache(maxsize=32)
def pyjaspar_database(
    release: str, collection: str | None, tax_group: str | None, latest: bool
) -> tuple[Motif, ...]:
    db = _open_db(release)
    try:
        _check_filter(db, release, collection, tax_group)
        fetched = _fetch_filtered(db, collection, tax_group, latest)
    finally:
        db.conn.close()
    left_out = [m.matrix_id for m in fetched if not _usable(_counts(m))]
    if left_out:
        warnings.warn(f"{release}: left out {', '.join(left_out)} (a column without counts: "
                      "not a PPM)", stacklevel=3)
    return tuple(_to_motif(m) for m in fetched if m.matrix_id not in left_out)


def _fetch_filtered(db: Any, collection: str | None, tax_group: str | None, latest: bool) -> list:
    """pyjaspar motifs matching the filters.

    pyjaspar 4.0 builds invalid SQL when neither filter is given, and its ``all=True`` ignores
    ``all_versions``; that case is handled here with the same latest-version rule.
    """
    if collection is None and tax_group is None:
        int_ids = [row[0] for row in db.conn.execute("select ID from MATRIX order by ID")]
        if latest:
            int_ids = [i for i in int_ids if db._is_latest_version(i)]
        return [db._fetch_motif_by_internal_id(i) for i in int_ids]
    return list(db.fetch_motifs(
        collection=collection.upper() if collection else None,
        tax_group=[tax_group.lower()] if tax_group else None,
        all_versions=not latest,
    ))


@functools.lru_cache(maxsize=16)
def pyjaspar_by_ids(release: str, ids: tuple[str, ...]) -> tuple[Motif, ...]:
    db = _open_db(release)
    try:
        motifs = []
        for matrix_id in ids:
            jmotif = _fetch_exact(db, matrix_id)
            if jmotif is None:
                raise ConfigError(f"JASPAR matrix {matrix_id} is not in release {release}")
            motifs.append(_to_motif(jmotif))
        return tuple(motifs)
    finally:
        db.conn.close()


def _fetch_exact(db: Any, matrix_id: str) -> Any:
    """The motif with exactly this versioned ID, or None (without pyjaspar's warnings)."""
    base, _, version = matrix_id.partition(".")
    row = db.conn.execute(
        "select ID from MATRIX where BASE_ID = ? and VERSION = ?", (base, version)
    ).fetchone()
    return db._fetch_motif_by_internal_id(row[0]) if row else None


def export_snapshot(release: str, folder: str | os.PathLike) -> Path:
    """Write ``release`` from pyjaspar as a snapshot (:mod:`motiflens.jaspar_snapshot`): every
    matrix with its collection, tax group and latest-version flag, counts exactly (those with a
    column without counts are left out, as :func:`pyjaspar_database` leaves them out).

    Returns
    -------
    Path
        The snapshot's ``<release>.json`` manifest.
    """
    from importlib import metadata

    db = _open_db(release)
    try:
        tax = dict(db.conn.execute(
            "select ID, VAL from MATRIX_ANNOTATION where TAG = 'tax_group'").fetchall())
        rows = db.conn.execute("select ID, COLLECTION from MATRIX order by ID").fetchall()
        matrices, left_out = [], []
        for int_id, collection in rows:
            jmotif = db._fetch_motif_by_internal_id(int_id)
            counts = _counts(jmotif)
            if not _usable(counts):  # as jaspar_database leaves them out
                left_out.append(jmotif.matrix_id)
                continue
            matrices.append((jmotif.matrix_id, jmotif.name, counts, str(collection),
                             tax.get(int_id), bool(db._is_latest_version(int_id))))
    finally:
        db.conn.close()
    return snapshot.write_snapshot(release, folder, matrices,
                                   source=f"pyjaspar {metadata.version('pyjaspar')}",
                                   left_out=left_out)
