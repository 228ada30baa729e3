"""``Upsample``: resize feature maps (nearest or bilinear), as ``torch.nn.Upsample``."""

from ..functional.upsample import interpolate
from ..validation import INTERPOLATE_MODES, choice
from .module import Module


class Upsample(Module):
    """Resize (N, C, H, W) inputs to ``size`` or by ``scale_factor``; no parameters.

    Args:
        size: output (H_out, W_out) or one int.
        scale_factor: multiplier for H and W (a number or a pair).
        mode: ``"nearest"`` or ``"bilinear"``.
        align_corners: bilinear only (see ``F.interpolate``).
        recompute_scale_factor: as ``F.interpolate``.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``, H_out = size[0] or floor(H * scale_factor).

    Example:
        >>> Upsample(scale_factor=2, mode="nearest")(cnnlab.randn(1, 1, 3, 3)).shape
        (1, 1, 6, 6)
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        choice("Upsample", "mode", mode, INTERPOLATE_MODES)
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: exactly one of `size` and `scale_factor` must be given. "
                             f"Received: size={size!r}, scale_factor={scale_factor!r}")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}" + (f", align_corners={self.align_corners}"
                                                 if self.align_corners is not None else "")


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode="nearest")``, as ``torch.nn.UpsamplingNearest2d``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode="bilinear", align_corners=True)``, as ``torch.nn.UpsamplingBilinear2d``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
