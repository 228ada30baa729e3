"""Detection results for people: ``detect`` (boxes from images), boxes drawn on a picture, the AP table.

``cnnlab predict CKPT scene.png --out boxes.png`` and ``cnnlab evaluate CKPT`` of a detector
(``grid_detector``) go through here.
"""

import numpy as np

from ..models.detection import NMS_IOU, SHOW_THRESHOLD, decode_detections
from ..runs.evaluation import evaluating
from ..tensor import Tensor
from .images import to_rgb, to_uint8, upscale
from .segmentation import PALETTE


def detect(model, images, score_threshold=SHOW_THRESHOLD, iou_threshold=NMS_IOU):
    """The objects a detector finds in ``images`` (N, C, H, W), standardised as in training.

    Returns a list of N ``(boxes (D, 4), scores (D,), labels (D,))``: pixel boxes x_min, y_min,
    x_max, y_max, the confidence P(object) x P(class) above ``score_threshold`` after per-class
    non-maximum suppression at ``iou_threshold``, and 0-based object classes (``classes[label + 1]``
    names one on mnist-scenes, whose class 0 is the background).

    Example:
        >>> found = detect(model, scenes.get_batch([0, 1])[0])
        >>> boxes, scores, labels = found[0]
    """
    with evaluating(model):
        out = model(images if isinstance(images, Tensor) else Tensor(images))
    return decode_detections(out, model.stride, score_threshold, iou_threshold)


def boxes_picture(image, detections, names, scale=4):
    """``image`` (grey or RGB in [0, 1]) enlarged ``scale`` times with each box drawn in its class's
    colour and labelled "name score" (Pillow's ImageDraw). Returns (H * scale, W * scale, 3) uint8."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(to_uint8(upscale(to_rgb(image), scale)))
    draw = ImageDraw.Draw(picture)
    for box, score, label in zip(*detections):
        colour = tuple(int(c) for c in np.round(PALETTE[1 + int(label) % (len(PALETTE) - 1)] * 255))
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=2)
        text = f"{names[int(label)]} {score:.2f}"
        top = y0 - 11 if y0 >= 11 else y1
        draw.rectangle([x0, top, x0 + 6 * len(text) + 2, top + 10], fill=colour)
        draw.text((x0 + 1, top - 1), text, fill=(0, 0, 0))
    return np.asarray(picture)


def format_detections(path, detections, names):
    """One line per image: its boxes as "name score (x_min, y_min, x_max, y_max)"."""
    found = [f"{names[int(c)]} {s:.2f} ({', '.join(f'{v:.0f}' for v in b)})" for b, s, c in zip(*detections)]
    return f"{path}: {'; '.join(found) or 'no object found'}"


def format_detection(result, names, title):
    """The evaluation table of a detector: mAP@0.5, then AP and ground-truth count per object class.

    ``result`` is the detect task's evaluation (``cnnlab.runs.detect.detection_evaluation``).
    """
    found = sum(len(d[1]) for d in result["detections"])
    lines = [title, f"loss {result['loss']:.4f} | test mAP@0.5 {result['map50'] * 100:.1f}% "
                    f"(PASCAL VOC, all-point interpolated) | {found:,} detections", ""]
    width = max(len("class"), max(len(n) for n in names))
    lines.append(f"{'class':<{width}}  AP@0.5  objects")
    for name, ap, support in zip(names, result["ap"], result["support"]):
        shown = "     -" if np.isnan(ap) else f"{ap * 100:5.1f}%"
        lines.append(f"{name:<{width}}  {shown}  {int(support):7,d}")
    return "\n".join(lines)
