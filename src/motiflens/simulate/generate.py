"""The synthetic benchmark of Koo & Eddy (2019), seeded and deterministic (docs/PAPER.md §1).

Per sequence: draw the number of motifs k from ``count_probs``; draw k motifs uniformly with
replacement from the pool of 2C matrices (every PPM and its reverse complement); place them left
to right in draw order, separated by random gaps; write their columns into a (4, L) "sequence
model" that is uniform 0.25 elsewhere; sample every position independently from its column.
The label of class c is 1 when motif c (either strand) was embedded. One random permutation then
splits the sequences into train / valid / test.

Gap rules (``spacing``):

- ``"code"`` (the authors' code): the L - Σw free positions are divided into k + 1 gaps by
  normalising k + 1 uniform draws and rounding; rows whose rounded gaps do not sum exactly are
  redrawn. Gaps may be 0: motifs can touch each other or the sequence ends.
- ``"buffer"`` (the paper's text): every gap is at least 1 nt ("a buffer of at least 1
  nucleotide from other motifs and the ends"); the remaining L - Σw - (k + 1) positions are
  divided by the same normalised-uniform rule, so the two options differ only in the buffer.

All randomness comes from one ``numpy.random.default_rng(seed)``; the whole data set is drawn
with vectorised calls, so 25,000 sequences take about a second.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np

from motiflens._io import provenance, to_jsonable
from motiflens.data.dataset import GROUND_TRUTH_FIELDS, SPLITS, write_dataset
from motiflens.errors import ConfigError
from motiflens.motifs import Motif

MotifSource = Union[str, Sequence[str], Sequence[Motif]]
SPACINGS = ("code", "buffer")
_CHUNK = 4096  # sequences sampled at once (bounds the float64 working memory)
_TOL = 1e-6


@dataclass
class SimulationConfig:
    """Settings of the synthetic data set (defaults = the paper's).

    Attributes
    ----------
    n_sequences : int
        Number of sequences N (25,000).
    length : int
        Sequence length L (200).
    motifs : str, list of str or list of Motif
        ``"JASPAR2016"`` (or another release name): the paper's 12 ground-truth motifs
        (:func:`motiflens.jaspar.ground_truth_motifs`); a MEME file path; a list of JASPAR
        matrix IDs (looked up in ``release``); or Motif objects. One class per motif.
    release : str
        JASPAR release used to look up a list of IDs.
    count_probs : tuple of float
        P(k = 1), P(k = 2), ... motifs per sequence; sums to 1.
    spacing : {"buffer", "code"}
        Gap rule, see the module docstring. Default ``"buffer"``: motiflens follows the
        paper's text by default and offers the authors' code as an explicit option.
    split : tuple of 3 floats
        Train / valid / test fractions, positive, summing to 1.
    seed : int
        Seed of the one random generator.
    """

    n_sequences: int = 25000
    length: int = 200
    motifs: Any = "JASPAR2016"
    release: str = "JASPAR2016"
    count_probs: tuple[float, ...] = (0.5, 0.25, 0.17, 0.05, 0.03)
    spacing: str = "buffer"
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    seed: int = 0

    def validate(self) -> None:
        """Check every field except the motifs' widths; raise ConfigError naming the key."""
        _check_positive_int("n_sequences", self.n_sequences)
        _check_positive_int("length", self.length)
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"simulation config: key 'seed': expected an integer >= 0, found {self.seed!r}")
        _check_probabilities("count_probs", self.count_probs, None)
        _check_probabilities("split", self.split, 3, strictly_positive=True)
        if self.spacing not in SPACINGS:
            raise ConfigError(
                f"simulation config: key 'spacing': expected one of {', '.join(SPACINGS)}, "
                f"found {self.spacing!r}"
            )
        sizes = split_sizes(self.n_sequences, self.split)
        if min(sizes) < 1:
            raise ConfigError(
                f"simulation config: key 'n_sequences': {self.n_sequences} sequences leave an "
                f"empty split with fractions {tuple(self.split)}; expected every split >= 1"
            )

    @property
    def max_motifs(self) -> int:
        """Largest k with non-zero probability."""
        return int(np.flatnonzero(np.asarray(self.count_probs) > 0)[-1]) + 1


