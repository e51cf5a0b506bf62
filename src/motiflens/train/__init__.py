"""Training with early stopping, resumable run directories, evaluation and prediction.

The package, by concern (every public name is re-exported here)::

    config.py      TrainConfig (scientific protocol + runtime settings), the two protocols,
                   resolve_device / resolve_precision
    batches.py     dataset checks against a spec, device-resident splits, shuffled mini-batches
    evaluation.py  predict_logits / predict / evaluate
    optim.py       what both trainers share per step: seeds, RNG/thread state, autocast, Adam,
                   the L2 gradient
    rundir.py      the run directory, its one owner: config.json, history.tsv, checkpoint.pt,
                   last.pt, metrics.json, early-stopping progress, resume checks, load_run
    loop.py        train: one model
    stacked.py     VectorizedCNN: k trials of one spec as one model
    vectorized.py  train_trials: k trials (seeds) trained together, one run directory each

Both trainers write the same run directory through ``rundir.RunDir`` (see its module for the
layout); a run started by one can be resumed by the other.
"""

from motiflens.train.batches import (DEVICE_CACHE_BYTES, Batches, check_compatible,
                                     device_tensor, resolve_spec)
from motiflens.train.config import (PRECISIONS, PROTOCOL_FIELDS, PROTOCOLS, RUNTIME_FIELDS,
                                    TrainConfig, resolve_device, resolve_precision)
from motiflens.train.evaluation import evaluate, predict, predict_logits
from motiflens.train.loop import train, train_epoch
from motiflens.train.optim import (add_l2_grad, autocast, derive_seeds, make_optimizer,
                                   penalised_weights, torch_state)
from motiflens.train.rundir import (HISTORY_COLUMNS, RUN_FILES, RunDir, load_checkpoint,
                                    load_resume_state, load_run, unfinished_reason)
from motiflens.train.run_data import check_run_dataset, check_same_dataset, run_dataset
from motiflens.train.stacked import VectorizedCNN, stack_states
from motiflens.train.vectorized import train_group_epoch, train_trials

__all__ = [
    "PROTOCOLS",
    "TrainConfig",
    "train",
    "evaluate",
    "predict",
    "predict_logits",
    "load_run",
    "run_dataset",
    "check_run_dataset",
    "check_same_dataset",
    "load_checkpoint",
    "resolve_device",
    "HISTORY_COLUMNS",
    "PRECISIONS",
    "PROTOCOL_FIELDS",
    "RUNTIME_FIELDS",
    "RUN_FILES",
    "RunDir",
    "unfinished_reason",
    "load_resume_state",
    "resolve_precision",
    "resolve_spec",
    "check_compatible",
    "DEVICE_CACHE_BYTES",
    "Batches",
    "device_tensor",
    "autocast",
    "make_optimizer",
    "add_l2_grad",
    "penalised_weights",
    "derive_seeds",
    "torch_state",
    "train_epoch",
    "train_trials",
    "train_group_epoch",
    "VectorizedCNN",
    "stack_states",
]
