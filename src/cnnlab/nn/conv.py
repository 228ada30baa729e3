"""``Conv2d``: 2-D convolution (cross-correlation) over an NCHW input, with learned kernels and bias."""

from ..functional import conv as Fconv
from ..validation import int_arg, is_int, padding_mode_arg, pair
from .weighted import _WeightAndBias


def _padding_arg(fn, padding):
    """int, pair, 'same', 'valid' or ((top, bottom), (left, right)) -> the stored form (str or tuples)."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{fn}: `padding` string must be 'same' or 'valid'. Received: padding={padding!r}")
        return padding
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(isinstance(p, (tuple, list)) for p in padding):
        ok = all(len(p) == 2 and all(is_int(v) and v >= 0 for v in p) for p in padding)
        if not ok:
            raise ValueError(f"{fn}: `padding` as ((top, bottom), (left, right)) must hold non-negative ints. "
                             f"Received: padding={padding!r}")
        return tuple(tuple(int(v) for v in p) for p in padding)
    try:
        return pair(fn, "padding", padding, minimum=0)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: `padding` must be a non-negative int, a pair of them, 'same', 'valid' or "
                         f"((top, bottom), (left, right)). Received: padding={padding!r}") from None


class Conv2d(_WeightAndBias):
    """2-D convolution: each output channel is a learned kernel slid over the input, plus a bias.

    Args:
        in_channels: channels of the input (C_in).
        out_channels: channels of the output (C_out), one kernel each.
        kernel_size: int or (kH, kW).
        stride: int or pair. Default: 1.
        padding: int, pair, ``'valid'`` (no padding), ``'same'`` (output size = input size, stride 1 only)
            or ``((top, bottom), (left, right))``. Default: 0.
        dilation: spacing between kernel taps, int or pair. Default: 1.
        groups: split channels into ``groups`` independent convolutions; ``in_channels`` and
            ``out_channels`` must both be divisible by it. Default: 1.
        bias: learn a bias per output channel. Default: True.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``. Default: ``'zeros'``.
        device, dtype: where and in which floating dtype the parameters live.

    Attributes:
        weight: ``(out_channels, in_channels // groups, kH, kW)``, initialised U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            with fan_in = in_channels // groups * kH * kW (``kaiming_uniform_`` with a=sqrt(5), as PyTorch).
        bias: ``(out_channels,)``, from the same range.

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)`` with
        ``H_out = floor((H + pad_top + pad_bottom - dilation[0] * (kH - 1) - 1) / stride[0]) + 1``
        and likewise for W.

    Example:
        >>> Conv2d(1, 16, 5, padding=2)(cnnlab.randn(8, 1, 28, 28)).shape
        (8, 16, 28, 28)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        fn = "Conv2d"
        in_channels = int_arg(fn, "in_channels", in_channels, minimum=1)
        out_channels = int_arg(fn, "out_channels", out_channels, minimum=1)
        groups = int_arg(fn, "groups", groups, minimum=1)
        if in_channels % groups:
            raise ValueError(f"{fn}: `in_channels` ({in_channels}) must be divisible by `groups` ({groups})")
        if out_channels % groups:
            raise ValueError(f"{fn}: `out_channels` ({out_channels}) must be divisible by `groups` ({groups})")
        kernel_size = pair(fn, "kernel_size", kernel_size)
        stride = pair(fn, "stride", stride)
        dilation = pair(fn, "dilation", dilation)
        padding = _padding_arg(fn, padding)
        if padding == "same" and stride != (1, 1):
            raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions. "
                             f"Received: stride={stride}")
        padding_mode_arg(fn, padding_mode)   # the check conv2d makes, here at construction
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = False
        self.output_padding = (0, 0)
        self.groups = groups
        self.padding_mode = padding_mode
        self._make_parameters(fn, (out_channels, in_channels // groups) + kernel_size, out_channels, bias, dtype,
                              device)

    def forward(self, input):
        return Fconv.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                            padding_mode=self.padding_mode)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
