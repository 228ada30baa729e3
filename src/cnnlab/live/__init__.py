"""The live view of a running training: ``feed`` (a Trainer callback) and ``server`` (the local page).
Below ``train`` and ``cli``, which both import it; may import nn, autograd, tensor and backend only.
"""

from .feed import LiveFeed
from .server import DEFAULT_PORT, LiveServer, start_live

__all__ = ["LiveFeed", "LiveServer", "start_live", "DEFAULT_PORT"]
