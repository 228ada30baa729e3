"""Segmentation results for people: masks as colour pictures, and the per-class IoU table.

``cnnlab predict CKPT scene.png --out mask.png`` and ``cnnlab evaluate CKPT`` of a segmentation model
(``unet``, ``fcn``) go through here.
"""

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .images import side_by_side, to_rgb, write_png

# Black background, then ten well-separated colours (matplotlib's tab10), one per digit class.
PALETTE = np.array([[0, 0, 0], [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                    [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34],
                    [23, 190, 207]], np.float32) / 255


def mask_picture(mask, image=None):
    """A class mask (H, W) as a colour picture (H, W, 3); with ``image``, the image beside it.

    Classes beyond the palette's 11 colours reuse it cyclically (class 0 stays black).
    """
    mask = np.asarray(mask)
    index = np.where(mask == 0, 0, (mask - 1) % (len(PALETTE) - 1) + 1)
    picture = PALETTE[index]
    return picture if image is None else side_by_side(to_rgb(image), picture)


def predict_masks(model, images):
    """Arg-max classes (N, H, W) of ``model``'s per-pixel scores for ``images`` (N, C, H, W)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            scores = model(images if isinstance(images, Tensor) else Tensor(images))
    finally:
        model.train(was_training)
    return np.asarray(scores.numpy()).argmax(axis=1)


def write_masks(path, picture):
    """Write a mask picture as PNG; returns the path."""
    return write_png(path, picture)


def format_segmentation(result, classes, title):
    """The evaluation table of a segmentation model: mIoU, pixel accuracy, IoU and accuracy per class.

    ``result`` is ``cnnlab.runs.evaluation.evaluate``'s dict for per-pixel predictions.
    """
    lines = [title, f"loss {result['loss']:.4f} | test mIoU {result['mean_iou'] * 100:.1f}% | "
                    f"pixel accuracy {result['accuracy'] * 100:.2f}%", ""]
    width = max(len("class"), max(len(c) for c in classes))
    pixels = result["confusion"].sum(axis=1)
    lines.append(f"{'class':<{width}}     IoU  accuracy     pixels")
    for i, name in enumerate(classes):
        iou = result["iou"][i]
        shown = "    -" if np.isnan(iou) else f"{iou * 100:5.1f}%"
        lines.append(f"{name:<{width}}  {shown}   {result['per_class_accuracy'][i] * 100:6.2f}% "
                     f"{int(pixels[i]):10,d}")
    return "\n".join(lines)