@dataclass
class GroundTruth:
    """Embedded motif instances, one row each (M rows), sorted by sequence then start.

    Attributes
    ----------
    seq : (M,) int64   index of the sequence in its split
    tf : (M,) int64    class index (position in the motif list)
    strand : (M,) int8 +1 forward PPM, -1 reverse complement
    start : (M,) int64 0-based first position
    width : (M,) int64 motif width w
    """

    seq: np.ndarray
    tf: np.ndarray
    strand: np.ndarray
    start: np.ndarray
    width: np.ndarray

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        """The five arrays by name (the HDF5 ``ground_truth/{split}`` group)."""
        return {name: getattr(self, name) for name in GROUND_TRUTH_FIELDS}

    def subset(self, rows: np.ndarray) -> "GroundTruth":
        """The instances selected by a boolean or integer index."""
        return GroundTruth(**{name: getattr(self, name)[rows] for name in GROUND_TRUTH_FIELDS})


@dataclass
class SimulatedSplit:
    """One split of the simulated data.

    Attributes
    ----------
    X : (N, 4, L) float32 one-hot sequences
    Y : (N, C) float32 labels
    model : (N, 4, L) float32 generating matrices
    ground_truth : GroundTruth with ``seq`` indexing this split
    index : (N,) int64 position of each sequence in generation order
    """

    X: np.ndarray
    Y: np.ndarray
    model: np.ndarray
    ground_truth: GroundTruth
    index: np.ndarray


@dataclass
class SimulatedData:
    """The simulated train / valid / test splits plus the motifs and the config."""

    train: SimulatedSplit
    valid: SimulatedSplit
    test: SimulatedSplit
    motifs: list[Motif]
    label_names: list[str]
    config: SimulationConfig
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> dict[str, SimulatedSplit]:
        """All three splits by name."""
        return {name: getattr(self, name) for name in SPLITS}


# --------------------------------------------------------------------------------------------
# Configuration checks
# --------------------------------------------------------------------------------------------


def _check_positive_int(key: str, value: Any) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"simulation config: key '{key}': expected a positive integer, found {value!r}")


def _check_probabilities(key: str, values: Any, size: int | None, strictly_positive: bool = False) -> None:
    try:
        probs = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"simulation config: key '{key}': expected a list of numbers, found {values!r}") from None
    if probs.ndim != 1 or probs.size == 0 or (size is not None and probs.size != size):
        want = f"{size} numbers" if size else "a non-empty list of numbers"
        raise ConfigError(f"simulation config: key '{key}': expected {want}, found {values!r}")
    low_ok = np.all(probs > 0) if strictly_positive else np.all(probs >= 0)
    if not np.all(np.isfinite(probs)) or not low_ok:
        sign = "> 0" if strictly_positive else ">= 0"
        raise ConfigError(f"simulation config: key '{key}': expected every value {sign}, found {tuple(values)}")
    if abs(probs.sum() - 1.0) > _TOL:
        raise ConfigError(
            f"simulation config: key '{key}': expected values summing to 1, found sum {probs.sum():.6g}"
        )


