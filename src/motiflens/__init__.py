"""motiflens: which sequence motifs has my convolutional network learned?

Implements Koo & Eddy (2019, PLoS Comput Biol 15(12): e1007560) end to end: the synthetic
benchmark, the paper's architectures and training protocol, filter interpretation with an
in-process Tomtom, the paper's experiments as reproducible sweeps, and the analyses that came
after it (attribution maps, filter importance, motif completeness).

The user's path in one namespace (names are imported on first use, so ``import motiflens``
stays cheap)::

    import motiflens as ml

    ml.simulate_to_hdf5(ml.SimulationConfig(), "synthetic.h5")        # simulate
    data = ml.load_dataset("synthetic.h5")                              # load a dataset
    spec = ml.model_spec("CNN-25")                                      # a model by name
    ml.train(spec, data, ml.TrainConfig.for_protocol("code"), "runs/cnn25")
    fm = ml.filters_to_motifs(model, X_test, layer=1)                   # any PyTorch model
    hits = ml.run_tomtom(fm.alive_motifs(), ml.jaspar_database()).hits
    ml.run_experiment("table1-authors-code", "results/table1", trials=5)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

from motiflens.errors import ConfigError, DatasetError, FormatError, MotiflensError  # noqa: E402

#: Public name -> module that defines it (imported lazily by ``__getattr__``).
_PUBLIC = {
    # simulate
    "SimulationConfig": "motiflens.simulate", "simulate": "motiflens.simulate",
    "simulate_to_hdf5": "motiflens.simulate",
    # data
    "load_dataset": "motiflens.data.dataset", "write_dataset": "motiflens.data.dataset",
    "build_example": "motiflens.data.example",
    # motifs and databases
    "Motif": "motiflens.motifs", "read_meme": "motiflens.motifs", "write_meme": "motiflens.motifs",
    "jaspar_database": "motiflens.jaspar", "ground_truth_motifs": "motiflens.jaspar",
    "ground_truth_ids": "motiflens.jaspar",
    # models
    "model_spec": "motiflens.models", "build_model": "motiflens.models",
    "with_activations": "motiflens.models", "MODEL_NAMES": "motiflens.models",
    # train
    "TrainConfig": "motiflens.train", "train": "motiflens.train", "load_run": "motiflens.train",
    "evaluate": "motiflens.train",
    # interpret
    "filters_to_motifs": "motiflens.interpret.filters",
    "run_tomtom": "motiflens.interpret.tomtom",
    "score_filters": "motiflens.interpret.scoring", "summarize": "motiflens.interpret.scoring",
    "interpret_run": "motiflens.interpret.pipeline",
    "attribute": "motiflens.interpret.attribution",
    "interpretability_scores": "motiflens.interpret.interpretability",
    "filter_importance": "motiflens.interpret.importance",
    "model_completeness": "motiflens.interpret.completeness",
    "null_match_rates": "motiflens.interpret.nulls",
    # experiments and reports
    "run_experiment": "motiflens.experiments.sweep",
    "load_experiment": "motiflens.experiments.registry",
    "reinterpret_sweep": "motiflens.experiments.reinterpret",
    "export_records": "motiflens.experiments.records",
    "write_report": "motiflens.report.html",
}

__all__ = ["ConfigError", "DatasetError", "FormatError", "MotiflensError", "__version__",
           *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'motiflens' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
