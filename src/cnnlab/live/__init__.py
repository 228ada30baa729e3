"""The live view of a running training: ``feed`` (a Trainer callback publishing snapshots) and
``server`` (the local web page that shows them); ``cnnlab train --live`` joins the two.

Below ``train`` and ``cli``, which both import it; imports nn, autograd, tensor and backend only.
"""

from .feed import LiveFeed
from .server import DEFAULT_PORT, LiveServer, start_live

__all__ = ["LiveFeed", "LiveServer", "start_live", "DEFAULT_PORT"]
