"""Settings of the synthetic data set: ``SimulationConfig``, its validation, the split sizes and
the check that the motifs fit in the sequences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from motiflens.errors import ConfigError
from motiflens.motifs import Motif

SPACINGS = ("code", "buffer")
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
