"""``torch.utils.data.distributed``: ``DistributedSampler`` is cnnlab.distributed's."""

from ...distributed import DistributedSampler

__all__ = ["DistributedSampler"]
