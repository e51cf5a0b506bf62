"""References (baselines) of the attribution methods, and the per-chunk context that carries
them with the model and options to each method (see :mod:`motiflens.interpret.attribution`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from motiflens.data.encoding import codes_to_onehot
from motiflens.data.fasta import dinucleotide_shuffle_codes
from motiflens.errors import ConfigError

__all__ = ["REFERENCE_KINDS", "reference_sequences"]

REFERENCE_KINDS = ("zeros", "uniform", "shuffle", "random")


def reference_sequences(X: np.ndarray, kind: str = "shuffle", n_references: int = 20,
                        seed: int = 0, offset: int = 0) -> np.ndarray:
    """DeepLIFT / DeepSHAP / IG references for each sequence.

    Parameters
    ----------
    X : (N, 4, L) float32 one-hot
    kind : {"zeros", "uniform", "shuffle", "random"}
        All-zero; 0.25 everywhere; dinucleotide shuffles of each sequence; i.i.d. uniform bases.
    n_references : int
        K references per sequence ("zeros" and "uniform" give K = 1: they would all be equal).
    seed, offset : int
        Sequence ``i`` of ``X`` draws from ``numpy.random.default_rng([seed, offset + i])``.

    Returns
    -------
    (N, K, 4, L) float32
    """
    n, _, length = X.shape
    if kind in ("zeros", "uniform"):
        return np.full((n, 1, 4, length), 0.0 if kind == "zeros" else 0.25, np.float32)
    if kind not in REFERENCE_KINDS:
        raise ConfigError(f"baseline: unknown kind {kind!r}; valid: {', '.join(REFERENCE_KINDS)}")
    codes = np.where(X.any(axis=1), X.argmax(axis=1), 4)                       # (N, L)
    out = np.empty((n, n_references, 4, length), np.float32)
    for i in range(n):
        rng = np.random.default_rng([int(seed), int(offset) + i])
        for k in range(n_references):
            drawn = (dinucleotide_shuffle_codes(codes[i], rng) if kind == "shuffle"
                     else rng.integers(0, 4, length))
            out[i, k] = codes_to_onehot(drawn)
    return out


@dataclass
class _Context:
    """What the per-chunk functions need."""

    model: nn.Module
    baseline: Any            # a kind, (K, 4, L) shared or (N, K, 4, L) per-sequence references
    n_steps: int
    n_references: int
    batch_size: int
    correct: bool
    seed: int
    device: torch.device

    def references(self, x: np.ndarray, lo: int) -> np.ndarray:
        """(n, K, 4, L) references of rows ``lo .. lo + n`` of X."""
        if isinstance(self.baseline, str):
            return reference_sequences(x, self.baseline, self.n_references, self.seed, lo)
        if self.baseline.ndim == 3:
            return np.broadcast_to(self.baseline, (len(x),) + self.baseline.shape)
        return self.baseline[lo:lo + len(x)]
