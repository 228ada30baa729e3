"""Training, evaluation, checkpoints and metrics."""

from . import metrics
from .checkpoint import load_checkpoint, save_checkpoint
from ..runs.evaluation import evaluate
from .trainer import EarlyStopping, History, Trainer, fit

__all__ = ["Trainer", "fit", "evaluate", "History", "EarlyStopping", "save_checkpoint", "load_checkpoint",
           "metrics"]
