"""``ConvTranspose2d``: learned upsampling, the transpose (adjoint) of a strided ``Conv2d``."""

from ..functional import conv_transpose as Fct
from ..functional.sizes import conv_transpose_output_size
from ..validation import int_arg, pair
from .weighted import _WeightAndBias


class ConvTranspose2d(_WeightAndBias):
    """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``: each input pixel paints a
    learned kernel onto the output, ``stride`` pixels apart (decoders, segmentation, GANs).

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size: int or (kH, kW).
        stride, padding, output_padding, dilation: int or pair (see ``F.conv_transpose2d``).
        groups: independent channel groups; both channel counts must be divisible by it.
        bias: learn a bias per output channel. Default: True.
        padding_mode: only ``'zeros'`` (as PyTorch).
        device, dtype: where and in which floating dtype the parameters live.

    Attributes:
        weight: ``(in_channels, out_channels // groups, kH, kW)``, drawn from
            U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = out_channels // groups * kH * kW.
        bias: ``(out_channels,)``, from the same range.

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)`` with
        ``H_out = (H - 1) * sH - 2 * pH + dH * (kH - 1) + opH + 1``; ``forward(x, output_size)``
        picks the output padding that gives ``output_size``.

    Example:
        >>> ConvTranspose2d(16, 8, 4, stride=2, padding=1)(cnnlab.randn(1, 16, 7, 7)).shape
        (1, 8, 14, 14)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__()
        fn = "ConvTranspose2d"
        in_channels = int_arg(fn, "in_channels", in_channels, minimum=1)
        out_channels = int_arg(fn, "out_channels", out_channels, minimum=1)
        groups = int_arg(fn, "groups", groups, minimum=1)
        for name, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if n % groups:
                raise ValueError(f"{fn}: `{name}` ({n}) must be divisible by `groups` ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{fn}: only padding_mode='zeros' is supported, as in PyTorch. "
                             f"Received: padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(fn, "kernel_size", kernel_size)
        self.stride = pair(fn, "stride", stride)
        self.padding = pair(fn, "padding", padding, minimum=0)
        self.output_padding = pair(fn, "output_padding", output_padding, minimum=0)
        self.dilation = pair(fn, "dilation", dilation)
        self.transposed = True
        self.padding_mode = padding_mode
        shape = (in_channels, out_channels // groups) + self.kernel_size
        self._make_parameters(fn, shape, out_channels, bias, dtype, device)

    def _output_padding(self, input, output_size):
        """The output padding that makes the output ``output_size`` (its last two entries)."""
        if output_size is None:
            return self.output_padding
        size = tuple(int(n) for n in output_size)[-2:]
        low = tuple(conv_transpose_output_size(n, k, s, p, 0, d) for n, k, s, p, d in
                    zip(input.shape[-2:], self.kernel_size, self.stride, self.padding,
                        self.dilation))
        high = tuple(n + s - 1 for n, s in zip(low, self.stride))
        if len(size) != 2 or not all(lo <= n <= hi for n, lo, hi in zip(size, low, high)):
            raise ValueError(f"ConvTranspose2d: `output_size` {tuple(output_size)} is not "
                             "reachable: "
                             f"expected sizes between {low} and {high} for input shape "
                             f"{input.shape}")
        return tuple(n - lo for n, lo in zip(size, low))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return Fct.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                    output_padding, self.groups, self.dilation)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        defaults = (("padding", (0, 0)), ("output_padding", (0, 0)), ("dilation", (1, 1)))
        for name, default in defaults:
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
