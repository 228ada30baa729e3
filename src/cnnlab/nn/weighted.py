"""The base of ``Linear`` and the convolutions: a ``weight``, an optional ``bias``, PyTorch's default init."""

import math

from ..validation import bool_arg
from . import init
from .module import Module
from .parameter import _empty_parameter


class _WeightAndBias(Module):
    """A layer with a ``weight`` and an optional ``bias`` of ``out`` entries, initialised as torch.nn's
    Linear and Conv layers are (same distributions, so recipes tuned in PyTorch carry over)."""

    def _make_parameters(self, fn, weight_shape, out, bias, dtype, device):
        """Create ``weight`` (``weight_shape``) and ``bias`` (``(out,)``, or None when ``bias`` is False)."""
        bool_arg(fn, "bias", bias)
        self.weight = _empty_parameter(fn, weight_shape, dtype, device)
        if bias:
            self.bias = _empty_parameter(fn, (out,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: weight ~ kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)
