"""Classification metrics as ``cnnlab.metrics`` (the same functions as ``cnnlab.train.metrics``).

Example:
    >>> from cnnlab import metrics
    >>> metrics.accuracy([0, 1, 1], [0, 1, 0])
    0.6666666666666666
"""

from .train.metrics import (accuracy, confusion_matrix, per_class_accuracy, precision_recall_f1, top_k_accuracy,
                            top_k_error)

__all__ = ["accuracy", "top_k_accuracy", "top_k_error", "confusion_matrix", "precision_recall_f1",
           "per_class_accuracy"]
