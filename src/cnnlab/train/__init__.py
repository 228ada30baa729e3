"""Training: the recipe (``train_job``), the fit loop (``Trainer``, ``fit``), callbacks and interrupts.

Reads and writes runs through ``cnnlab.runs`` (checkpoints, the run lock, evaluation); imports
``runs``, ``distributed``, ``live`` and the parts below them. ``inspect`` never imports it.
"""

from .trainer import EarlyStopping, History, Trainer, fit

__all__ = ["Trainer", "fit", "History", "EarlyStopping"]
