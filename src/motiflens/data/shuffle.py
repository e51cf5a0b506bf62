"""Dinucleotide-preserving shuffles of DNA (Altschul & Erickson 1985), for negatives."""

from __future__ import annotations

import numpy as np

from motiflens.data.genome import sequence_codes


def dinucleotide_shuffle_codes(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Altschul-Erickson dinucleotide shuffle of one sequence of integer codes.

    A uniformly random sequence with exactly the same dinucleotide (and so mononucleotide)
    counts, first and last letter: draw a random last-exit edge per letter until they form a
    tree into the final letter, shuffle every letter's other exits, and walk the Eulerian path
    (Altschul & Erickson 1985; Kandel et al. 1996).

    Parameters
    ----------
    codes : (L,) integer array
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        (L,) shuffled codes, same dtype.
    """
    codes = np.asarray(codes)
    n = codes.size
    if n < 3:
        return codes.copy()
    src, dst = codes[:-1], codes[1:]
    last = int(codes[-1])
    letters = [int(v) for v in np.unique(src)]
    exits = {v: dst[src == v] for v in letters}
    others = [v for v in letters if v != last]
    while True:
        choice = {v: int(rng.integers(exits[v].size)) for v in others}
        last_exit = {v: int(exits[v][choice[v]]) for v in others}
        if all(_reaches(v, last, last_exit) for v in others):
            break
    order: dict[int, np.ndarray] = {}
    for v in letters:
        out = exits[v]
        if v == last:
            order[v] = rng.permutation(out)
        else:
            rest = np.delete(out, choice[v])
            order[v] = np.append(rng.permutation(rest), out[choice[v]])
    result = np.empty(n, dtype=codes.dtype)
    result[0] = cur = int(codes[0])
    pos = {v: 0 for v in letters}
    lists = {v: order[v].tolist() for v in letters}
    for i in range(1, n):
        nxt = lists[cur][pos[cur]]
        pos[cur] += 1
        result[i] = cur = nxt
    return result


def _reaches(v: int, last: int, last_exit: dict[int, int]) -> bool:
    seen = set()
    while v != last:
        if v in seen:
            return False
        seen.add(v)
        v = last_exit[v]
    return True


def dinucleotide_shuffle(seq: str, rng: np.random.Generator | int | None = None) -> str:
    """Dinucleotide-preserving shuffle of a DNA string (upper-cased first).

    Parameters
    ----------
    seq : str
        Over A, C, G, T, N (any case).
    rng : numpy.random.Generator or int seed

    Returns
    -------
    str
        Same length, same dinucleotide counts, same first and last letter.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    codes = sequence_codes(seq)
    return "".join("ACGTN"[c] for c in dinucleotide_shuffle_codes(codes, rng))
