"""``torch.utils.data.distributed``: ``DistributedSampler`` is ``cnnlab.distributed.DistributedSampler``."""

from ...distributed import DistributedSampler

__all__ = ["DistributedSampler"]
