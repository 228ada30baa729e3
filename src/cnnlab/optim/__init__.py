"""Optimizers (SGD, Adam, AdamW, RMSprop, Adadelta, Adagrad, NAdam), learning-rate schedules: ``torch.optim``.
May import functional, tensor, autograd, backend, validation; not nn, data, models or above.
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "NAdam",
           "lr_scheduler"]
