"""Reading one layer's activations from any PyTorch network, batch by batch.

The layer is chosen by :func:`motiflens.interpret.tracing.resolve_layer`; a forward hook keeps
its output and stops the forward pass there, so the layers above it never run. Activations are
never held for the whole set unless asked for (:func:`layer_activations`).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from motiflens.errors import ConfigError
from motiflens.interpret.batching import eval_mode, iter_batches, model_device
from motiflens.interpret.tracing import LayerRef, LayerSelection, probe, resolve_layer

__all__ = ["iter_activations", "layer_activations"]


class _Stop(Exception):
    """Raised inside a hook to end the forward pass once the activation is captured."""


class _Capture:
    """Forward hook that keeps the output of the ``call``-th call of a module."""

    def __init__(self, module: nn.Module, call: int) -> None:
        self.module, self.call = module, call
        self.count, self.value = 0, None

    def hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if self.count == self.call:
            out = output[0] if isinstance(output, (tuple, list)) else output
            self.value = out.detach()
            raise _Stop
        self.count += 1

    def run(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        self.count, self.value = 0, None
        handle = self.module.register_forward_hook(self.hook)
        try:
            model(batch)
        except _Stop:
            pass
        finally:
            handle.remove()
        if self.value is None:
            raise ConfigError("the selected activation did not run during the forward pass")
        return self.value


def iter_activations(model: nn.Module, X: Any, sel: LayerSelection, batch_size: int
                     ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield ``(start, x_batch (B, C, L), activation (B, F, L'))``, both float32 on the CPU.

    The model runs in eval mode under ``torch.no_grad``; each forward pass stops once the
    selected module (``sel.activation``, its ``sel.activation_call``-th call) has run.
    """
    capture = _Capture(sel.activation, sel.activation_call)
    device = model_device(model)
    with torch.no_grad(), eval_mode(model):
        for start, batch in iter_batches(X, batch_size):
            act = capture.run(model, batch.to(device)).to("cpu", torch.float32)
            if act.dim() != 3 or act.shape[0] != batch.shape[0]:
                raise ConfigError(f"{sel.activation_name}: output of shape {tuple(act.shape)}; "
                                  "expected (N, filters, length)")
            yield start, batch, act


def layer_activations(model: nn.Module, X: Any, layer: LayerRef = 1,
                      activation: str | nn.Module | None = None, batch_size: int = 512
                      ) -> np.ndarray:
    """Activations of one layer for all sequences (eval mode, no gradients, batched).

    This holds the full ``(N, F, L')`` array;
    :func:`motiflens.interpret.filters.filters_to_motifs` does not need it.

    Parameters
    ----------
    model : nn.Module
    X : (N, C, L) array-like (numpy, h5py dataset or tensor)
    layer, activation : see :func:`resolve_layer`
    batch_size : int

    Returns
    -------
    (N, F, L') float32 array
    """
    sel = resolve_layer(model, layer, activation, trace=probe(model, X))
    parts = [act.numpy() for _, _, act in iter_activations(model, X, sel, batch_size)]
    return np.concatenate(parts, axis=0)
