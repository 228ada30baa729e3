"""Object detection on a grid: YOLO v1's idea (Redmon et al. 2016), sized for 64x64 scenes.

A convolutional backbone pools the image down to an SxS grid (S = 8 for 64x64: cells of 8 pixels).
Each cell predicts, from one 1x1 convolution over its features:

- objectness: does the centre of an object fall in this cell (a logit);
- a box: the centre's offset within the cell, each in [0, 1] by a sigmoid, and the square roots of
  the width and height relative to the image, in [0, 1] by a sigmoid (YOLO's square roots make an
  error of a few pixels cost more on a small box than on a large one);
- class scores over the object classes (logits).

One object per cell (YOLO v1 with one box per cell; scene digits rarely share a cell). The loss is
YOLO's sum of parts (``GridDetectionLoss``), the targets are encoded in NumPy (``encode_targets``),
and decoding keeps confident cells and suppresses duplicates per class (``decode_detections``).

Classes follow torchvision's detection models: ``num_classes`` counts the background too (11 for
mnist-scenes: background and ten digits), and a box of object class ``k`` (0-based, as the
scenes' box rows carry it) is named ``classes[k + 1]``.
"""

import numpy as np

from .. import backend, boxes, nn
from ..autograd import no_grad
from ..functional import binary_cross_entropy_with_logits, cross_entropy, sigmoid
from ..tensor import Tensor
from ._common import check_positive_int
from .registry import register_model
from .segmentation import conv_bn_relu

# Backbone widths ("M": 2x2 max pool); three pools take 64x64 to the 8x8 grid.
DETECTOR_CONFIGS = {"grid_detector": [8, "M", 16, "M", 32, 32, "M", 64, 64]}
BOX = 5                  # channels before the class scores: objectness, x, y, sqrt w, sqrt h
PRIOR = 0.04             # initial objectness: about 2.5 digits in 64 cells
EVAL_THRESHOLD = 0.01    # decoding for mAP keeps nearly every cell: the ranking decides AP
SHOW_THRESHOLD = 0.5     # decoding for people (``cnnlab predict``) keeps the confident ones
NMS_IOU = 0.5


class GridDetector(nn.Module):
    """YOLO v1-style single-box-per-cell detector: backbone to an SxS grid, a 1x1 prediction head.

    Args:
        num_classes: classes including the background (torchvision's count); the head scores
            ``num_classes - 1`` object classes.
        in_channels: image channels.
        config: the backbone table: convolution widths and ``"M"`` (2x2 max pool).

    Shape:
        ``(N, in_channels, H, W) -> (N, 5 + num_classes - 1, H / 2^pools, W / 2^pools)``: per cell
        objectness, x, y, sqrt w, sqrt h (all logits), then the class logits.
    """

    task = "detect"

    def __init__(self, num_classes=11, in_channels=1, config=DETECTOR_CONFIGS["grid_detector"]):
        super().__init__()
        check_positive_int("grid_detector", "num_classes", num_classes)
        if num_classes < 2:
            raise ValueError(f"grid_detector: `num_classes` counts the background and at least one object "
                             f"class, so it must be >= 2. Received: num_classes={num_classes}")
        layers, channels = [], in_channels
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += conv_bn_relu(channels, v)
                channels = v
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, BOX + num_classes - 1, 1)
        self.stride = 2 ** config.count("M")     # pixels per grid cell
        with no_grad():   # start every cell at the prior objectness, not at one half
            bias = self.head.bias.numpy().copy()
            bias[0] = np.log(PRIOR / (1 - PRIOR))
            self.head.bias.copy_(Tensor(bias.astype(self.head.bias.dtype)))

    def forward(self, x):
        return self.head(self.features(x))

    def extra_repr(self):
        return f"stride={self.stride}"


def encode_targets(rows, grid, stride):
    """Box rows (N, B, 5) ``x_min, y_min, x_max, y_max, class`` (pixels; class -1: empty) -> grid
    targets (N, 6, grid, grid) float32: objectness, x, y, sqrt w, sqrt h, class (-1 off objects).

    The cell holding a box's centre is responsible for it; x, y are the centre's offsets within
    that cell, w, h are relative to the image (``grid * stride`` pixels). When two centres share a
    cell, the larger box wins.
    """
    rows = np.asarray(rows, np.float64)
    n, side = rows.shape[0], grid * stride
    out = np.zeros((n, 6, grid, grid), np.float32)
    out[:, 5] = -1
    image, slot = np.nonzero(rows[:, :, 4] >= 0)
    b = rows[image, slot]                                                        # (K, 5)
    order = np.argsort((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), kind="stable")  # larger written last
    image, b = image[order], b[order]
    cx, cy = (b[:, 0] + b[:, 2]) / 2 / stride, (b[:, 1] + b[:, 3]) / 2 / stride  # in cells
    col = np.clip(np.floor(cx), 0, grid - 1).astype(np.int64)
    row = np.clip(np.floor(cy), 0, grid - 1).astype(np.int64)
    w = np.clip((b[:, 2] - b[:, 0]) / side, 0, 1)
    h = np.clip((b[:, 3] - b[:, 1]) / side, 0, 1)
    out[image, :, row, col] = np.stack([np.ones_like(cx), cx - col, cy - row, np.sqrt(w), np.sqrt(h),
                                        b[:, 4]], axis=1)
    return out


