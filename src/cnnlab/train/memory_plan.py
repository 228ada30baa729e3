"""What a training will hold in memory at once, compared with what is available before it starts.

A batch of images is the least a step needs (the activations of the forward pass come on top), so
a batch that alone cannot fit is refused up front with the numbers, instead of failing deep inside
the first convolution: ``--resize 100000`` asks for terabytes.
"""

import numpy as np

from .. import backend
from ..resources import check_fits_in_memory

EVAL_BATCH = 500  # the validation and test loaders' batch size


def check_batches_fit(image_shape, resize, batch_size, n_train, n_eval):
    """Refuse (ValueError naming both numbers) when one training batch of ``batch_size`` images or
    one evaluation batch cannot fit in the memory available now.

    ``image_shape`` is the dataset's (C, H, W); ``resize`` (a side) replaces H and W when given.
    """
    c, h, w = image_shape
    if resize:
        h = w = resize
    dtype = np.dtype(backend.get_default_dtype())
    image = int(c) * int(h) * int(w) * dtype.itemsize
    knobs = [f"--resize (now {resize})"] if resize else []
    for what, count, knob in (("one batch", min(batch_size, n_train),
                               f"--batch-size (now {batch_size})"),
                              ("one evaluation batch", min(EVAL_BATCH, n_eval), None)):
        if count < 1:
            continue
        hint = " or ".join(knobs + ([knob] if knob else [])) or "smaller images"
        check_fits_in_memory("train", count * image,
                             f"{what} of {count:,} images of {c}x{h}x{w} {dtype.name}",
                             f"use a smaller {hint}")
