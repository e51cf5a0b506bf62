"""The vectorised multi-trial trainer, now :mod:`motiflens.train.vectorized` (the trainer) and
:mod:`motiflens.train.stacked` (the model); this module keeps ``motiflens.vectorized`` imports
working."""

from motiflens.train.stacked import VectorizedCNN, stack_states
from motiflens.train.vectorized import train_group_epoch, train_trials

__all__ = ["VectorizedCNN", "train_trials", "stack_states", "train_group_epoch"]
