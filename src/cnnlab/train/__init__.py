"""Training, evaluation, checkpoints and metrics: the recipe and the fit loop behind ``cnnlab train``.
May import interop, distributed, runs, models, nn, optim, data and below; never inspect or cli.
"""

from . import metrics
from .checkpoint import load_checkpoint, save_checkpoint
from ..runs.evaluation import evaluate
from .trainer import EarlyStopping, History, Trainer, fit

__all__ = ["Trainer", "fit", "evaluate", "History", "EarlyStopping", "save_checkpoint", "load_checkpoint",
           "metrics"]
