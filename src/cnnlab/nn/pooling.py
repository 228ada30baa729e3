"""Pooling layers: max, average, min, power-average, adaptive, stochastic and fractional max pooling.

Each wraps its op in ``cnnlab.functional``; arguments are checked at construction so a bad
setting fails where the model is defined, and stored as given so ``repr`` prints them as PyTorch does
(``MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)``).
"""


from .. import functional as F
from ..validation import bool_arg, is_int, is_real, pair, real_arg
from .module import Module


def _check_pool_args(fn, kernel_size, stride, padding=0, dilation=1):
    kernel = pair(fn, "kernel_size", kernel_size)
    if stride is not None:
        pair(fn, "stride", stride)
    pad = pair(fn, "padding", padding, minimum=0)
    dil = pair(fn, "dilation", dilation)
    # A window must keep at least one input element: padding is at most half the (dilated) window.
    if pad[0] > (dil[0] * (kernel[0] - 1) + 1) // 2 or pad[1] > (dil[1] * (kernel[1] - 1) + 1) // 2:
        raise ValueError(f"{fn}: `padding` must be at most half of the effective kernel size. "
                         f"Received: padding={padding!r} with kernel_size={kernel_size!r}, dilation={dilation!r}")


class _PaddedPool2d(Module):
    """Max, min and average pooling: checks the (kernel_size, stride, padding, dilation) window and keeps
    the first three as given, with ``stride`` defaulting to the window as in PyTorch."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        _check_pool_args(type(self).__name__, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding


class _MaxPoolNd(_PaddedPool2d):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, dilation)
        fn = type(self).__name__
        bool_arg(fn, "return_indices", return_indices)
        bool_arg(fn, "ceil_mode", ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """Maximum over each (kH, kW) window.

    Args:
        kernel_size: window size, int or pair.
        stride: window step, int or pair. Default: ``kernel_size``.
        padding: implicit -inf padding on each side, int or pair (at most half the window). Default: 0.
        dilation: spacing between window taps. Default: 1.
        return_indices: also return the flat (H*W) position of each maximum. Default: False.
        ceil_mode: round the output size up instead of down. Default: False.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``,
        ``H_out = floor((H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) / stride[0]) + 1`` (ceil with ceil_mode).
    """

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MinPool2d(_MaxPoolNd):
    """Minimum over each (kH, kW) window (max pooling of the negated input); arguments as ``MaxPool2d``.

    Shape: as ``MaxPool2d``.
    """

    def forward(self, input):
        return F.min_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(_PaddedPool2d):
    """Mean over each (kH, kW) window.

    Args:
        kernel_size: window size, int or pair.
        stride: window step. Default: ``kernel_size``.
        padding: implicit zero padding on each side (at most half the window). Default: 0.
        ceil_mode: round the output size up instead of down. Default: False.
        count_include_pad: count padded zeros in the divisor. Default: True.
        divisor_override: if given, divide every window sum by this instead.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``,
        ``H_out = floor((H + 2 * padding[0] - kH) / stride[0]) + 1`` (ceil with ceil_mode).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding)
        fn = type(self).__name__
        bool_arg(fn, "ceil_mode", ceil_mode)
        bool_arg(fn, "count_include_pad", count_include_pad)
        if divisor_override is not None and (not is_int(divisor_override) or divisor_override == 0):
            raise ValueError(f"{fn}: `divisor_override` must be None or a non-zero int. "
                             f"Received: divisor_override={divisor_override!r}")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool2d(Module):
    """Power-average pooling: (sum over the window of x^p)^(1/p); p=1 is sum pooling, p -> inf max pooling.

    Args:
        norm_type: the power p.
        kernel_size: window size, int or pair.
        stride: window step. Default: ``kernel_size``.
        ceil_mode: round the output size up instead of down. Default: False.

    Shape: ``(N, C, H, W) -> (N, C, H_out, W_out)``, ``H_out = floor((H - kH) / stride[0]) + 1``.
    """

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        fn = "LPPool2d"
        real_arg(fn, "norm_type", norm_type, low=0, low_open=True)
        _check_pool_args(fn, kernel_size, stride)
        bool_arg(fn, "ceil_mode", ceil_mode)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


