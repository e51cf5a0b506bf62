"""In-silico mutagenesis: exact single-mutant logit effects by batched forward passes."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from motiflens.interpret.attribution_references import _Context


def _ism(ctx: _Context, X: np.ndarray, targets: list[int], bar: tqdm) -> np.ndarray:
    """(N, T, 4, L) exact single-mutant effects, ``batch_size`` mutants per forward."""
    model, size, device = ctx.model, ctx.batch_size, ctx.device
    out = np.zeros((X.shape[0], len(targets)) + X.shape[1:], np.float32)
    with torch.no_grad():
        ref = np.concatenate([model(torch.as_tensor(X[lo:lo + size], device=device))[:, targets]
                              .float().cpu().numpy() for lo in range(0, len(X), size)])
    seq, base, pos = np.nonzero(X == 0)                                        # one per mutant
    done = 0
    for lo in range(0, seq.size, size):
        i, b, p = (a[lo:lo + size] for a in (seq, base, pos))
        mutants = torch.as_tensor(X[i], device=device)
        rows, bt, pt = (torch.as_tensor(a, device=device) for a in (np.arange(i.size), b, p))
        mutants[rows, :, pt] = 0.0
        mutants[rows, bt, pt] = 1.0
        with torch.no_grad():
            out[i, :, b, p] = model(mutants)[:, targets].float().cpu().numpy() - ref[i]
        finished = X.shape[0] if lo + size >= seq.size else int(i[-1])          # sequences done
        bar.update(finished - done)
        done = finished
    return out

