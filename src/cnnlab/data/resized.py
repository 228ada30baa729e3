"""A dataset seen at another image size: every image resized to ``size`` x ``size`` as it is read.

Models whose convolutions and pools shrink small images to nothing (AlexNet needs at least 67
pixels) train on 28x28 MNIST through this wrapper (``cnnlab train --resize 67``). Images are resized
batch by batch, so the enlarged dataset is never held in memory.
"""

from ..validation import int_arg
from .dataset import Dataset
from .transforms import Resize


class ResizedDataset(Dataset):
    """The samples of ``dataset``, each image resized to ``size`` x ``size`` (bilinear, antialias).

    Bilinear weights sum to one, so resizing commutes with per-channel standardisation: it does not
    matter whether ``dataset`` standardises first.

    Args:
        dataset: a dataset of ``(image (C, H, W), label)`` samples.
        size: the side of the resized square images, a positive int.

    Shape:
        samples (C, H, W) -> (C, size, size); ``get_batch`` (B, C, H, W) -> (B, C, size, size).
    """

    def __init__(self, dataset, size):
        self.dataset = dataset
        self.size = int_arg("ResizedDataset", "size", size, 1)
        self.resize = Resize((self.size, self.size))

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        image, label = self.dataset[index]
        return self.resize(image), label

    @property
    def batchable(self):
        return bool(getattr(self.dataset, "batchable", False))

    def get_batch(self, indices):
        images, *rest = self.dataset.get_batch(indices)
        return [self.resize(images)] + list(rest)

    @property
    def classes(self):
        return self.dataset.classes

    @property
    def image_shape(self):
        """(C, size, size) of one sample."""
        inner = self.dataset
        while not hasattr(inner, "image_shape") and hasattr(inner, "dataset"):  # through Subsets
            inner = inner.dataset
        channels = inner.image_shape[0] if hasattr(inner, "image_shape") else self[0][0].shape[0]
        return (channels, self.size, self.size)
