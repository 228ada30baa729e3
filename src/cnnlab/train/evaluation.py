"""Evaluation helpers that run a model: test-time crop averaging.

They sit in ``train`` because they run a model; ``cnnlab.data`` only produces the crops
(``FiveCrop``, ``TenCrop``).
"""

from ..autograd import no_grad
from ..functional.activation import softmax as _softmax
from ..tensor import Tensor


def average_crop_predictions(model, crops, softmax=False):
    """Run ``model`` on every crop and average its outputs over the crops of each image.

    AlexNet's test procedure: predict on the ten crops and average (the scores, or with ``softmax=True``
    the probabilities).

    Args:
        model: a callable from (M, C, h, w) to scores (M, K).
        crops: (N, K_crops, C, h, w) or (K_crops, C, h, w) from ``FiveCrop``/``TenCrop`` (Tensor or array).

    Returns:
        Tensor (N, K) (or (K,) for the crops of one image).
    """
    arr = crops._data if isinstance(crops, Tensor) else crops
    if arr.ndim not in (4, 5):
        raise ValueError(f"average_crop_predictions: `crops` must be (N, crops, C, h, w) or (crops, C, h, w). "
                         f"Received a {arr.ndim}-D array of shape {tuple(arr.shape)}")
    single = arr.ndim == 4
    if single:
        arr = arr[None]
    n, k = arr.shape[:2]
    with no_grad():
        out = model(Tensor(arr.reshape((n * k,) + arr.shape[2:])))            # (N*crops, K)
        if softmax:
            out = _softmax(out, 1)
    scores = out._data.reshape(n, k, -1).mean(axis=1)                             # (N, K)
    return Tensor(scores[0] if single else scores)
