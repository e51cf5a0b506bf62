"""The paper's architectures by name (Koo & Eddy 2019, docs/PAPER.md §2): :data:`MODEL_NAMES`,
:data:`MODEL_DESCRIPTIONS` and :func:`model_spec`, which also takes a spec string.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from motiflens.errors import ConfigError
from motiflens.models.specs import ConvBlockSpec, ModelSpec, looks_like_spec_string, parse_spec

__all__ = ["MODEL_DESCRIPTIONS", "MODEL_NAMES", "model_spec"]


def _two_layer(name: str, width1: int, pool1: int, pool2: int, *, filters1: int = 30,
               filters2: int = 128, width2: int = 5, stride1: int | None = None,
               dense: int = 512) -> dict[str, Any]:
    return {
        "name": name,
        "conv": [ConvBlockSpec(filters1, width1, pool1, stride1),
                 ConvBlockSpec(filters2, width2, pool2)],
        "dense": dense,
    }


def _paper_table() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for pool1 in (1, 2, 4, 10, 25, 50, 100):
        table[f"CNN-{pool1}"] = _two_layer(f"CNN-{pool1}", 19, pool1, 100 // pool1)
    for width, pools in ((9, (4, 25)), (3, (2, 50))):
        for pool1 in pools:
            name = f"CNN{width}-{pool1}"
            table[name] = _two_layer(name, width, pool1, 100 // pool1)
    table["CNN-50-2"] = _two_layer("CNN-50-2", 19, 50, 50, stride1=2, filters2=64, dense=96)
    table["CNN19-1-2"] = _two_layer("CNN19-1-2", 19, 2, 50, width2=1)
    table["CNN-1-1-100"] = {
        "name": "CNN-1-1-100",
        "conv": [ConvBlockSpec(30, 19, 1), ConvBlockSpec(128, 5, 1), ConvBlockSpec(128, 5, 100)],
        "dense": 512,
    }
    for filters in (60, 90, 120):
        name = f"CNN-25-{filters}"
        table[name] = _two_layer(name, 19, 25, 4, filters1=filters)
    return table


_PAPER = _paper_table()

#: Names accepted by ``model_spec`` (case-insensitive), in the order of docs/PAPER.md §2.
MODEL_NAMES: list[str] = list(_PAPER)

#: One-line description per name, for ``motiflens models``.
MODEL_DESCRIPTIONS: dict[str, str] = {
    **{f"CNN-{p}": f"conv 30x19, pool {p}; conv 128x5, pool {100 // p}; dense 512"
       for p in (1, 2, 4, 10, 25, 50, 100)},
    "CNN9-4": "conv 30x9, pool 4; conv 128x5, pool 25; dense 512",
    "CNN9-25": "conv 30x9, pool 25; conv 128x5, pool 4; dense 512",
    "CNN3-2": "conv 30x3, pool 2; conv 128x5, pool 50; dense 512",
    "CNN3-50": "conv 30x3, pool 50; conv 128x5, pool 2; dense 512",
    "CNN-50-2": "conv 30x19, pool 50 stride 2; conv 64x5, pool 50; dense 96",
    "CNN19-1-2": "conv 30x19, pool 2; conv 128x1, pool 50; dense 512",
    "CNN-1-1-100": "conv 30x19, pool 1; conv 128x5, pool 1; conv 128x5, pool 100; dense 512",
    "CNN-25-60": "CNN-25 with 60 first-layer filters",
    "CNN-25-90": "CNN-25 with 90 first-layer filters",
    "CNN-25-120": "CNN-25 with 120 first-layer filters",
}


def model_spec(name: str, input_length: int = 200, n_outputs: int = 12, **overrides: Any
               ) -> ModelSpec:
    """The spec of a paper architecture by name.

    Pool sizes are the paper's at every input length (at 1000 nt the dense layer then sees
    ``128 * 10`` inputs, which reproduces the paper's 1000-nt parameter counts).

    Parameters
    ----------
    name : str
        One of ``MODEL_NAMES`` (case-insensitive), e.g. ``"CNN-25"``; a spec string accepted by
        ``parse_spec`` also works.
    input_length : int
        Sequence length L.
    n_outputs : int
        Number of classes.
    **overrides
        Other ``ModelSpec`` fields (``init``, ``bn_eps``, ``dense_dropout``, ...).

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid names) or bad override.
    """
    lookup = {n.lower(): n for n in MODEL_NAMES}
    key = str(name).strip().lower()
    if key in lookup:
        base = _PAPER[lookup[key]]
        conv = [dataclasses.replace(b) for b in base["conv"]]
        fields = {"name": base["name"], "conv": conv, "dense": base["dense"]}
    elif looks_like_spec_string(name):
        # A spec string, or something that looks like one (a FILTERSxWIDTH block): parse_spec
        # names the part that does not parse.
        try:
            parsed = parse_spec(name, input_length=input_length, n_outputs=n_outputs)
        except ConfigError as exc:
            text = str(exc) if repr(str(name).strip()) in str(exc) else (
                f"model spec string {str(name).strip()!r}: {exc}")
            raise ConfigError(f"{text} (--model; `motiflens models` lists the named "
                              "architectures)") from None
        fields = {"name": parsed.name, "conv": parsed.conv, "dense": parsed.dense}
    else:
        raise ConfigError(
            f"unknown model name {name!r} (--model); valid names: {', '.join(MODEL_NAMES)} "
            "(or a spec string such as '30x19p25-128x5p4-d512')"
        )
    valid = {f.name for f in dataclasses.fields(ModelSpec)} - {"name", "conv"}
    bad = sorted(set(overrides) - valid)
    if bad:
        raise ConfigError(f"model override(s) {bad} unknown; valid: {', '.join(sorted(valid))}")
    spec = ModelSpec(input_length=input_length, n_outputs=n_outputs, **fields, **overrides)
    spec.validate()
    return spec
