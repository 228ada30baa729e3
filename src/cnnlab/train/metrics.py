"""The classification and segmentation metrics, also importable as ``cnnlab.train.metrics`` (they live in
``cnnlab.metrics``, below both ``train`` and ``inspect``, which use them)."""

from ..metrics import (accuracy, confusion_matrix, iou_per_class, mean_iou, per_class_accuracy, pixel_accuracy,
                       precision_recall_f1, segmentation_confusion, top_k_accuracy, top_k_error)

__all__ = ["accuracy", "top_k_accuracy", "top_k_error", "confusion_matrix", "precision_recall_f1",
           "per_class_accuracy", "segmentation_confusion", "iou_per_class", "mean_iou", "pixel_accuracy"]
