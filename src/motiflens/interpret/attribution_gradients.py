"""Plain-autograd attribution methods, saliency and gradient x input, and the Majdandzic et al.
(2023) gradient correction that every gradient method applies on request."""

from __future__ import annotations

import numpy as np
import torch

from motiflens.interpret.attribution_references import _Context

__all__ = ["correct_gradients"]


def correct_gradients(G: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Majdandzic et al. (2023) correction: subtract at each position the mean over the bases.

    Parameters
    ----------
    G : (..., 4, L) array or tensor
        Gradients (or DeepLIFT multipliers).

    Returns
    -------
    Same type and shape; every column sums to 0.
    """
    if isinstance(G, torch.Tensor):
        return G - G.mean(dim=-2, keepdim=True)
    return G - np.mean(G, axis=-2, keepdims=True)


# --------------------------------------------------------------------------------------------
# Gradient methods: each maps a chunk (n, 4, L) to (n, T, 4, L)
# --------------------------------------------------------------------------------------------

def _saliency(ctx: _Context, x: np.ndarray, lo: int, targets: list[int]) -> torch.Tensor:
    xt = torch.as_tensor(x, device=ctx.device).requires_grad_(True)
    logits = ctx.model(xt)
    g = torch.stack([torch.autograd.grad(logits[:, t].sum(), xt,
                                         retain_graph=i + 1 < len(targets))[0]
                     for i, t in enumerate(targets)], dim=1)
    return correct_gradients(g) if ctx.correct else g


def _grad_x_input(ctx: _Context, x: np.ndarray, lo: int, targets: list[int]) -> torch.Tensor:
    return _saliency(ctx, x, lo, targets) * torch.as_tensor(x, device=ctx.device)[:, None]
