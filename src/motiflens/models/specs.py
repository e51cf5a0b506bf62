"""Architectures as data: :class:`ModelSpec` / :class:`ConvBlockSpec`, their validation, a
dict round trip, the compact spec-string language and spec arithmetic (lengths, receptive field).

Torch-free: :mod:`motiflens.models.layers` builds the network of a spec and
:mod:`motiflens.models.paper` names the paper's architectures.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Sequence

from motiflens.errors import ConfigError

__all__ = [
    "ACTIVATION_NAMES", "INITS", "NON_DECREASING", "ConvBlockSpec", "ModelSpec",
    "looks_like_spec_string", "parse_activations", "parse_spec", "same_pool_length",
    "spec_from_dict", "spec_receptive_field_size", "with_activations",
]

#: Names of the activations a conv block may use, in the order error messages list them
#: (:data:`motiflens.models.layers.ACTIVATIONS` builds each).
ACTIVATION_NAMES: tuple[str, ...] = ("relu", "exponential", "sigmoid", "tanh", "softplus", "elu",
                                     "linear", "gelu")

#: Activations that never decrease: for them act(maxpool(h)) == maxpool(act(h)) in value and
#: gradient, so training may apply them after the pool (the fused batch norm + pool path).
#: Any other activation (GELU dips below zero near -0.75) takes the stock conv -> bn -> act ->
#: pool order in training too.
NON_DECREASING = frozenset({"relu", "exponential", "sigmoid", "tanh", "softplus", "elu", "linear"})

INITS = ("he", "glorot")


def same_pool_length(length: int, stride: int) -> int:
    """Output length of TensorFlow "SAME" pooling: ``ceil(length / stride)``."""
    return -(-int(length) // int(stride))


@dataclass
class ConvBlockSpec:
    """One convolutional block: conv -> batch norm -> activation -> max-pool -> dropout.

    Parameters
    ----------
    filters : int
        Number of convolution filters (output channels).
    width : int
        Filter width in positions.
    pool_size : int
        Max-pool window; 1 means no pooling.
    pool_stride : int or None
        Max-pool stride; None means equal to ``pool_size`` (non-overlapping windows).
    activation : str
        One of :data:`ACTIVATION_NAMES`.
    dropout : float
        Dropout probability after the block.
    """

    filters: int
    width: int
    pool_size: int = 1
    pool_stride: int | None = None
    activation: str = "relu"
    dropout: float = 0.1

    @property
    def stride(self) -> int:
        """The effective max-pool stride."""
        return self.pool_size if self.pool_stride is None else self.pool_stride

    def validate(self, where: str = "conv") -> None:
        """Raise ``ConfigError`` naming the bad field if any value is out of range."""
        for key in ("filters", "width", "pool_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{where}.{key}: expected a positive integer, got {value!r}")
        if self.pool_stride is not None and (
            not isinstance(self.pool_stride, int) or self.pool_stride < 1
        ):
            raise ConfigError(
                f"{where}.pool_stride: expected a positive integer or null, got {self.pool_stride!r}"
            )
        if self.activation not in ACTIVATION_NAMES:
            raise ConfigError(
                f"{where}.activation: unknown activation {self.activation!r}; "
                f"valid: {', '.join(ACTIVATION_NAMES)}"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"{where}.dropout: expected 0 <= p < 1, got {self.dropout!r}")


@dataclass
class ModelSpec:
    """A full architecture.

    Parameters
    ----------
    name : str
        Display name, e.g. ``"CNN-25"``.
    conv : list of ConvBlockSpec
        The convolutional blocks, input side first.
    dense : int
        Units of the fully connected hidden layer; 0 means none (flatten -> output).
    dense_dropout : float
        Dropout after the hidden layer.
    n_outputs : int
        Number of output logits (classes).
    input_length : int
        Sequence length L the model accepts, input shape ``(N, in_channels, L)``.
    in_channels : int
        Alphabet size (4 for DNA).
    init : {"he", "glorot"}
        Weight initialisation of conv and linear weights.
    bn_eps, bn_momentum : float
        Batch-norm epsilon and PyTorch momentum (1 - TensorFlow's decay).
    """

    name: str
    conv: list[ConvBlockSpec]
    dense: int = 512
    dense_dropout: float = 0.5
    n_outputs: int = 12
    input_length: int = 200
    in_channels: int = 4
    init: str = "he"
    bn_eps: float = 1e-3
    bn_momentum: float = 0.1

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the bad key if the spec is not buildable."""
        if not self.conv:
            raise ConfigError(f"model {self.name!r}: conv: at least one conv block is required")
        for i, block in enumerate(self.conv):
            if not isinstance(block, ConvBlockSpec):
                raise ConfigError(f"model {self.name!r}: conv[{i}]: expected a ConvBlockSpec")
            block.validate(f"conv[{i}]")
        for key in ("n_outputs", "input_length", "in_channels"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
        if not isinstance(self.dense, int) or self.dense < 0:
            raise ConfigError(f"dense: expected a non-negative integer, got {self.dense!r}")
        if not 0.0 <= float(self.dense_dropout) < 1.0:
            raise ConfigError(f"dense_dropout: expected 0 <= p < 1, got {self.dense_dropout!r}")
        if self.init not in INITS:
            raise ConfigError(f"init: unknown initialisation {self.init!r}; valid: {', '.join(INITS)}")
        if not float(self.bn_eps) > 0:
            raise ConfigError(f"bn_eps: expected > 0, got {self.bn_eps!r}")
        if not 0.0 < float(self.bn_momentum) <= 1.0:
            raise ConfigError(f"bn_momentum: expected 0 < m <= 1, got {self.bn_momentum!r}")

    def lengths(self) -> list[int]:
        """Sequence length after each conv block, ``[L_1, ..., L_n]``."""
        out, length = [], self.input_length
        for block in self.conv:
            length = same_pool_length(length, block.stride)
            out.append(length)
        return out

    @property
    def flat_features(self) -> int:
        """Number of inputs to the dense layer: ``filters_n * L_n``."""
        return self.conv[-1].filters * self.lengths()[-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``spec_from_dict`` inverts it."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "ModelSpec":
        """A copy with some fields changed (``dataclasses.replace``), validated."""
        spec = dataclasses.replace(self, **changes)
        spec.validate()
        return spec


def spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    """Rebuild a ``ModelSpec`` from ``ModelSpec.to_dict()`` output (e.g. read from JSON).

    Raises
    ------
    ConfigError
        On unknown or missing keys, naming them and listing the valid ones.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"model spec: expected a mapping, got {type(data).__name__}")
    valid = [f.name for f in dataclasses.fields(ModelSpec)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"model spec: unknown key(s) {unknown}; valid: {', '.join(valid)}")
    for key in ("name", "conv"):
        if key not in data:
            raise ConfigError(f"model spec: missing key {key!r}")
    block_keys = [f.name for f in dataclasses.fields(ConvBlockSpec)]
    blocks = []
    for i, raw in enumerate(data["conv"]):
        if not isinstance(raw, dict):
            raise ConfigError(f"model spec: conv[{i}]: expected a mapping")
        bad = sorted(set(raw) - set(block_keys))
        if bad:
            raise ConfigError(f"conv[{i}]: unknown key(s) {bad}; valid: {', '.join(block_keys)}")
        try:
            blocks.append(ConvBlockSpec(**raw))
        except TypeError as exc:
            raise ConfigError(f"conv[{i}]: {exc}") from None
    kwargs = {k: v for k, v in data.items() if k != "conv"}
    spec = ModelSpec(conv=blocks, **kwargs)
    spec.validate()
    return spec


def with_activations(spec: ModelSpec, activations: dict[int, str]) -> ModelSpec:
    """``spec`` with the activation of conv layer ``k`` (1-based) set to ``activations[k]``.

    Raises
    ------
    ConfigError
        A layer beyond the spec's conv layers, or an unknown activation name.
    """
    if not activations:
        return spec
    conv = list(spec.conv)
    for layer, name in activations.items():
        if not 1 <= int(layer) <= len(conv):
            raise ConfigError(f"activation for layer {layer}: {spec.name} has conv layers "
                              f"1..{len(conv)}")
        conv[int(layer) - 1] = dataclasses.replace(conv[int(layer) - 1], activation=str(name))
    new = spec.replace(conv=conv)
    new.validate()
    return new


def parse_activations(items: Sequence[str]) -> dict[int, str]:
    """``["exponential"]`` or ``["1=exponential", "2=relu"]`` -> ``{layer: name}`` (a bare name
    means layer 1), as given to ``--activation``.

    Raises
    ------
    ConfigError
        A malformed item or an unknown activation (the valid names are listed).
    """
    out: dict[int, str] = {}
    for item in items:
        layer_text, sep, name = str(item).rpartition("=")
        layer = 1
        if sep:
            if not layer_text.isdigit() or int(layer_text) < 1:
                raise ConfigError(f"--activation {item!r}: expected NAME or LAYER=NAME with a "
                                  "conv layer number >= 1 (e.g. 1=exponential)")
            layer = int(layer_text)
        if name not in ACTIVATION_NAMES:
            raise ConfigError(f"--activation {item!r}: unknown activation {name!r}; valid: "
                              f"{', '.join(ACTIVATION_NAMES)}")
        out[layer] = name
    return out


_BLOCK_RE = re.compile(r"^(\d+)x(\d+)(?:p(\d+)(?:s(\d+))?)?$")
_SPEC_RE = re.compile(r"^\d+x\d+(p\d+(s\d+)?)?(-\d+x\d+(p\d+(s\d+)?)?)*(-d\d+)?$")
_SPEC_BLOCK_RE = re.compile(r"\d+x\d+")


def looks_like_spec_string(text: str) -> bool:
    """Whether ``text`` is a spec string or looks like one (has a ``FILTERSxWIDTH`` block)."""
    return bool(_SPEC_RE.match(str(text).strip()) or _SPEC_BLOCK_RE.search(str(text)))


def parse_spec(text: str, input_length: int = 200, n_outputs: int = 12,
               name: str | None = None) -> ModelSpec:
    """Parse a compact architecture string.

    Grammar: blocks ``FILTERSxWIDTH[pPOOL[sSTRIDE]]`` joined by ``-``, optionally ending in
    ``-dUNITS`` for the dense layer (default 512, ``d0`` for none). Example: CNN-50-2 is
    ``"30x19p50s2-64x5p50-d96"``; CNN-25 is ``"30x19p25-128x5p4"``.

    Raises
    ------
    ConfigError
        If a part does not follow the grammar (the part is named).
    """
    parts = str(text).strip().split("-")
    dense = 512
    if parts and parts[-1].startswith("d") and parts[-1][1:].isdigit():
        dense = int(parts.pop()[1:])
    blocks = []
    for part in parts:
        match = _BLOCK_RE.match(part)
        if not match:
            raise ConfigError(
                f"model spec string {text!r}: cannot parse {part!r}; expected "
                "FILTERSxWIDTH[pPOOL[sSTRIDE]] blocks joined by '-', then optional -dUNITS"
            )
        filters, width, pool, stride = match.groups()
        blocks.append(ConvBlockSpec(int(filters), int(width), int(pool or 1),
                                    int(stride) if stride else None))
    spec = ModelSpec(name=name or str(text).strip(), conv=blocks, dense=dense,
                     input_length=input_length, n_outputs=n_outputs)
    spec.validate()
    return spec


def spec_receptive_field_size(spec: ModelSpec, layer: int) -> int:
    """Width (in input positions) of the receptive field of one unit of a conv block, from the
    spec alone, before that block's pooling.

    Not to be confused with :func:`motiflens.interpret.tracing.model_receptive_field`, which
    traces a built network, counts layers from 1 and also returns the jump and start.

    Parameters
    ----------
    spec : ModelSpec
    layer : int
        **0-based** index into ``spec.conv`` (0 = the first conv block, the paper's "layer 1").

    Returns
    -------
    int
        The receptive field size, by the usual recursion: ``r += (w - 1) * j`` for each conv,
        then ``r += (pool - 1) * j`` and ``j *= stride`` for each earlier block's pool.

    Raises
    ------
    ConfigError
        ``layer`` outside ``0 .. len(spec.conv) - 1``.
    """
    if not 0 <= layer < len(spec.conv):
        raise ConfigError(f"layer {layer}: model {spec.name!r} has {len(spec.conv)} conv layers")
    rf, jump = 1, 1
    for i, block in enumerate(spec.conv):
        rf += (block.width - 1) * jump
        if i == layer:
            return rf
        rf += (block.pool_size - 1) * jump
        jump *= block.stride
    raise AssertionError("unreachable")  # pragma: no cover
