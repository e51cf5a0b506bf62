"""JASPAR motifs, offline: the paper's 12 ground-truth motifs, whole JASPAR collections and the
ground-truth ID lists used to score filters (docs/PAPER.md §1 and §5).

Matrices come from the SQLite databases bundled with ``pyjaspar`` (JASPAR2014 ... JASPAR2026),
or, for a release held by the snapshot folder named in ``MOTIFLENS_JASPAR_SNAPSHOT``, from that
snapshot (:mod:`motiflens.jaspar_snapshot`: the same matrices, for machines without pyjaspar);
nothing here touches the network. PPM = counts / column sum, no pseudocount. Query results are
cached in-process; every call returns fresh ``Motif`` copies, so callers may modify them.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from motiflens import jaspar_snapshot as snapshot
from motiflens.errors import ConfigError, FormatError
from motiflens.jaspar_pyjaspar import pyjaspar_by_ids, pyjaspar_database, pyjaspar_releases
from motiflens.motifs import Motif, read_jaspar, read_meme

__all__ = [
    "GROUND_TRUTH_MATRICES",
    "PAPER_DATABASE_EXCLUDE",
    "PAPER_RELEASE",
    "PAPER_TFS",
    "available_releases",
    "ground_truth_id_lists",
    "ground_truth_ids",
    "export_snapshot",
    "ground_truth_motifs",
    "jaspar_database",
    "load_motif_source",
    "paper_database",
    "tf_of_id",
]

PAPER_RELEASE = "JASPAR2016"

#: The 12 TFs of the synthetic benchmark in class (label column) order.
PAPER_TFS: list[str] = [
    "Arid3a", "CEBPB", "FOSL1", "Gabpa", "MAFK", "MAX",
    "MEF2A", "NFYB", "SP1", "SRF", "STAT1", "YY1",
]

#: TF -> the JASPAR matrix embedded in the synthetic data (docs/PAPER.md §1), in class order.
GROUND_TRUTH_MATRICES: dict[str, str] = {
    "Arid3a": "MA0151.1", "CEBPB": "MA0466.2", "FOSL1": "MA0477.1", "Gabpa": "MA0062.2",
    "MAFK": "MA0496.1", "MAX": "MA0058.3", "MEF2A": "MA0052.3", "NFYB": "MA0502.1",
    "SP1": "MA0079.3", "SRF": "MA0083.3", "STAT1": "MA0137.3", "YY1": "MA0095.2",
}

#: The paper's Tomtom database had 518 motifs: pyjaspar's JASPAR2016 CORE vertebrates minus these.
PAPER_DATABASE_EXCLUDE: tuple[str, ...] = ("MA0615.1",)

_GROUND_TRUTH_RESOURCE = "ground_truth_ids.yaml"
_MEME_SUFFIXES = {".meme"}
_JASPAR_SUFFIXES = {".jaspar", ".pfm"}


# --------------------------------------------------------------------------------------------
# Where a release comes from: the snapshot folder, else pyjaspar
# --------------------------------------------------------------------------------------------
def available_releases() -> list[str]:
    """Names of the JASPAR releases at hand, oldest first (e.g. ``JASPAR2016``): pyjaspar's and
    the snapshot folder's (``MOTIFLENS_JASPAR_SNAPSHOT``)."""
    releases = set(snapshot.snapshot_releases()) | set(pyjaspar_releases())
    if not releases:
        raise ConfigError(
            "no JASPAR release available: pyjaspar is not installed and "
            f"{snapshot.SNAPSHOT_ENV} names no snapshot; install pyjaspar, or write a "
            "snapshot elsewhere with `motiflens jaspar-snapshot` and point "
            f"{snapshot.SNAPSHOT_ENV} at it")
    return sorted(releases)


def _from_snapshot(release: str) -> bool:
    """True when the snapshot folder holds ``release`` (it then wins over pyjaspar), False when
    pyjaspar does; ConfigError naming the releases at hand when neither does."""
    if release in snapshot.snapshot_releases():
        return True
    _check_release(release)
    return False


def _check_release(release: str) -> None:
    valid = available_releases()
    if release not in valid:
        raise ConfigError(
            f"unknown JASPAR release {release!r}; expected one of {', '.join(valid)}"
        )


def _copy(motifs: Iterable[Motif]) -> list[Motif]:
    return [Motif(m.id, m.ppm.copy(), name=m.name, nsites=m.nsites) for m in motifs]


def _database(release: str, collection: str | None, tax_group: str | None,
              latest: bool) -> tuple[Motif, ...]:
    """The release's filtered motifs from its source (each source caches its own reads)."""
    if _from_snapshot(release):
        return _snapshot_database(release, collection, tax_group, latest)
    return pyjaspar_database(release, collection, tax_group, latest)