def split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Train / valid / test sizes: train and valid rounded, test takes the rest.

    25,000 with (0.7, 0.1, 0.2) gives (17500, 2500, 5000).
    """
    n_train = int(round(n * fractions[0]))
    n_valid = int(round(n * fractions[1]))
    return n_train, n_valid, n - n_train - n_valid


def _check_fit(config: SimulationConfig, motifs: list[Motif]) -> None:
    """The widest k_max motifs (plus buffers) must fit in the sequence."""
    widest = max(m.width for m in motifs)
    k = config.max_motifs
    need = k * widest + (k + 1 if config.spacing == "buffer" else 0)
    if need > config.length:
        rule = f" + {k + 1} buffer positions" if config.spacing == "buffer" else ""
        raise ConfigError(
            f"simulation config: key 'length': {k} motifs of width {widest}{rule} need {need} nt, "
            f"found length {config.length}; lengthen the sequences or lower the largest count in "
            "'count_probs'"
        )


# --------------------------------------------------------------------------------------------
# Motifs
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def draw_layout(
    rng: np.random.Generator, config: SimulationConfig, widths: np.ndarray
) -> GroundTruth:
    """Draw k, the motifs and their positions for every sequence (generation order).

    Parameters
    ----------
    rng : numpy.random.Generator
    config : SimulationConfig
    widths : (2C,) int array
        Width of each pool entry.

    Returns
    -------
    GroundTruth
        M instances; ``seq`` is the generation index, ``tf`` = pool index // 2.
    """
    n, kmax = config.n_sequences, len(config.count_probs)
    counts = rng.choice(np.arange(1, kmax + 1), size=n, p=np.asarray(config.count_probs, dtype=np.float64))
    picks = rng.integers(0, widths.size, size=(n, kmax))
    used = np.arange(kmax)[None, :] < counts[:, None]          # (n, kmax)
    w = np.where(used, widths[picks], 0)                        # (n, kmax)
    buffer = 1 if config.spacing == "buffer" else 0
    free = config.length - w.sum(axis=1) - buffer * (counts + 1)
    gaps = _draw_gaps(rng, free, counts, kmax) + buffer * (np.arange(kmax + 1)[None, :] <= counts[:, None])
    starts = np.cumsum(gaps[:, :kmax], axis=1) + np.cumsum(w, axis=1) - w
    seq, slot = np.nonzero(used)
    pool = picks[seq, slot]
    return GroundTruth(
        seq=seq.astype(np.int64),
        tf=(pool // 2).astype(np.int64),
        strand=np.where(pool % 2 == 0, 1, -1).astype(np.int8),
        start=starts[seq, slot].astype(np.int64),
        width=widths[pool].astype(np.int64),
    )


def _draw_gaps(rng: np.random.Generator, free: np.ndarray, counts: np.ndarray, kmax: int) -> np.ndarray:
    """k + 1 gaps per sequence summing exactly to ``free`` (authors' normalise-round-redraw rule).

    Returns
    -------
    (n, kmax + 1) int64; columns beyond k are 0.
    """
    gaps = np.zeros((free.size, kmax + 1), dtype=np.int64)
    for k in range(1, kmax + 1):
        pending = np.flatnonzero(counts == k)
        while pending.size:
            u = rng.uniform(0.0, 1.0, size=(pending.size, k + 1))
            g = np.round(u / u.sum(axis=1, keepdims=True) * free[pending, None]).astype(np.int64)
            ok = g.sum(axis=1) == free[pending]
            gaps[pending[ok], : k + 1] = g[ok]
            pending = pending[~ok]
    return gaps


def build_models(truth: GroundTruth, pool: list[np.ndarray], n: int, length: int) -> np.ndarray:
    """(n, 4, L) float64 sequence models: 0.25 background with each instance's PPM written in."""
    model = np.full((n, 4, length), 0.25, dtype=np.float64)
    pool_index = 2 * truth.tf + (truth.strand < 0)
    for p, ppm in enumerate(pool):
        rows = np.flatnonzero(pool_index == p)
        if rows.size == 0:
            continue
        cols = truth.start[rows, None] + np.arange(ppm.shape[1])[None, :]   # (m, w)
        model[truth.seq[rows, None], :, cols] = ppm.T                        # (m, w, 4) <- (w, 4)
    return model


def sample_sequences(rng: np.random.Generator, model: np.ndarray) -> np.ndarray:
    """Sample each position from its column: one uniform draw per position.

    Parameters
    ----------
    model : (n, 4, L) float array, columns summing to 1

    Returns
    -------
    (n, L) uint8 base indices 0..3 (A, C, G, T).
    """
    cum = np.cumsum(model, axis=1)[:, :3, :]                       # (n, 3, L)
    u = rng.random((model.shape[0], 1, model.shape[2]))
    return (u >= cum).sum(axis=1).astype(np.uint8)


def _generate(
    config: SimulationConfig, motifs: list[Motif]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, GroundTruth, np.ndarray]:
    """X (N, 4, L), Y (N, C), model (N, 4, L), ground truth and the split permutation (N,),
    all in generation order."""
    rng = np.random.default_rng(config.seed)
    pool = motif_pool(motifs)
    widths = np.array([p.shape[1] for p in pool], dtype=np.int64)
    truth = draw_layout(rng, config, widths)
    n, length = config.n_sequences, config.length
    X = np.empty((n, 4, length), dtype=np.float32)
    model32 = np.empty((n, 4, length), dtype=np.float32)
    bounds = np.searchsorted(truth.seq, np.arange(0, n + _CHUNK, _CHUNK))
    for c, lo in enumerate(range(0, n, _CHUNK)):
        hi = min(lo + _CHUNK, n)
        part = truth.subset(slice(bounds[c], bounds[c + 1]))
        part.seq = part.seq - lo
        model = build_models(part, pool, hi - lo, length)
        bases = sample_sequences(rng, model)
        X[lo:hi] = bases[:, None, :] == np.arange(4, dtype=np.uint8)[None, :, None]
        model32[lo:hi] = model
    Y = np.zeros((n, len(motifs)), dtype=np.float32)
    Y[truth.seq, truth.tf] = 1.0
    order = rng.permutation(n)
    return X, Y, model32, truth, order


def _split(X: np.ndarray, Y: np.ndarray, model: np.ndarray, truth: GroundTruth, index: np.ndarray) -> SimulatedSplit:
    """Rows ``index`` (generation order) as a split, with ground truth re-indexed."""
    new_pos = np.full(X.shape[0], -1, dtype=np.int64)
    new_pos[index] = np.arange(index.size)
    keep = new_pos[truth.seq] >= 0
    part = truth.subset(keep)
    part.seq = new_pos[part.seq]
    order = np.lexsort((part.start, part.seq))
    return SimulatedSplit(X=X[index], Y=Y[index], model=model[index], ground_truth=part.subset(order), index=index)


def simulate(config: SimulationConfig | None = None) -> SimulatedData:
    """Generate the synthetic data set.

    Parameters
    ----------
    config : SimulationConfig, optional
        Defaults to the paper's settings (25,000 × 200 nt, the 12 JASPAR 2016 motifs).

    Returns
    -------
    SimulatedData
        Train / valid / test splits with X (N, 4, L), Y (N, C), model (N, 4, L) and ground truth.

    Raises
    ------
    ConfigError
        Invalid fractions or probabilities, unknown spacing, or motifs that cannot fit.
    """
    config = config or SimulationConfig()
    config.validate()
    motifs = resolve_motifs(config.motifs, config.release)
    _check_fit(config, motifs)
    X, Y, model, truth, order = _generate(config, motifs)
    n_train, n_valid, _ = split_sizes(config.n_sequences, config.split)
    cuts = {"train": order[:n_train], "valid": order[n_train : n_train + n_valid], "test": order[n_train + n_valid :]}
    splits = {name: _split(X, Y, model, truth, idx) for name, idx in cuts.items()}
    return SimulatedData(
        **splits,
        motifs=motifs,
        label_names=label_names_of(motifs),
        config=config,
        provenance=provenance(seed=config.seed),
    )


def write_simulated(data: SimulatedData, path: str | os.PathLike) -> Path:
    """Write simulated data in the motiflens dataset layout (X, Y, model_*, ground_truth)."""
    extra: dict[str, Any] = {f"model_{name}": s.model for name, s in data.splits.items()}
    extra["ground_truth"] = {name: s.ground_truth.as_dict() for name, s in data.splits.items()}
    extra["ground_truth"]["motifs"] = [
        {"id": m.id, "name": m.name, "ppm": m.ppm.tolist()} for m in data.motifs
    ]
    config = _config_record(data)
    return write_dataset(
        path,
        {name: (s.X, s.Y) for name, s in data.splits.items()},
        data.label_names,
        config=config,
        provenance=data.provenance,
        extra=extra,
    )


def _config_record(data: SimulatedData) -> dict[str, Any]:
    """The config as JSON-ready data; Motif objects are recorded by id and name only."""
    record = to_jsonable(data.config)
    if not isinstance(data.config.motifs, (str, os.PathLike)) and all(
        isinstance(m, Motif) for m in data.config.motifs
    ):
        record["motifs"] = [m.id for m in data.config.motifs]
    record["motif_ids"] = [m.id for m in data.motifs]
    return record


def simulate_to_hdf5(config: SimulationConfig | None, path: str | os.PathLike) -> Path:
    """Simulate and write the data set to ``path`` (atomically); return the path."""
    return write_simulated(simulate(config), path)
