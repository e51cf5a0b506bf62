"""Pieces shared by the FASTA, BED and example builders: option checks and the per-split
assembly of positives, dinucleotide-shuffled negatives and reverse complements."""

from __future__ import annotations

import numpy as np

from motiflens.data.genome import SPLITS, codes_to_onehot, reverse_complement_onehot
from motiflens.data.shuffle import dinucleotide_shuffle_codes
from motiflens.errors import ConfigError

_N_CODE = 4


def _check_common(negatives: str | None, per: int, length: int | None) -> None:
    if negatives not in (None, "shuffle"):
        raise ConfigError(f"negatives: expected None or 'shuffle', found {negatives!r}")
    if per < 1:
        raise ConfigError(f"negatives_per_sequence: expected >= 1, found {per}")
    if length is not None and length < 1:
        raise ConfigError(f"length: expected >= 1, found {length}")


def _assemble(codes: list[np.ndarray], Y: np.ndarray, split_idx: np.ndarray,
              negatives: str | None, per: int, reverse_complement: bool,
              rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split: positives, then shuffled negatives (same split as their source), then (if
    asked) reverse complements of all of them in the same order."""
    out = {}
    n_classes = Y.shape[1]
    for s, name in enumerate(SPLITS):
        rows = np.flatnonzero(split_idx == s)
        seqs = [codes[i] for i in rows]
        labels = [Y[rows]]
        if negatives == "shuffle":
            for i in rows:
                for _ in range(per):
                    seqs.append(dinucleotide_shuffle_codes(codes[i], rng))
            labels.append(np.zeros((rows.size * per, n_classes), dtype=np.uint8))
        X = codes_to_onehot(np.stack(seqs)) if seqs else np.zeros((0, 4, 0), np.uint8)
        Yall = np.vstack(labels)
        if reverse_complement and len(X):
            X = np.concatenate([X, reverse_complement_onehot(X)])
            Yall = np.vstack([Yall, Yall])
        out[name] = (X, Yall)
    return out
