"""``cnnlab.utils``: PyTorch's ``torch.utils`` names (``cnnlab.utils.data``).
May import distributed, models, nn, optim, data and below; not train, inspect or cli.
"""

from . import data

__all__ = ["data"]
