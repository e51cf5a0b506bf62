"""Which rows of a sweep may be judged against the paper's numbers.

The paper's numbers (``paper_numbers.yaml``) are keyed by the paper's model names (``CNN-25``,
``CNN-2-exp``, ...). A sweep's row is compared with them by its id; an experiment file of a
user's own may give a row such an id but another architecture (``{id: CNN-25, model:
6x19p2-6x5p50-d16}``), and judging that row by the paper's CNN-25 would mislead. A row is
compared only when its architecture is the one the paper's name stands for: the built-in
experiments' row of that id with the same ``paper_numbers`` key, else the paper's model of
that name. Rows of another architecture are left out of the comparison, and named.
"""

from __future__ import annotations

import functools
from typing import Any

from motiflens.errors import ConfigError
from motiflens.experiments.registry import (
    Experiment,
    ModelEntry,
    list_experiments,
    load_experiment,
    load_paper_numbers,
)

#: Sequence length and outputs every architecture is compared at (they follow the data).
_LENGTH, _OUTPUTS = 200, 12


def _architecture(entry: ModelEntry) -> str | None:
    """A row's layers as one comparable text (name, length and outputs left out)."""
    from motiflens.experiments.trials import build_spec

    try:
        spec = build_spec(entry, _LENGTH, _OUTPUTS).to_dict()
    except ConfigError:
        return None
    return repr({k: v for k, v in sorted(spec.items()) if k != "name"})


@functools.lru_cache(maxsize=8)
def _reference_architectures(key: str) -> dict[str, frozenset[str]]:
    """Paper model id -> the architectures the built-in experiments with ``key`` give it."""
    found: dict[str, set[str]] = {}
    for name in list_experiments():
        experiment = load_experiment(name)
        if experiment.paper_numbers != key:
            continue
        for entry in experiment.models:
            architecture = _architecture(entry)
            if architecture is not None:
                found.setdefault(entry.id, set()).add(architecture)
    return {model_id: frozenset(archs) for model_id, archs in found.items()}


def _reference(model_id: str, key: str) -> frozenset[str]:
    known = _reference_architectures(key).get(model_id)
    if known:
        return known
    own = _architecture(ModelEntry(model=model_id, id=model_id))  # a paper model's name
    return frozenset({own}) if own is not None else frozenset()


def unlike_the_paper(experiment: Experiment) -> dict[str, str]:
    """Rows whose id has paper numbers but whose architecture is not the paper's model.

    Returns
    -------
    dict
        row id -> why, e.g. ``"model 6x19p2-6x5p50-d16: not the paper's CNN-25"``.
    """
    if not experiment.paper_numbers:
        return {}
    return _unlike(experiment, load_paper_numbers(experiment.paper_numbers))


def _unlike(experiment: Experiment, paper: dict[str, Any]) -> dict[str, str]:
    named = set(paper["rows"]) | {m for claim in paper["claims"] for m in claim["models"]}
    named |= {m for finding in paper["findings"] for m in _finding_models(finding)}
    unlike = {}
    for entry in experiment.models:
        if entry.id not in named:
            continue
        reference = _reference(entry.id, experiment.paper_numbers)
        if reference and _architecture(entry) not in reference:
            changes = [f"model {entry.model}"] + [
                f"{what} {value}" for what, value in (("filters", entry.filters),
                                                     ("activations", entry.activations)) if value]
            unlike[entry.id] = f"{', '.join(changes)}: not the paper's {entry.id}"
    return unlike


def _finding_models(finding: dict[str, Any]) -> list[str]:
    refs = list(finding.get("models") or [])
    if "above" in finding:
        refs.append(finding["above"]["model"])
        refs += [b["model"] for b in finding.get("below") or []]
    return refs


def paper_numbers_for(experiment: Experiment) -> dict[str, Any]:
    """The paper's numbers to judge ``experiment``'s sweep by.

    ``load_paper_numbers`` without the rows of :func:`unlike_the_paper` (their numbers, their
    places in group claims, the findings that name them); those rows under ``"unlike"``.
    """
    paper = load_paper_numbers(experiment.paper_numbers)
    unlike = _unlike(experiment, paper) if experiment.paper_numbers else {}
    paper["unlike"] = unlike
    if not unlike:
        return paper
    paper["rows"] = {m: layers for m, layers in paper["rows"].items() if m not in unlike}
    claims = []
    for claim in paper["claims"]:
        models = [m for m in claim["models"] if m not in unlike]
        if models:
            claims.append({**claim, "models": models})
    paper["claims"] = claims
    paper["findings"] = [f for f in paper["findings"]
                         if not set(_finding_models(f)) & set(unlike)]
    return paper


def unlike_note(paper: dict[str, Any]) -> str:
    """A sentence naming the rows left out of the comparison; ``""`` when none."""
    unlike = paper.get("unlike") or {}
    if not unlike:
        return ""
    return ("Not compared with the paper (another architecture under a paper model's name): "
            + "; ".join(f"{model_id} ({why})" for model_id, why in unlike.items()) + ".")
