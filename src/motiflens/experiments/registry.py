"""Experiments declared as data: architectures x trials x dataset x protocol.

The paper's experiments (``table1``, ``deeper-layers``, ``table2``) are YAML files under
``motiflens/resources/experiments/``; a user copies one, edits it and passes the file's path
wherever a name is accepted. The YAML keys mirror the dataclasses below:

.. code-block:: yaml

    name: my-experiment
    description: free text
    dataset: {kind: synthetic, simulation: {n_sequences: 5000}}   # or {kind: file, path: x.h5}
    protocol: paper                  # TrainConfig.for_protocol(protocol, **train)
    train: {patience: 20}
    interpret: {mode: paper, db: JASPAR2016, gt_list: paper}   # or null: train only
    paper_numbers: table1            # optional key into paper_numbers.yaml
    models:
      - {model: CNN-25}
      - {id: CNN-25-f60, label: "CNN-25, 60 filters", model: CNN-25, filters: {1: 60}}
      - {model: CNN-1, layers: [1, 2]}
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from motiflens.errors import ConfigError, FormatError

#: Files under ``resources/experiments`` that are not experiments.
_NOT_EXPERIMENTS = {"paper_numbers"}
#: Earlier names of built-in experiments, still accepted.
LEGACY_NAMES = {"table1": "table1-paper-text", "deeper-layers": "deeper-layers-paper-text",
                "table1-code": "table1-code-protocol"}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_DATASET_KINDS = ("synthetic", "file")


@dataclass
class ModelEntry:
    """One row of an experiment: an architecture, optional changes to it, the layers to read.

    Attributes
    ----------
    model : str
        A name accepted by ``motiflens.models.model_spec`` (e.g. ``"CNN-25"``).
    id : str
        Unique row name, used as directory name (``runs/<id>/trial-<k>``); defaults to ``model``.
    label : str
        Display name in tables; defaults to ``id``.
    filters : dict[int, int]
        ``{conv layer number (1-based): number of filters}`` overriding the architecture.
    layers : tuple[int, ...]
        Conv layers to interpret, 1-based.
    activations : dict[int, str]
        ``{conv layer number (1-based): activation name}`` overriding the architecture's
        (e.g. ``{1: exponential}``; names: ``motiflens.models.ACTIVATIONS``).
    seed_from : str
        Take the trial seeds of the row with this id (in any experiment with the same sweep
        seed) instead of this row's own: paired comparisons, e.g. an exponential-activation row
        trained from the same initial weights and batch order as its ReLU twin.
    """

    model: str
    id: str = ""
    label: str = ""
    filters: dict[int, int] = field(default_factory=dict)
    layers: tuple[int, ...] = (1,)
    activations: dict[int, str] = field(default_factory=dict)
    seed_from: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or self.model
        self.label = self.label or self.id
        self.filters = {int(k): int(v) for k, v in (self.filters or {}).items()}
        self.activations = {int(k): str(v) for k, v in (self.activations or {}).items()}
        self.layers = tuple(int(x) for x in self.layers)


@dataclass
class DatasetSpec:
    """Where an experiment's data comes from.

    Attributes
    ----------
    kind : {"synthetic", "file"}
        ``synthetic``: simulate once with ``SimulationConfig(**simulation)`` into
        ``<out>/data/synthetic.h5``; ``file``: an existing motiflens HDF5 dataset (``path``, or the
        ``data`` argument of :func:`motiflens.experiments.sweep.run_experiment`).
    simulation : dict
        ``SimulationConfig`` field overrides (synthetic only).
    path : str or None
        Dataset file (file only).
    """

    kind: str = "synthetic"
    simulation: dict[str, Any] = field(default_factory=dict)
    path: str | None = None


@dataclass
class InterpretSpec:
    """Arguments of ``motiflens.interpret.pipeline.interpret_run`` (layers come per model).

    ``trim`` and ``threshold`` are written only when they differ from the defaults (so that
    the recorded settings of earlier sweeps stay the same).
    """

    mode: str = "paper"
    db: str = "JASPAR2016"
    gt_list: str = "paper"
    trim: bool = True
    threshold: float | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """``interpret_run`` keyword arguments (defaults of trim/threshold left out)."""
        out: dict[str, Any] = {"mode": self.mode, "db": self.db, "gt_list": self.gt_list}
        if self.trim is not True:
            out["trim"] = bool(self.trim)
        if self.threshold is not None:
            out["threshold"] = float(self.threshold)
        return out


@dataclass
class Experiment:
    """A named experiment: models x dataset x training protocol x interpretation.

    Attributes
    ----------
    name : str
    description : str
    dataset : DatasetSpec
    protocol : str
        ``TrainConfig.for_protocol`` name (``paper`` or ``code``).
    train : dict
        ``TrainConfig`` overrides applied to every trial (seed and max_epochs are set by the sweep).
    interpret : InterpretSpec or None
        None trains and evaluates only.
    models : list[ModelEntry]
    paper_numbers : str or None
        Key into ``paper_numbers.yaml`` whose numbers are shown beside the results.
    findings : list[dict]
        Extra qualitative checks (same format as ``paper_numbers.yaml``'s ``findings``).
    source : str
        Where the definition was read from.
    """

    name: str
    models: list[ModelEntry]
    description: str = ""
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    protocol: str = "paper"
    train: dict[str, Any] = field(default_factory=dict)
    interpret: InterpretSpec | None = field(default_factory=InterpretSpec)
    paper_numbers: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    fidelity: str | None = None
    source: str = ""

    def model(self, model_id: str) -> ModelEntry:
        """The entry with id ``model_id`` (ConfigError if absent)."""
        for entry in self.models:
            if entry.id == model_id:
                return entry
        raise ConfigError(f"experiment {self.name!r}: no model with id {model_id!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (the YAML schema); ``experiment_from_dict`` inverts it."""
        data = dataclasses.asdict(self)
        data.pop("source")
        if data["interpret"] is not None:
            data["interpret"] = self.interpret.as_kwargs()
        if data["fidelity"] is None:
            data.pop("fidelity")
        for entry in data["models"]:
            entry["layers"] = list(entry["layers"])
            for optional in ("activations", "seed_from"):  # keeps earlier sweeps' definitions
                if not entry[optional]:
                    entry.pop(optional)
        return data


# ----------------------------------------------------------------------------- loading


def _experiments_dir() -> Path:
    return Path(str(resources.files("motiflens") / "resources" / "experiments"))


def list_experiments() -> list[str]:
    """Names of the built-in experiments (``table1``, ``table1-code``, ``deeper-layers``,
    ``table2``)."""
    names = [p.stem for p in sorted(_experiments_dir().glob("*.yaml"))]
    return [n for n in names if n not in _NOT_EXPERIMENTS]


def experiment_path(name: str) -> Path:
    """Path of the YAML file defining built-in experiment ``name`` (a file you can copy).

    Earlier names (:data:`LEGACY_NAMES`) lead to the experiment that replaced them.
    """
    name = LEGACY_NAMES.get(name, name)
    path = _experiments_dir() / f"{name}.yaml"
    if name in _NOT_EXPERIMENTS or not path.is_file():
        raise ConfigError(
            f"unknown experiment {name!r}: expected one of {', '.join(list_experiments())} "
            "or the path of a YAML file"
        )
    return path


def load_experiment(name_or_path: str | Path | Experiment) -> Experiment:
    """Load a built-in experiment by name, or one defined in a YAML file.

    Parameters
    ----------
    name_or_path : str, Path or Experiment
        ``"table1"`` etc., or a path ending in ``.yaml``/``.yml``; an Experiment is returned as is.

    Returns
    -------
    Experiment

    Raises
    ------
    ConfigError, FormatError
        Unknown name, unreadable YAML, or a definition that does not follow the schema.
    """
    if isinstance(name_or_path, Experiment):
        return name_or_path
    text = str(name_or_path)
    candidate = Path(text)
    if text.endswith((".yaml", ".yml")) or candidate.is_file():
        path = candidate
        if not path.is_file():
            raise FormatError(path, "experiment file not found")
    else:
        path = experiment_path(text)
    return experiment_from_dict(_read_yaml(path), source=str(path))


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise FormatError(path, f"invalid YAML: {getattr(exc, 'problem', exc)}", line=line) from None


def _check_keys(where: str, data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; expected some of "
            f"{', '.join(sorted(allowed))}"
        )


def _model_entry(data: Any, where: str) -> ModelEntry:
    if isinstance(data, str):
        data = {"model": data}
    if not isinstance(data, dict) or "model" not in data:
        raise ConfigError(f"{where}: expected a mapping with a 'model' key, got {data!r}")
    _check_keys(where, data, {f.name for f in dataclasses.fields(ModelEntry)})
    layers = data.get("layers", (1,))
    if isinstance(layers, int):
        layers = (layers,)
    if not layers or not all(isinstance(x, int) and x >= 1 for x in layers):
        raise ConfigError(f"{where}.layers: expected a list of conv layer numbers >= 1, got {layers!r}")
    filters = data.get("filters") or {}
    if not isinstance(filters, dict) or not all(
        int(k) >= 1 and isinstance(v, int) and v >= 1 for k, v in filters.items()
    ):
        raise ConfigError(f"{where}.filters: expected {{layer: n_filters}} with positive ints, got {filters!r}")
    activations = data.get("activations") or {}
    if not isinstance(activations, dict) or not all(
        str(k).isdigit() and int(k) >= 1 and isinstance(v, str) for k, v in activations.items()
    ):
        raise ConfigError(f"{where}.activations: expected {{layer: activation name}}, e.g. "
                          f"{{1: exponential}}, got {activations!r}")
    entry = ModelEntry(
        model=str(data["model"]), id=str(data.get("id") or ""), label=str(data.get("label") or ""),
        filters=filters, layers=tuple(layers), activations=activations,
        seed_from=str(data.get("seed_from") or ""),
    )
    if not _ID_RE.match(entry.id):
        raise ConfigError(
            f"{where}.id: {entry.id!r} is not a valid row id (letters, digits, '.', '_', '+', '-'; "
            "it names a directory)"
        )
    return entry


def experiment_from_dict(data: Any, source: str = "<dict>") -> Experiment:
    """Validate a plain-data experiment definition (as read from YAML) into an Experiment.

    Raises
    ------
    ConfigError
        Naming ``source`` and the offending key.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    from motiflens.experiments.fidelity import apply_fidelity

    data = copy.deepcopy(data)
    allowed = {f.name for f in dataclasses.fields(Experiment)} - {"source"}
    _check_keys(source, data, allowed)
    data = apply_fidelity(data, source)
    for key in ("name", "models"):
        if key not in data:
            raise ConfigError(f"{source}: missing required key {key!r}")
    models_raw = data["models"]
    if not isinstance(models_raw, list) or not models_raw:
        raise ConfigError(f"{source}: 'models' must be a non-empty list")
    models = [_model_entry(m, f"{source}: models[{i}]") for i, m in enumerate(models_raw)]
    ids = [m.id for m in models]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{source}: duplicate model id(s) {duplicates}; give each row a unique 'id'")

    ds_raw = data.get("dataset") or {}
    if not isinstance(ds_raw, dict):
        raise ConfigError(f"{source}: dataset: expected a mapping, got {ds_raw!r}")
    _check_keys(f"{source}: dataset", ds_raw, {f.name for f in dataclasses.fields(DatasetSpec)})
    dataset = DatasetSpec(
        kind=str(ds_raw.get("kind", "synthetic")),
        simulation=dict(ds_raw.get("simulation") or {}),
        path=ds_raw.get("path"),
    )
    if dataset.kind not in _DATASET_KINDS:
        raise ConfigError(f"{source}: dataset.kind: expected one of {_DATASET_KINDS}, got {dataset.kind!r}")

    interp_raw = data.get("interpret", {})
    interpret: InterpretSpec | None
    if interp_raw is None:
        interpret = None
    else:
        if not isinstance(interp_raw, dict):
            raise ConfigError(f"{source}: interpret: expected a mapping or null, got {interp_raw!r}")
        _check_keys(f"{source}: interpret", interp_raw, {f.name for f in dataclasses.fields(InterpretSpec)})
        interpret = _interpret_spec(interp_raw, source)

    train = data.get("train") or {}
    if not isinstance(train, dict):
        raise ConfigError(f"{source}: train: expected a mapping of TrainConfig fields, got {train!r}")
    for reserved in ("seed",):
        if reserved in train:
            raise ConfigError(f"{source}: train.{reserved}: set by the sweep (derived from the sweep seed)")
    findings = data.get("findings") or []
    if not isinstance(findings, list):
        raise ConfigError(f"{source}: findings: expected a list")
    return Experiment(
        name=str(data["name"]),
        description=str(data.get("description") or "").strip(),
        dataset=dataset,
        protocol=str(data.get("protocol", "paper")),
        train=dict(train),
        interpret=interpret,
        models=models,
        paper_numbers=data.get("paper_numbers"),
        findings=list(findings),
        fidelity=data.get("fidelity"),
        source=source,
    )


def _interpret_spec(raw: dict[str, Any], source: str) -> InterpretSpec:
    """Validate the ``interpret:`` block (strings, ``trim`` a boolean, ``threshold`` in (0, 1])."""
    values: dict[str, Any] = {k: str(v) for k, v in raw.items() if k in ("mode", "db", "gt_list")}
    if "trim" in raw:
        if not isinstance(raw["trim"], bool):
            raise ConfigError(f"{source}: interpret.trim: expected true or false, got {raw['trim']!r}")
        values["trim"] = raw["trim"]
    if raw.get("threshold") is not None:
        threshold = raw["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ConfigError(f"{source}: interpret.threshold: expected a fraction in (0, 1], got {threshold!r}")
        values["threshold"] = float(threshold)
    return InterpretSpec(**values)


def load_paper_numbers(key: str | None) -> dict[str, Any]:
    """The paper's reported numbers for one experiment (``paper_numbers.yaml``).

    Returns
    -------
    dict
        ``{"source": str, "rows": {model_id: {layer: {metric: [mean, sd?]}}}, "claims": [...],
        "findings": [...]}``; empty parts when ``key`` is None or absent.
    """
    empty: dict[str, Any] = {"source": "", "rows": {}, "claims": [], "findings": []}
    if not key:
        return empty
    path = _experiments_dir() / "paper_numbers.yaml"
    data = _read_yaml(path) or {}
    if key not in data:
        raise ConfigError(f"{path}: no entry {key!r} (paper_numbers); expected one of {sorted(data)}")
    entry = {**empty, **(data[key] or {})}
    entry["rows"] = {
        str(model): {int(layer): dict(values) for layer, values in (layers or {}).items()}
        for model, layers in (entry["rows"] or {}).items()
    }
    return entry