def _snapshot_database(release: str, collection: str | None, tax_group: str | None,
                       latest: bool) -> tuple[Motif, ...]:
    """As :func:`motiflens.jaspar_pyjaspar.pyjaspar_database`, from the snapshot (same order:
    internal IDs)."""
    entries = snapshot.read_snapshot(release)
    if collection is not None and collection.upper() not in {e.collection for e in entries}:
        raise ConfigError(
            f"unknown JASPAR collection {collection!r} in {release}; expected one of "
            f"{', '.join(sorted({e.collection for e in entries}))}")
    groups = {e.tax_group for e in entries if e.tax_group}
    if tax_group is not None and tax_group.lower() not in groups:
        raise ConfigError(
            f"unknown JASPAR tax group {tax_group!r} in {release}; expected one of "
            f"{', '.join(sorted(groups))}")
    return tuple(e.motif for e in entries
                 if (collection is None or e.collection == collection.upper())
                 and (tax_group is None or e.tax_group == tax_group.lower())
                 and (e.latest or not latest))


def _by_ids(release: str, ids: tuple[str, ...]) -> tuple[Motif, ...]:
    if not _from_snapshot(release):
        return pyjaspar_by_ids(release, ids)
    by_id = {e.motif.id: e.motif for e in snapshot.read_snapshot(release)}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ConfigError(f"JASPAR matrix {missing[0]} is not in release {release}")
    return tuple(by_id[i] for i in ids)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def jaspar_database(
    release: str = PAPER_RELEASE,
    collection: str | None = "CORE",
    tax_group: str | None = "vertebrates",
    latest: bool = True,
    exclude: Iterable[str] = (),
) -> list[Motif]:
    """All motifs of a JASPAR collection, as pyjaspar's bundled database holds them.

    Parameters
    ----------
    release : str
        E.g. ``"JASPAR2016"`` (see :func:`available_releases`).
    collection : str or None
        ``"CORE"``, ``"PBM"``, ...; None = every collection.
    tax_group : str or None
        ``"vertebrates"``, ``"insects"``, ...; None = every taxonomic group.
    latest : bool
        Only the latest version of each matrix (JASPAR2016 CORE vertebrates: 519 motifs);
        False gives every version (635).
    exclude : iterable of str
        Matrix IDs to leave out (see :data:`PAPER_DATABASE_EXCLUDE`).

    Returns
    -------
    list of Motif
        In database order; PPM ``(4, w)`` = counts / column sum; ``nsites`` = column sum.

    Raises
    ------
    ConfigError
        Unknown release, collection or tax group.
    """
    drop = set(exclude)
    motifs = _database(release, collection, tax_group, bool(latest))
    return _copy(m for m in motifs if m.id not in drop)


def export_snapshot(release: str, folder: str | os.PathLike) -> Path:
    """Write ``release`` from pyjaspar as a snapshot folder (:mod:`motiflens.jaspar_snapshot`);
    returns its ``<release>.json`` manifest."""
    _check_release(release)
    from motiflens.jaspar_pyjaspar import export_snapshot as export

    return export(release, folder)


def paper_database(release: str = PAPER_RELEASE) -> list[Motif]:
    """The paper's Tomtom database: CORE vertebrates, latest versions, minus MA0615.1 (518)."""
    return jaspar_database(release, "CORE", "vertebrates", True, PAPER_DATABASE_EXCLUDE)


def ground_truth_motifs(release: str = PAPER_RELEASE) -> list[Motif]:
    """The 12 motifs embedded in the synthetic data (docs/PAPER.md §1), in class order.

    Parameters
    ----------
    release : str
        JASPAR release to read the matrices from (the paper: ``"JASPAR2016"``).

    Returns
    -------
    list of 12 Motif
        ``id`` = matrix ID, ``name`` = the TF as in :data:`PAPER_TFS`, PPM = counts / column sum.
    """
    ids = tuple(GROUND_TRUTH_MATRICES[tf] for tf in PAPER_TFS)
    motifs = _by_ids(release, ids)
    return [Motif(m.id, m.ppm.copy(), name=tf, nsites=m.nsites)
            for tf, m in zip(PAPER_TFS, motifs)]


def _resource_path() -> Any:
    return resources.files("motiflens").joinpath("resources", _GROUND_TRUTH_RESOURCE)


def _validate_lists(data: Any, where: str) -> dict[str, dict[str, list[str]]]:
    """Check the YAML layout: ``lists: {name: {ids: {TF: [ID, ...]}}}``."""
    if not isinstance(data, dict) or not isinstance(data.get("lists"), dict):
        raise FormatError(where, "expected a mapping with key 'lists'")
    out: dict[str, dict[str, list[str]]] = {}
    for name, entry in data["lists"].items():
        ids = entry.get("ids") if isinstance(entry, dict) else None
        if not isinstance(ids, dict):
            raise FormatError(where, f"lists.{name}: expected a mapping with key 'ids'")
        for tf, values in ids.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise FormatError(where, f"lists.{name}.ids.{tf}: expected a list of IDs")
        out[str(name)] = {str(tf): list(values) for tf, values in ids.items()}
    return out


