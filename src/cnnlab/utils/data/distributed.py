"""``torch.utils.data.distributed``: ``DistributedSampler``, cnnlab's (``cnnlab.distributed``)."""

from ...distributed import DistributedSampler

__all__ = ["DistributedSampler"]
