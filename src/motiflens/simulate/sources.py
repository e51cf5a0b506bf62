"""The motifs to embed: resolving the ``motifs`` setting (release, file, JASPAR IDs or Motif
objects), the strand-doubled pool drawn from, and the class names."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from motiflens.errors import ConfigError
from motiflens.motifs import Motif

MotifSource = Union[str, Sequence[str], Sequence[Motif]]


def resolve_motifs(source: MotifSource, release: str = "JASPAR2016") -> list[Motif]:
    """Turn the ``motifs`` setting into a list of Motif objects (one class each).

    Parameters
    ----------
    source : str, list of str or list of Motif
        A JASPAR release name (its paper ground-truth motifs), a MEME file, JASPAR matrix IDs
        (a list, or one string of comma- or space-separated IDs: ``"MA0151.1,MA0466.2"``),
        or motifs.
    release : str
        Release in which IDs are looked up.
    """
    if isinstance(source, (str, os.PathLike)):
        return _motifs_from_string(str(source), release)
    items = list(source)
    if not items:
        raise ConfigError("simulation config: key 'motifs': expected at least one motif, found an empty list")
    if all(isinstance(m, Motif) for m in items):
        return items
    if all(isinstance(m, str) for m in items):
        return _motifs_from_ids(items, release)
    raise ConfigError(
        "simulation config: key 'motifs': expected a release name, a MEME path, a list of JASPAR "
        f"IDs or a list of Motif objects, found {source!r}"
    )


_MATRIX_ID = re.compile(r"^[A-Z]{2}\d{4}(\.\d+)?$")


def _motifs_from_string(source: str, release: str = "JASPAR2016") -> list[Motif]:
    """A motif file (MEME / JASPAR), a release name meaning its 12 paper ground-truth motifs,
    or JASPAR matrix IDs separated by commas and/or spaces (looked up in ``release``)."""
    from motiflens import jaspar

    if Path(source).expanduser().is_file():
        motifs = list(jaspar.load_motif_source(source))
        if not motifs:
            raise ConfigError(f"simulation config: key 'motifs': {source} holds no motifs")
        return motifs
    if source in jaspar.available_releases():
        return list(jaspar.ground_truth_motifs(source))
    ids = [token for token in re.split(r"[\s,]+", source.strip()) if token]
    if ids and all(_MATRIX_ID.match(token) for token in ids):
        return _motifs_from_ids(ids, release)
    raise ConfigError(
        f"simulation config: key 'motifs': {source!r} is neither a motif file nor a JASPAR "
        f"release nor JASPAR matrix IDs; expected (--motifs) a path, one of "
        f"{', '.join(jaspar.available_releases())} or IDs such as 'MA0151.1,MA0466.2'"
    )


def _motifs_from_ids(ids: list[str], release: str) -> list[Motif]:
    """JASPAR matrices by versioned ID (any collection) from ``release``, in the given order."""
    from motiflens import jaspar

    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"simulation config: key 'motifs': ID(s) given twice: "
                          f"{', '.join(repeated)} (--motifs: expected each motif once, one "
                          "class each)")
    by_id = {m.id: m for m in jaspar.jaspar_database(release, None, None, latest=False)}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ConfigError(
            f"simulation config: key 'motifs': IDs not in {release}: {', '.join(missing)} "
        f"(--motifs: expected versioned JASPAR matrix IDs such as MA0151.1)"
        )
    return [by_id[i] for i in ids]


def motif_pool(motifs: list[Motif]) -> list[np.ndarray]:
    """The 2C PPMs drawn from: pool[2c] = motif c, pool[2c + 1] = its reverse complement."""
    pool = []
    for motif in motifs:
        pool.append(np.asarray(motif.ppm, dtype=np.float64))
        pool.append(np.asarray(motif.ppm, dtype=np.float64)[::-1, ::-1].copy())
    return pool


def label_names_of(motifs: list[Motif]) -> list[str]:
    """Class names: each motif's name, or its id when it has none."""
    return [m.name or m.id for m in motifs]
