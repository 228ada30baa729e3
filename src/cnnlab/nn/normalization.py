"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LocalResponseNorm``."""

import numpy as np

from ..functional import norm as Fnorm
from . import init
from ..validation import bool_arg, int_arg, real_arg, set_real_args
from .module import Module
from .parameter import _empty_parameter, _factory_dtype, _state_tensor


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: normalise each channel by batch statistics (training) or running ones (eval).

    In training, y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the batch's mean and biased
    variance per channel, and the running statistics move towards the batch's:
    running = (1 - momentum) * running + momentum * batch (the running variance uses the unbiased
    batch variance, as PyTorch). With ``momentum=None`` they are the cumulative average of all batches
    seen. In evaluation the running statistics are used instead of the batch's.
    """

    _version = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        fn = type(self).__name__
        self.num_features = int_arg(fn, "num_features", num_features, minimum=1)
        real_arg(fn, "eps", eps, low=0, low_open=True)
        self.eps = eps
        if momentum is not None:
            real_arg(fn, "momentum", momentum, low=0, high=1)
        self.momentum = momentum
        self.affine = bool_arg(fn, "affine", affine)
        self.track_running_stats = bool_arg(fn, "track_running_stats", track_running_stats)
        bool_arg(fn, "bias", bias)
        if affine:
            self.weight = _empty_parameter(fn, (num_features,), dtype, device)
            if bias:
                self.bias = _empty_parameter(fn, (num_features,), dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            dt = _factory_dtype(fn, dtype)
            self.register_buffer("running_mean", _state_tensor(fn, np.zeros(num_features, dtype=dt), device))
            self.register_buffer("running_var", _state_tensor(fn, np.ones(num_features, dtype=dt), device))
            self.register_buffer("num_batches_tracked", _state_tensor(fn, np.array(0, dtype=np.int64), device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self):
        """Reset the running statistics; weight = 1, bias = 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def forward(self, input):
        return self._normalise(input, Fnorm.batch_norm)

    def forward_relu(self, input):
        """``relu(self(input))`` as one op (``F.batch_norm_relu``); ``nn.fusion`` calls it."""
        return self._normalise(input, Fnorm.batch_norm_relu)

    def _normalise(self, input, op):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data[...] += 1
            if self.momentum is None:  # cumulative moving average over all batches seen
                factor = 1.0 / float(self.num_batches_tracked._data)
        # Batch statistics in training, and in evaluation when there are no running statistics.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return op(input, self.running_mean if track else None, self.running_var if track else None,
                  self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy, 2015) of features: statistics over the batch (and length) axes.

    Args:
        num_features: C, the number of features/channels.
        eps: added to the variance for stability. Default: 1e-5.
        momentum: weight of the newest batch in the running statistics; None for a cumulative average.
            Default: 0.1.
        affine: learn a per-channel scale ``weight`` (init 1) and shift ``bias`` (init 0). Default: True.
        track_running_stats: keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers
            and use them in evaluation. Default: True.
        device, dtype: where and in which floating dtype the parameters and running statistics live.
        bias: (keyword-only) learn the shift when ``affine``. Default: True.

    Shape: ``(N, C)`` or ``(N, C, L)``, unchanged.
    """

    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected a 2-D (N, C) or 3-D (N, C, L) input. "
                             f"Received a {input.ndim}-D input of shape {tuple(input.shape)}")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy, 2015) of feature maps: statistics per channel over N, H and W.

    Args: as ``BatchNorm1d``.

    Shape: ``(N, C, H, W)``, unchanged.
    """

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected a 4-D (N, C, H, W) input. "
                             f"Received a {input.ndim}-D input of shape {tuple(input.shape)}")


class LocalResponseNorm(Module):
    """Local response normalisation (AlexNet): divide each value by a power of the sum of squares across
    ``size`` neighbouring channels.

    b_c = a_c / (k + alpha / size * sum_{c' near c} a_{c'}^2) ^ beta

    Args:
        size: number of neighbouring channels summed over.
        alpha: multiplicative factor. Default: 1e-4.
        beta: exponent. Default: 0.75.
        k: additive factor. Default: 1.0.

    Shape: ``(N, C, *)``, unchanged.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        fn = "LocalResponseNorm"
        self.size = int_arg(fn, "size", size, minimum=1)
        set_real_args(self, fn, alpha=alpha, beta=beta, k=k)

    def forward(self, input):
        return Fnorm.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
