"""``VectorizedCNN``: k independent ``MotifCNN`` s of one spec computed as one model, and the
conversions between k single-model states (weights, Adam) and the stacked ones.

The k trials of a ``ModelSpec`` are stacked into one model whose every parameter has a leading
trial axis:

- conv layers take the trials' stacked channels ``(B, k * C_in, L)`` -> ``(B, k * F, L)``: one
  grouped ``conv1d`` (``groups=k``) on accelerators, one oneDNN convolution per trial on the
  CPU (where grouped convolutions are slower than k plain ones);
- batch norm over the ``k * F`` stacked channels is per channel, hence per trial;
- activations, the TF-"SAME" max-pool and dropout are elementwise / per channel (the
  activation runs after the pool, which is exact for the non-decreasing activations);
- the dense and output layers are batched matrix products (``bmm``) over ``(k, B, features)``.

Adam and the L2 gradient are elementwise, so one Adam over the stacked parameters equals k
separate Adams; :func:`stack_optimizer_states` / :func:`single_optimizer_state` convert between
the two, and :func:`shrink` removes stopped trials from a group.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiflens.errors import ConfigError
from motiflens.models import ACTIVATIONS, NON_DECREASING, ModelSpec, MotifCNN, SamePadMaxPool1d
from motiflens.ops import batch_norm_max_pool, can_fuse_pool, keep_mask
from motiflens.train.config import TrainConfig
from motiflens.train.optim import make_optimizer

__all__ = ["VectorizedCNN", "predict_stacked", "shrink", "single_optimizer_state",
           "stack_optimizer_states", "stack_states"]


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

def _key(name: str) -> str:
    """Parameter/buffer attribute name for a single-model state_dict name (no dots allowed)."""
    return name.replace(".", "__")


def stack_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack k single-model state_dicts into ``{name: (k, *shape)}``."""
    return {name: torch.stack([s[name] for s in states]) for name in states[0]}


