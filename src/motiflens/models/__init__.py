"""The CNN architectures of Koo & Eddy (2019) and a small spec language to build others.

Every model is ``[ConvBlock] * n -> flatten -> dense (no bias) -> batch norm -> ReLU ->
dropout -> linear (n_outputs, bias)`` and returns logits of shape ``(N, n_outputs)``; the
sigmoid belongs to the loss and the metrics.

A ``ConvBlock`` is ``Conv1d`` (stride 1, zero "same" padding, no bias) -> ``BatchNorm1d`` ->
activation -> max-pool -> dropout. The max-pool reproduces TensorFlow's ``"SAME"`` pooling: the
output length is ``ceil(L / stride)`` and the input is padded with ``-inf`` by
``total = max((out - 1) * stride + size - L, 0)`` positions, ``total // 2`` on the left and the
rest on the right, so a window never sees a padded value as a maximum.

Conventions chosen here (see docs/PAPER.md §2-§3):

- He initialisation (default, the paper's text) is ``torch.nn.init.kaiming_normal_`` with
  ``fan_in`` and the ReLU gain, i.e. an untruncated normal with std ``sqrt(2 / fan_in)`` as in
  He et al. (2015); ``init="glorot"`` is ``xavier_uniform_`` (the authors' code). Biases are 0,
  batch-norm scale 1 and shift 0.
- Batch norm defaults to ``eps=1e-3`` and PyTorch ``momentum=0.1`` (the paper does not state
  them); the authors' code used ``eps=1e-8`` and a moving-average decay of 0.99, i.e.
  ``momentum=0.01`` here, which ``TrainConfig.for_protocol("code")`` selects.
- Parameter counts (``count_parameters``) include batch-norm scale and shift but not the running
  statistics (they are buffers), matching the paper's table.

The package re-exports every name: :mod:`~motiflens.models.specs` (specs, spec strings, spec
arithmetic; torch-free), :mod:`~motiflens.models.paper` (the paper's named architectures) and
:mod:`~motiflens.models.layers` (the ``nn.Module`` s and :func:`build_model`).
"""

from __future__ import annotations

from motiflens.models.specs import (
    ACTIVATION_NAMES,
    INITS,
    NON_DECREASING,
    ConvBlockSpec,
    ModelSpec,
    looks_like_spec_string,
    parse_activations,
    parse_spec,
    same_pool_length,
    spec_from_dict,
    spec_receptive_field_size,
    with_activations,
)
from motiflens.models.layers import (
    ACTIVATIONS,
    EXP_INPUT_CAP,
    ConvBlock,
    InputShapeError,
    MotifCNN,
    SamePadMaxPool1d,
    _Exp,  # noqa: F401  (motiflens.interpret.attribution imports it from here)
    build_model,
    count_parameters,
    init_weights,
)
from motiflens.models.paper import MODEL_DESCRIPTIONS, MODEL_NAMES, model_spec

#: The former name of :func:`spec_receptive_field_size` (0-based block index, an int), kept for
#: callers that import it (tests/test_models.py). The traced, 1-based one is
#: :func:`motiflens.interpret.tracing.model_receptive_field`.
receptive_field = spec_receptive_field_size

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_NAMES",
    "ConvBlock",
    "ConvBlockSpec",
    "EXP_INPUT_CAP",
    "INITS",
    "InputShapeError",
    "MODEL_DESCRIPTIONS",
    "MODEL_NAMES",
    "ModelSpec",
    "MotifCNN",
    "NON_DECREASING",
    "SamePadMaxPool1d",
    "build_model",
    "count_parameters",
    "init_weights",
    "looks_like_spec_string",
    "model_spec",
    "parse_activations",
    "parse_spec",
    "same_pool_length",
    "spec_from_dict",
    "spec_receptive_field_size",
    "with_activations",
]