@functools.lru_cache(maxsize=1)
def _load_lists() -> tuple[str, dict[str, dict[str, list[str]]]]:
    import yaml

    path = _resource_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else None
        raise FormatError(str(path), f"invalid YAML: {exc}", line=line) from None
    lists = _validate_lists(data, str(path))
    return str(data.get("default", "paper")), lists


def ground_truth_id_lists() -> list[str]:
    """Names of the ground-truth ID lists (``paper``, ``code``)."""
    return list(_load_lists()[1])


def ground_truth_ids(list_name: str = "paper") -> dict[str, list[str]]:
    """TF -> JASPAR IDs counted as that TF's ground truth (docs/PAPER.md §5).

    Parameters
    ----------
    list_name : str
        ``"paper"`` (default: MA0660.1 and MA0773.1 under MEF2A) or ``"code"`` (the authors'
        code, with those two under STAT1). Stored in ``resources/ground_truth_ids.yaml``.

    Returns
    -------
    dict
        TF (class order of :data:`PAPER_TFS`) -> list of matrix IDs; a fresh copy.

    Raises
    ------
    ConfigError
        Unknown list name.
    """
    _, lists = _load_lists()
    if list_name not in lists:
        raise ConfigError(
            f"unknown ground-truth ID list {list_name!r}; expected one of {', '.join(lists)}"
        )
    return {tf: list(ids) for tf, ids in lists[list_name].items()}


@functools.lru_cache(maxsize=8)
def _reverse_ids(list_name: str) -> dict[str, str]:
    reverse: dict[str, str] = {}
    for tf, ids in ground_truth_ids(list_name).items():
        for matrix_id in ids:
            reverse.setdefault(matrix_id, tf)
    return reverse


def tf_of_id(matrix_id: str, list_name: str = "paper") -> str | None:
    """The ground-truth TF whose ID list holds ``matrix_id``, or None.

    Examples
    --------
    >>> tf_of_id("MA0660.1", "paper"), tf_of_id("MA0660.1", "code")
    ('MEF2A', 'STAT1')
    """
    return _reverse_ids(list_name).get(matrix_id)


def _read_motif_file(path: Path) -> list[Motif]:
    """Read a .meme or .jaspar/.pfm file; other suffixes are sniffed from the first line."""
    suffix = path.suffix.lower()
    if suffix in _MEME_SUFFIXES:
        return read_meme(path)
    if suffix in _JASPAR_SUFFIXES:
        return read_jaspar(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = next((line.strip() for line in handle if line.strip()), "")
    if first.startswith(">"):
        return read_jaspar(path)
    if first.startswith("MEME") or first.startswith("MOTIF"):
        return read_meme(path)
    raise FormatError(
        path, "cannot tell the motif format: expected 'MEME version' (MEME) or '>ID' (JASPAR)",
        line=1,
    )


def _parse_release_spec(spec: str) -> tuple[str, str | None, str | None]:
    parts = spec.split(":")
    if len(parts) > 3:
        raise ConfigError(
            f"motif source {spec!r}: expected RELEASE[:COLLECTION[:TAX_GROUP]], a .meme or "
            "a .jaspar file"
        )
    release = parts[0]
    collection = parts[1] if len(parts) > 1 and parts[1] else "CORE"
    tax_group = parts[2] if len(parts) > 2 and parts[2] else "vertebrates"
    none_words = {"all", "*", "none"}
    return (
        release,
        None if collection.lower() in none_words else collection,
        None if tax_group.lower() in none_words else tax_group,
    )


def load_motif_source(spec: str | os.PathLike) -> list[Motif]:
    """Motifs from a JASPAR release name or a motif file (the CLI's ``--db``).

    Parameters
    ----------
    spec : str or path-like
        - ``"paper"``: the paper's 518-motif database (:func:`paper_database`);
        - ``"JASPAR2016"``, ``"JASPAR2016:CORE"``, ``"JASPAR2016:CORE:vertebrates"``: latest
          versions of that collection / tax group (``all`` for either = no filter; defaults
          CORE and vertebrates);
        - a path to a ``.meme`` or ``.jaspar``/``.pfm`` file (other suffixes are sniffed).

    Returns
    -------
    list of Motif

    Raises
    ------
    ConfigError
        An unknown release/collection/tax group (the message lists the valid releases).
    FormatError
        A file that cannot be read as MEME or JASPAR.
    """
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_file():
        return _read_motif_file(path)
    if text == "paper":
        return paper_database()
    if path.suffix.lower() in _MEME_SUFFIXES | _JASPAR_SUFFIXES | {".txt"} or os.sep in text:
        raise FormatError(path, "motif file not found")
    release, collection, tax_group = _parse_release_spec(text)
    if release not in available_releases():
        raise ConfigError(
            f"motif source {text!r} is neither an existing file nor a JASPAR release; "
            f"valid releases: {', '.join(available_releases())} (or 'paper')"
        )
    return jaspar_database(release, collection, tax_group, latest=True)