class VectorizedCNN(nn.Module):
    """k independent ``MotifCNN`` s of one spec, computed together.

    Every parameter and buffer of the single model, under its state_dict name, is held with a
    leading trial axis ``(k, *shape)`` (``num_batches_tracked``: ``(k,)``), in the single
    model's parameter order (so Adam states map index by index).

    Parameters
    ----------
    spec : ModelSpec
    k : int
        Number of trials.
    generators : list of torch.Generator, optional
        Per-trial dropout generators (training mode); without them dropout draws from the
        global RNG, all trials at once.

    Shapes: ``(k, B, 4, L)`` (a batch per trial) or ``(B, 4, L)`` (the same batch for every
    trial) ``-> (k, B, n_outputs)`` logits.
    """

    def __init__(self, spec: ModelSpec, k: int,
                 generators: Sequence[torch.Generator] | None = None) -> None:
        super().__init__()
        spec.validate()
        if k < 1:
            raise ConfigError(f"trials: expected >= 1, got {k}")
        self.spec, self.k = spec, int(k)
        self.generators = list(generators) if generators is not None else None
        self.dropout_masks = "bernoulli"  # or "fast": see TrainConfig.dropout_masks
        #: "auto" (grouped on accelerators, per trial on the CPU), "grouped" or "loop".
        self.conv_impl = "auto"
        with torch.random.fork_rng(devices=[]):
            template = MotifCNN(spec)  # only for names and shapes
        self.param_names = [n for n, _ in template.named_parameters()]
        self.buffer_names = [n for n, _ in template.named_buffers()]
        self.state_names = list(template.state_dict())
        for name, p in template.named_parameters():
            self.register_parameter(_key(name), nn.Parameter(
                p.detach().unsqueeze(0).repeat(k, *([1] * p.dim())).contiguous()))
        for name, b in template.named_buffers():
            self.register_buffer(_key(name), b.detach().unsqueeze(0).repeat(
                k, *([1] * b.dim())).contiguous())
        odd = [b.activation for b in spec.conv if b.activation not in NON_DECREASING]
        if odd:
            raise ConfigError(
                f"vectorised training applies each activation after its pool, exact only for "
                f"non-decreasing activations; {spec.name} uses {', '.join(sorted(set(odd)))}: "
                "train without --vectorize")
        self.acts = nn.ModuleList(ACTIVATIONS[b.activation]() for b in spec.conv)
        self.pools = nn.ModuleList(SamePadMaxPool1d(b.pool_size, b.stride) for b in spec.conv)

    # ---------------------------------------------------------------- state conversion
    @classmethod
    def from_states(cls, spec: ModelSpec, states: Sequence[dict[str, torch.Tensor]],
                    generators: Sequence[torch.Generator] | None = None) -> "VectorizedCNN":
        """Stack k single-model ``state_dict`` s (e.g. of ``build_model``) into one model."""
        model = cls(spec, len(states), generators)
        model.load_stacked(stack_states(states))
        return model

    def load_stacked(self, stacked: dict[str, torch.Tensor]) -> None:
        """Copy ``{single-model name: (k, *shape)}`` tensors into the parameters/buffers."""
        with torch.no_grad():
            for name in self.param_names + self.buffer_names:
                getattr(self, _key(name)).copy_(stacked[name])

    def trial_state(self, t: int) -> dict[str, torch.Tensor]:
        """Trial ``t`` as a single-model ``state_dict`` (CPU copies, ``MotifCNN`` key order)."""
        return {name: getattr(self, _key(name))[t].detach().to("cpu", copy=True)
                for name in self.state_names}

    def stacked_parameters(self) -> list[nn.Parameter]:
        """Parameters in the single model's ``parameters()`` order."""
        return [getattr(self, _key(n)) for n in self.param_names]

    def penalised_weights(self) -> list[nn.Parameter]:
        """The conv and linear weights (what the L2 penalty covers)."""
        return [getattr(self, _key(n)) for n in self.param_names
                if n.endswith("conv.weight") or n in ("dense.weight", "output.weight")]

    # ---------------------------------------------------------------- forward
    def _p(self, name: str) -> torch.Tensor:
        return getattr(self, _key(name))

    def _batch_norm(self, h: torch.Tensor, prefix: str) -> torch.Tensor:
        """Batch norm of ``h (B, k * C, ...)`` with per-trial statistics and affine maps."""
        mean, var = self._p(f"{prefix}.running_mean"), self._p(f"{prefix}.running_var")
        if self.training:
            with torch.no_grad():
                self._p(f"{prefix}.num_batches_tracked").add_(1)
        return F.batch_norm(h, mean.view(-1), var.view(-1), self._p(f"{prefix}.weight").view(-1),
                            self._p(f"{prefix}.bias").view(-1), self.training,
                            self.spec.bn_momentum, self.spec.bn_eps)

    def _batch_norm_pool(self, h: torch.Tensor, prefix: str, pool: SamePadMaxPool1d
                         ) -> torch.Tensor:
        """``pool(batch_norm(h))`` of ``h (B, k * F, L)``; fused (``motiflens.ops``) in training
        where it applies."""
        if not (self.training and can_fuse_pool(pool.size, pool.stride, h.shape[-1])):
            return pool(self._batch_norm(h, prefix))
        with torch.no_grad():
            self._p(f"{prefix}.num_batches_tracked").add_(1)
        return batch_norm_max_pool(h, None, pool.size, **self._bn_args(prefix))

    def _bn_args(self, prefix: str, trial: int | None = None) -> dict[str, Any]:
        """Keyword arguments of ``batch_norm_max_pool`` for all trials or one trial."""
        args: dict[str, Any] = {
            name: (self._p(f"{prefix}.{name}") if trial is None
                   else self._p(f"{prefix}.{name}")[trial]).reshape(-1)
            for name in ("weight", "bias", "running_mean", "running_var")}
        return {**args, "momentum": self.spec.bn_momentum, "eps": self.spec.bn_eps}

    def _per_trial_block(self, x: torch.Tensor, w: torch.Tensor, prefix: str,
                         pool: SamePadMaxPool1d) -> torch.Tensor:
        """conv -> fused batch norm + pool of each trial's own batch ``x (k, B, C, L)`` (CPU,
        training): ``(B, k * F, L')``. Each trial's full-length tensors stay contiguous and
        only the pooled outputs are concatenated."""
        with torch.no_grad():
            self._p(f"{prefix}.num_batches_tracked").add_(1)
        return torch.cat([batch_norm_max_pool(F.conv1d(xt, w[t], padding="same"), None,
                                              pool.size, **self._bn_args(prefix, t))
                          for t, xt in enumerate(x)], dim=1)

    def _grouped(self, h: torch.Tensor) -> bool:
        return self.conv_impl == "grouped" or (self.conv_impl == "auto"
                                               and h.device.type != "cpu")

    def _conv(self, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """"Same" convolution of each trial's channels: ``(B, k * C, L) -> (B, k * F, L)``.

        The first layer may also take ``(k, B, C, L)`` (each trial's own batch).

        ``w`` is ``(k, F, C, width)``. On CUDA one grouped convolution (one kernel for all
        trials); on the CPU one oneDNN convolution per trial (grouped convolutions are up to
        2x slower there than k ordinary ones), concatenated.
        """
        grouped = self._grouped(h)
        if h.dim() == 4:  # (k, B, C, L), each trial's own batch
            if not grouped:
                return torch.cat([F.conv1d(x, w[t], padding="same") for t, x in enumerate(h)],
                                 dim=1)
            h = h.transpose(0, 1).reshape(h.shape[1], -1, h.shape[3])
        if grouped:
            return F.conv1d(h, w.reshape(-1, *w.shape[2:]), padding="same", groups=self.k)
        parts = h.chunk(self.k, dim=1)
        return torch.cat([F.conv1d(x, w[t], padding="same") for t, x in enumerate(parts)], dim=1)

    def _dropout(self, h: torch.Tensor, p: float, trial_dim: int) -> torch.Tensor:
        """Inverted dropout with each trial's mask drawn from its own generator.

        ``h`` holds the trials along ``trial_dim`` (0: ``(k, B, D)``; 1: ``(B, k * F, L)``);
        trial t's mask has the single model's shape and dtype and is drawn as the single model
        draws it on the CPU: ``bernoulli_(1 - p)`` then ``/ (1 - p)`` (``nn.Dropout``), or with
        ``dropout_masks = "fast"`` ``keep_mask`` then ``* 1 / (1 - p)`` (``motiflens.ops``).
        """
        if not self.training or p == 0:
            return h
        if self.generators is None:
            return F.dropout(h, p, training=True)
        k = self.k
        if trial_dim == 0:
            shape = h.shape[1:]
        else:
            shape = (h.shape[0], h.shape[1] // k, *h.shape[2:])
        if self.dropout_masks == "fast":
            masks = [keep_mask(shape, 1 - p, g, h.device).to(h.dtype) for g in self.generators]
        else:
            masks = [torch.empty(shape, dtype=h.dtype, device=h.device).bernoulli_(
                1 - p, generator=g) for g in self.generators]
        mask = torch.stack(masks, dim=trial_dim)
        if trial_dim == 1:
            mask = mask.reshape(h.shape)
        if self.dropout_masks == "fast":
            return h * mask.mul_(torch.tensor(1.0 / (1.0 - p), dtype=h.dtype, device=h.device))
        return h * mask.div_(1 - p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(k, B, n_outputs)`` of every trial."""
        spec, k = self.spec, self.k
        if x.dim() == 3:
            h = x.repeat(1, k, 1)  # (B, k * C, L): every trial sees the same batch
        elif x.dim() == 4 and x.shape[0] == k:
            h = x  # (k, B, C, L): _conv takes each trial's contiguous batch as it is
        else:
            raise ConfigError(f"VectorizedCNN: expected (B, C, L) or ({k}, B, C, L), "
                              f"got {tuple(x.shape)}")
        for i, block in enumerate(spec.conv):
            # Every activation of ACTIVATIONS is non-decreasing, so act(pool(z)) equals
            # pool(act(z)) in value and gradient (the window's first maximum gets it: for ReLU a
            # window whose maximum is <= 0 passes no gradient either way; a saturated activation
            # can only move a near-zero gradient between tied positions): the activation then
            # runs on the pooled, pool_size times smaller tensor.
            w, prefix, pool = self._p(f"blocks.{i}.conv.weight"), f"blocks.{i}.bn", self.pools[i]
            if h.dim() == 4 and self.training and not self._grouped(h) \
                    and can_fuse_pool(pool.size, pool.stride, h.shape[-1]):
                h = self._per_trial_block(h, w, prefix, pool)
            else:
                h = self._batch_norm_pool(self._conv(h, w), prefix, pool)
            h = self.acts[i](h)
            h = self._dropout(h, block.dropout, trial_dim=1)
        batch = h.shape[0]
        h = h.reshape(batch, k, -1).transpose(0, 1)  # (k, B, F * L_n), the single flatten order
        if spec.dense > 0:
            h = torch.bmm(h, self._p("dense.weight").transpose(1, 2))  # (k, B, D)
            flat = h.transpose(0, 1).reshape(batch, -1)  # (B, k * D)
            h = F.relu(self._batch_norm(flat, "dense_bn")).reshape(batch, k, -1).transpose(0, 1)
            h = self._dropout(h, spec.dense_dropout, trial_dim=0)
        return torch.baddbmm(self._p("output.bias").unsqueeze(1), h,
                             self._p("output.weight").transpose(1, 2))


@torch.no_grad()
def predict_stacked(model: VectorizedCNN, X: torch.Tensor, batch_size: int) -> np.ndarray:
    """Logits ``(k, N, C)`` of every trial on ``X (N, 4, L)`` (eval mode, fp32)."""
    was = model.training
    model.eval()
    try:
        out = [model(X[s:s + batch_size].float()).float() for s in range(0, len(X), batch_size)]
        return torch.cat(out, dim=1).cpu().numpy()
    finally:
        model.train(was)


# --------------------------------------------------------------------------------------------
# Optimizer state conversion (single-run Adam <-> stacked Adam)
# --------------------------------------------------------------------------------------------

def stack_optimizer_states(optimizer: torch.optim.Optimizer, params: Sequence[nn.Parameter],
                           singles: Sequence[dict[str, Any] | None]) -> None:
    """Load k single-run Adam ``state_dict`` s into ``optimizer`` over the stacked ``params``."""
    if all(s is None or not s.get("state") for s in singles):
        return
    if any(s is None or not s.get("state") for s in singles):
        raise ConfigError("vectorised resume: trials of one group must all have optimizer state")
    for j, p in enumerate(params):
        states = [s["state"][j] for s in singles]
        steps = {float(st["step"]) for st in states}
        if len(steps) != 1:
            raise ConfigError(f"vectorised resume: Adam steps differ between trials ({steps})")
        # The fused (CUDA) Adam keeps its step counter on the parameters' device.
        where = p.device if optimizer.defaults.get("fused") else torch.device("cpu")
        optimizer.state[p] = {
            "step": states[0]["step"].detach().clone().to(where, torch.float32),
            "exp_avg": torch.stack([st["exp_avg"] for st in states]).to(p.device),
            "exp_avg_sq": torch.stack([st["exp_avg_sq"] for st in states]).to(p.device),
        }


def single_optimizer_state(optimizer: torch.optim.Optimizer, params: Sequence[nn.Parameter],
                           t: int, param_groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Trial ``t``'s Adam state in the format of a single run's ``optimizer.state_dict()``."""
    state = {}
    for j, p in enumerate(params):
        st = optimizer.state.get(p)
        if not st:
            continue
        state[j] = {"step": st["step"].detach().to("cpu", copy=True),
                    "exp_avg": st["exp_avg"][t].detach().to("cpu", copy=True),
                    "exp_avg_sq": st["exp_avg_sq"][t].detach().to("cpu", copy=True)}
    return {"state": state, "param_groups": [dict(g) for g in param_groups]}


def shrink(model: VectorizedCNN, optimizer: torch.optim.Optimizer, keep: list[int],
           config: TrainConfig, device: torch.device
           ) -> tuple[VectorizedCNN, torch.optim.Optimizer]:
    """A smaller group of the trials ``keep`` of ``model``, parameters and Adam moments sliced."""
    index = torch.tensor(keep, device=device)
    stacked = {n: getattr(model, _key(n)).detach().index_select(0, index)
               for n in model.param_names + model.buffer_names}
    old_params = model.stacked_parameters()
    generators = [model.generators[i] for i in keep] if model.generators else None
    small = VectorizedCNN(model.spec, len(keep)).to(device)
    small.load_stacked(stacked)
    small.generators = generators
    small.dropout_masks = model.dropout_masks
    new_opt = make_optimizer(small.stacked_parameters(), config, device)
    for old, new in zip(old_params, small.stacked_parameters()):
        st = optimizer.state.get(old)
        if st:
            new_opt.state[new] = {"step": st["step"].clone(),
                                  "exp_avg": st["exp_avg"].index_select(0, index),
                                  "exp_avg_sq": st["exp_avg_sq"].index_select(0, index)}
    return small, new_opt
