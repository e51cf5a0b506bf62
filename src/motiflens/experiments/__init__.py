"""The paper's experiments as data, run as resumable multi-trial sweeps (locally or on Ray).

``run_experiment("table1", "results/", trials=5)`` trains and interprets every model of the
experiment ``trials`` times and writes ``results/summary/``; ``motiflens.report.html.write_report``
turns the directory into one self-contained HTML report. See ``sweep`` for the directory layout.
"""

from motiflens.experiments.registry import (
    DatasetSpec,
    Experiment,
    InterpretSpec,
    ModelEntry,
    experiment_from_dict,
    experiment_path,
    list_experiments,
    load_experiment,
    load_paper_numbers,
)
from motiflens.experiments.sweep import TrialTask, run_experiment, run_trial, trial_seed

__all__ = [
    "DatasetSpec",
    "Experiment",
    "InterpretSpec",
    "ModelEntry",
    "TrialTask",
    "experiment_from_dict",
    "experiment_path",
    "list_experiments",
    "load_experiment",
    "load_paper_numbers",
    "run_experiment",
    "run_trial",
    "trial_seed",
]