def decode_boxes(x, y, sqrt_w, sqrt_h, stride):
    """Grid predictions (..., S, S) in [0, 1] -> pixel boxes (..., S, S, 4) xyxy, clipped to the image."""
    grid = x.shape[-1]
    side = grid * stride
    cx = (np.arange(grid) + x) * stride                                          # column j's offset
    cy = (np.arange(grid)[:, None] + y) * stride                                 # row i's offset
    w, h = sqrt_w ** 2 * side, sqrt_h ** 2 * side
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    return np.clip(xyxy, 0, side)


def decode_detections(output, stride, score_threshold=EVAL_THRESHOLD, iou_threshold=NMS_IOU,
                      max_detections=100):
    """The detections of a batch of grid outputs (N, 5 + K, S, S) (a Tensor or an array).

    A cell's score for its best class is YOLO's class-specific confidence, P(object) x P(class |
    object). Cells scoring above ``score_threshold`` become boxes; ``boxes.batched_nms`` then drops a
    box that overlaps a better one of the same class by IoU > ``iou_threshold``.

    Returns a list of N ``(boxes (D, 4) float, scores (D,), labels (D,) int64)``, by decreasing
    score, labels 0-based object classes.
    """
    out = np.asarray(backend.asnumpy(getattr(output, "_data", output)), np.float64)
    n, channels, grid, _ = out.shape
    objectness = 1 / (1 + np.exp(-out[:, 0]))                                     # (N, S, S)
    geometry = 1 / (1 + np.exp(-out[:, 1:BOX]))                                   # (N, 4, S, S)
    logits = out[:, BOX:]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)                                    # (N, K, S, S)
    labels = probs.argmax(axis=1)
    scores = objectness * probs.max(axis=1)
    xyxy = decode_boxes(*geometry.transpose(1, 0, 2, 3), stride)                  # (N, S, S, 4)
    results = []
    for i in range(n):
        keep = scores[i] > score_threshold
        b, s, c = xyxy[i][keep], scores[i][keep], labels[i][keep]
        kept = boxes.batched_nms(b, s, c, iou_threshold)[:max_detections]
        results.append((b[kept], s[kept], c[kept].astype(np.int64)))
    return results


class GridDetectionLoss(nn.Module):
    """YOLO v1's composite loss, summed over cells and averaged over images.

    loss = lambda_coord * sum_obj [(x - x')^2 + (y - y')^2 + (sqrt w - sqrt w')^2 + (sqrt h - sqrt h')^2]
         + sum_obj BCE(objectness, 1) + lambda_noobj * sum_noobj BCE(objectness, 0)
         + sum_obj CE(class scores, class)

    NOTE: YOLO v1 regresses objectness (towards the IoU) and class probabilities with squared
    errors; here objectness is a logistic (binary cross-entropy) and the class a softmax
    (cross-entropy), which train faster and give calibrated scores for ranking. The box stays a
    squared error on sigmoid outputs, as in the paper.

    Args:
        stride: pixels per grid cell (the model's ``stride``).
        lambda_coord, lambda_noobj: YOLO's weights of the box error and of the empty cells.

    Shape:
        output (N, 5 + K, S, S), targets (N, B, 5) box rows (see ``encode_targets``) -> ()
    """

    def __init__(self, stride, lambda_coord=5.0, lambda_noobj=0.5):
        super().__init__()
        self.stride, self.lambda_coord, self.lambda_noobj = stride, lambda_coord, lambda_noobj

    def forward(self, output, targets):
        n, _, grid, _ = output.shape
        t = encode_targets(backend.asnumpy(getattr(targets, "_data", targets)), grid, self.stride)
        dtype = output.dtype
        xp = backend.get_array_module(output._data)
        obj = t[:, 0]                                                            # (N, S, S)
        weight = np.where(obj > 0, 1.0, self.lambda_noobj)
        objectness = binary_cross_entropy_with_logits(
            output[:, 0], Tensor(xp.asarray(obj, dtype)), weight=Tensor(xp.asarray(weight, dtype)),
            reduction="sum")
        geometry = sigmoid(output[:, 1:BOX])                                      # (N, 4, S, S)
        mask = Tensor(xp.asarray(np.broadcast_to(obj[:, None], geometry.shape), dtype))
        coord = ((geometry - Tensor(xp.asarray(t[:, 1:BOX], dtype))) ** 2 * mask).sum()
        classes = Tensor(xp.asarray(np.where(obj > 0, t[:, 5], -100).astype(np.int64)))
        label = cross_entropy(output[:, BOX:], classes, ignore_index=-100, reduction="sum")
        return (self.lambda_coord * coord + objectness + label) / n

    def extra_repr(self):
        return f"stride={self.stride}, lambda_coord={self.lambda_coord}, lambda_noobj={self.lambda_noobj}"


@register_model("grid_detector", input_size=(1, 64, 64), min_size=8, task="detect",
                recipe={"epochs": 10, "lr": 1e-3, "batch_size": 64})
def grid_detector(num_classes=11, in_channels=1):
    """YOLO v1-style grid detector (Redmon et al. 2016): a 3-pool backbone, an 8x8 grid on 64x64 scenes."""
    return GridDetector(num_classes, in_channels, DETECTOR_CONFIGS["grid_detector"])
