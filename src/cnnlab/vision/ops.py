"""torchvision.ops' box names on cnnlab Tensors: ``box_iou``, ``nms``, ``batched_nms``.

``from torchvision.ops import nms`` becomes ``from cnnlab.vision.ops import nms``. The work is done
on arrays by ``cnnlab.boxes`` (no gradient flows through IoU or suppression, as in torchvision).
"""

import numpy as np

from .. import backend
from .. import boxes as _boxes
from ..tensor import Tensor

__all__ = ["box_area", "box_iou", "nms", "batched_nms"]


def _array(fn, name, value):
    if isinstance(value, Tensor):
        return backend.asnumpy(value._data)
    raise TypeError(f"{fn}: `{name}` must be a Tensor. Received an object of type {type(value).__name__}")


def box_area(boxes):
    """Areas (N,) of boxes (N, 4) xyxy, a Tensor of their dtype."""
    b = _array("box_area", "boxes", boxes)
    return Tensor(_boxes.box_area(b).astype(b.dtype if b.dtype.kind == "f" else np.float32))


def box_iou(boxes1, boxes2):
    """IoU of every pair of boxes (N, 4) and (M, 4) xyxy -> Tensor (N, M) (see ``cnnlab.boxes.box_iou``)."""
    a, b = _array("box_iou", "boxes1", boxes1), _array("box_iou", "boxes2", boxes2)
    dtype = np.result_type(a.dtype, b.dtype) if a.dtype.kind == "f" else np.float32
    return Tensor(_boxes.box_iou(a, b).astype(dtype))


def nms(boxes, scores, iou_threshold):
    """Indices (K,) int64 of the boxes greedy non-maximum suppression keeps, by decreasing score."""
    return Tensor(_boxes.nms(_array("nms", "boxes", boxes), _array("nms", "scores", scores), iou_threshold))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """``nms`` within each category of ``idxs`` (N,); indices (K,) int64 by decreasing score."""
    fn = "batched_nms"
    return Tensor(_boxes.batched_nms(_array(fn, "boxes", boxes), _array(fn, "scores", scores),
                                    _array(fn, "idxs", idxs), iou_threshold))