def _check_output_size(fn, output_size):
    items = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
    if isinstance(output_size, (tuple, list)) and len(output_size) != 2 or not all(
            v is None or (is_int(v) and v >= 1) for v in items):
        raise ValueError(f"{fn}: `output_size` must be a positive int or a pair of positive ints (None keeps "
                         f"the input size). Received: output_size={output_size!r}")


class _AdaptivePool2d(Module):
    """Average and max pooling to a fixed output size: checks ``output_size`` and keeps it as given."""

    def __init__(self, output_size):
        super().__init__()
        _check_output_size(type(self).__name__, output_size)
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Average pooling to a fixed output size, whatever the input size (window i spans
    [floor(i * H / oH), ceil((i + 1) * H / oH))).

    Args:
        output_size: int or (oH, oW); None in a position keeps the input's size there.

    Shape: ``(N, C, H, W) -> (N, C, oH, oW)``.
    """

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Max pooling to a fixed output size, whatever the input size.

    Args:
        output_size: int or (oH, oW); None in a position keeps the input's size there.
        return_indices: also return the flat (H*W) position of each maximum. Default: False.

    Shape: ``(N, C, H, W) -> (N, C, oH, oW)``.
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        bool_arg("AdaptiveMaxPool2d", "return_indices", return_indices)
        self.return_indices = return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class StochasticPool2d(Module):
    """Stochastic pooling (Zeiler & Fergus, 2013): in training, each window outputs one of its values,
    picked with probability proportional to the value (inputs are expected non-negative, e.g. after ReLU);
    in evaluation, the probability-weighted average sum(p_i * x_i) with p_i = x_i / sum(x).

    Args:
        kernel_size: window size, int or pair.
        stride: window step. Default: ``kernel_size``.

    Shape: ``(N, C, H, W) -> (N, C, H_out, W_out)``, ``H_out = floor((H - kH) / stride[0]) + 1``.
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        _check_pool_args("StochasticPool2d", kernel_size, stride)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size

    def forward(self, input):
        return F.stochastic_pool2d(input, self.kernel_size, self.stride, training=self.training)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class FractionalMaxPool2d(Module):
    """Fractional max pooling (Graham, 2014): max over windows at pseudo-random positions that shrink the
    input by a non-integer ratio.

    Args:
        kernel_size: window size, int or pair.
        output_size: (oH, oW) or int; give this or ``output_ratio``.
        output_ratio: ratio of output to input size, in (0, 1), number or pair.
        return_indices: also return the flat (H*W) position of each maximum. Default: False.
        _random_samples: optional fixed samples of shape (N, C, 2) in [0, 1) that place the windows
            (registered as a buffer, as in PyTorch).

    Shape: ``(N, C, H, W) -> (N, C, oH, oW)`` with ``oH = output_size[0]`` or ``floor(H * output_ratio[0])``.
    """

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        fn = "FractionalMaxPool2d"
        self.kernel_size = pair(fn, "kernel_size", kernel_size)
        bool_arg(fn, "return_indices", return_indices)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{fn}: requires specifying either `output_size` or `output_ratio`. "
                             f"Received neither")
        if output_size is not None and output_ratio is not None:
            raise ValueError(f"{fn}: only one of `output_size` and `output_ratio` may be specified. "
                             f"Received: output_size={output_size!r}, output_ratio={output_ratio!r}")
        self.output_size = pair(fn, "output_size", output_size) if output_size is not None else None
        self.output_ratio = None
        if output_ratio is not None:
            ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio, output_ratio)
            if len(ratio) != 2 or not all(is_real(r) and 0 < r < 1 for r in ratio):
                raise ValueError(f"{fn}: `output_ratio` must be a number or a pair of numbers strictly between 0 "
                                 f"and 1. Received: output_ratio={output_ratio!r}")
            self.output_ratio = (float(ratio[0]), float(ratio[1]))

    def forward(self, input):
        return F.fractional_max_pool2d(input, self.kernel_size, self.output_size, self.output_ratio,
                                           self.return_indices, _random_samples=self._random_samples)
