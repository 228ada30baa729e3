"""``LSTMCell``: one step of a long short-term memory (Hochreiter & Schmidhuber 1997), as PyTorch's.

Written from cnnlab's own ops (two ``linear``, slicing, ``sigmoid``, ``tanh``), so its gradient is
autograd's; a sequence is a Python loop over the steps, e.g. a captioner's decoder.
"""

import math

from .. import backend
from ..functional import activation as Fact
from ..functional import basic as Fbasic
from ..tensor import Tensor
from ..validation import bool_arg, floating, int_arg, tensor_arg, tensor_like
from . import init
from .module import Module
from .parameter import _empty_parameter


class LSTMCell(Module):
    """One LSTM step: input and state (h, c) -> the next state (h', c').

    The four gates come from one product each with the input and with h, stacked in PyTorch's order
    i, f, g, o::

        i, f, g, o = split4(x W_ih^T + b_ih + h W_hh^T + b_hh)
        c' = sigmoid(f) * c + sigmoid(i) * tanh(g)        # forget some memory, write some new
        h' = sigmoid(o) * tanh(c')                        # expose some of it

    Args:
        input_size: features of the input x.
        hidden_size: features of h and c (H).
        bias: learn ``bias_ih`` and ``bias_hh``. Default: True.
        device, dtype: where and in which floating dtype the parameters live.

    Attributes:
        weight_ih ``(4H, input_size)``, weight_hh ``(4H, H)``, bias_ih ``(4H,)``, bias_hh ``(4H,)``,
        every one initialised U(-1/sqrt(H), 1/sqrt(H)) as PyTorch; state-dict keys are PyTorch's.

    Shape:
        input ``(N, input_size)`` or unbatched ``(input_size,)``; hx ``(h, c)`` each ``(N, H)`` (or
        ``(H,)``), zeros when None; returns ``(h', c')`` of the same shapes.

    Example:
        >>> cell = LSTMCell(10, 20)
        >>> h, c = cell(cnnlab.randn(3, 10))
        >>> h, c = cell(cnnlab.randn(3, 10), (h, c))     # the next step
        >>> h.shape
        (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size = int_arg("LSTMCell", "input_size", input_size, minimum=1)
        self.hidden_size = int_arg("LSTMCell", "hidden_size", hidden_size, minimum=1)
        self.bias = bool_arg("LSTMCell", "bias", bias)
        gates = 4 * self.hidden_size
        self.weight_ih = _empty_parameter("LSTMCell", (gates, self.input_size), dtype, device)
        self.weight_hh = _empty_parameter("LSTMCell", (gates, self.hidden_size), dtype, device)
        if bias:
            self.bias_ih = _empty_parameter("LSTMCell", (gates,), dtype, device)
            self.bias_hh = _empty_parameter("LSTMCell", (gates,), dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters(recurse=False):
            init.uniform_(p, -bound, bound)

    def forward(self, input, hx=None):
        fn = "LSTMCell"
        input = floating(fn, "input", tensor_arg(fn, "input", input, ndim=(1, 2),
                                                 shape_hint="(N, input_size) or (input_size,)"))
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{fn}: input has {input.shape[-1]} features but the cell expects "
                             f"input_size={self.input_size} (input shape {input.shape})")
        batched = input.ndim == 2
        x = input if batched else input.reshape(1, self.input_size)
        h, c = self._state(hx, x, batched)
        H = self.hidden_size
        gates = (Fbasic.linear(x, self.weight_ih, self.bias_ih)
                 + Fbasic.linear(h, self.weight_hh, self.bias_hh))   # (N, 4H)
        i = Fact.sigmoid(gates[:, :H])                    # input gate        (N, H) each
        f = Fact.sigmoid(gates[:, H:2 * H])               # forget gate
        g = Fact.tanh(gates[:, 2 * H:3 * H])              # candidate memory
        o = Fact.sigmoid(gates[:, 3 * H:])                # output gate
        c = f * c + i * g
        h = o * Fact.tanh(c)
        if not batched:
            return h.reshape(H), c.reshape(H)
        return h, c

    def _state(self, hx, x, batched):
        """``hx`` as ``(h, c)``, each (N, H), zeros when None; one line naming what does not fit."""
        fn, n, H = "LSTMCell", x.shape[0], self.hidden_size
        if hx is None:
            xp = backend.get_array_module(x._data)
            return Tensor(xp.zeros((n, H), x.dtype)), Tensor(xp.zeros((n, H), x.dtype))
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            size = f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else ""
            raise TypeError(f"{fn}: `hx` must be a pair (h, c) of tensors or None. "
                            f"Received a {type(hx).__name__}{size}")
        want = (n, H) if batched else (H,)
        state = []
        why = f" for input of shape {(n, self.input_size) if batched else (self.input_size,)}"
        for name, t in zip(("h", "c"), hx):
            t = tensor_like(fn, name, t, want, x.dtype, "input's", why)
            state.append(t if batched else t.reshape(1, H))
        return state

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
