"""Fidelity as named settings: the paper's text or the authors' code, axis by axis.

The table lives in ``resources/fidelity.yaml`` (one place); :func:`apply_fidelity` fills an
experiment definition's unset keys from one end of every axis, so ``fidelity: code`` means "as
the authors' code ran it" and ``fidelity: text`` "as the text says", while any key written
explicitly in the experiment file wins (mixes stay expressible and visible).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from motiflens.errors import ConfigError

FIDELITIES = ("text", "code")


@dataclass(frozen=True)
class Axis:
    """One axis: the experiment key it sets, and its value and source at each end."""

    name: str
    key: str
    text: Any
    code: Any
    text_source: str
    code_source: str

    def value(self, fidelity: str) -> Any:
        """The value of this axis at end ``fidelity`` (``text`` or ``code``)."""
        return self.text if fidelity == "text" else self.code


@lru_cache(maxsize=1)
def fidelity_axes() -> tuple[Axis, ...]:
    """Every axis of ``resources/fidelity.yaml``, in file order."""
    import yaml

    path = resources.files("motiflens") / "resources" / "fidelity.yaml"
    data = yaml.safe_load(path.read_text())
    return tuple(
        Axis(name=name, key=entry["key"], text=entry["text"]["value"], code=entry["code"]["value"],
             text_source=entry["text"]["source"], code_source=entry["code"]["source"])
        for name, entry in data["axes"].items()
    )


def _get(data: dict, dotted: str) -> tuple[bool, Any]:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set(data: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def apply_fidelity(definition: dict[str, Any], source: str = "<dict>") -> dict[str, Any]:
    """A copy of an experiment definition with unset axis keys filled from its ``fidelity``.

    Axes whose key lies under ``dataset.simulation`` apply to synthetic datasets only; an
    experiment with ``interpret: null`` keeps it.

    Raises
    ------
    ConfigError
        ``fidelity`` is not ``text`` or ``code``.
    """
    fidelity = definition.get("fidelity")
    if fidelity is None:
        return definition
    if fidelity not in FIDELITIES:
        raise ConfigError(f"{source}: fidelity: expected one of {', '.join(FIDELITIES)} (or leave "
                          f"it out), got {fidelity!r}")
    out = copy.deepcopy(definition)
    synthetic = (out.get("dataset") or {}).get("kind", "synthetic") == "synthetic"
    for axis in fidelity_axes():
        if axis.key.startswith("dataset.simulation.") and not synthetic:
            continue
        if axis.key.startswith("interpret.") and "interpret" in out and out["interpret"] is None:
            continue
        present, _ = _get(out, axis.key)
        if not present:
            _set(out, axis.key, axis.value(fidelity))
    return out


def fidelity_of(definition: dict[str, Any]) -> dict[str, str]:
    """For each axis, which end an experiment's settings are at: ``text``, ``code``,
    ``both`` (the ends agree) or ``other``."""
    labels = {}
    for axis in fidelity_axes():
        present, value = _get(definition, axis.key)
        if not present:
            labels[axis.name] = "default"
        elif value == axis.text and value == axis.code:
            labels[axis.name] = "both"
        elif value == axis.text:
            labels[axis.name] = "text"
        elif value == axis.code:
            labels[axis.name] = "code"
        else:
            labels[axis.name] = "other"
    return labels
