"""Training: the recipe (``train_job``), the fit loop (``Trainer``, ``fit``), callbacks and interrupts.
May import runs, live, distributed and the parts below them (runs/ holds checkpoints and evaluation).
"""

from .trainer import EarlyStopping, History, Trainer, fit

__all__ = ["Trainer", "fit", "History", "EarlyStopping"]
