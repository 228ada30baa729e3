"""What the per-layer tables (``summary``, ``receptive_field``) share: which modules are layers, the
window geometry of a layer, each call's row name, one forward pass with hooks on the layers, and the
table's access to its rows (``LayerTable``).

Kept below both tables so neither imports the other.
"""

import json
from contextlib import contextmanager

from .. import nn
from ..validation import is_int


def check_input_size(fn, input_size):
    """``input_size`` (one int or a tuple of positive ints, the shape without the batch axis) as a tuple."""
    if is_int(input_size):
        input_size = (input_size,)
    if not isinstance(input_size, (tuple, list)) or not input_size or not all(
            is_int(v) and v >= 1 for v in input_size):
        raise ValueError(f"{fn}: `input_size` must be a tuple of positive ints, the shape of one input without "
                         f"the batch axis, e.g. (3, 224, 224). Received: input_size={input_size!r}")
    return tuple(int(v) for v in input_size)


def leaf_modules(model):
    """(name, module) of every layer: a module without children, or one with parameters of its own."""
    return [(name, m) for name, m in model.named_modules()
            if not m._modules or any(p is not None for p in m._parameters.values())]


def call_name(calls, name):
    """The row name of a layer call: ``name``, then "name (2)", ... when a layer is called again
    (ResNet's shared ReLU); ``calls`` counts the calls so far."""
    calls[name] = calls.get(name, 0) + 1
    return name if calls[name] == 1 else f"{name} ({calls[name]})"


@contextmanager
def hooked(model, modules, pre_hook, hook):
    """For the block: ``pre_hook`` and ``hook`` on each of ``modules`` and ``model`` in evaluation mode;
    afterwards the hooks are removed and every module's mode restored, whatever happened."""
    modes = [(m, m.training) for m in model.modules()]
    handles = []
    for m in modules:
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(hook))
    try:
        model.eval()
        yield
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes:
            m.training = mode


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def layer_geometry(module):
    """``(kernel, stride, pad_before, pad_total, dilation, ceil_mode)`` (pairs) of a windowed layer, else None.

    Windowed layers are convolutions and every pooling layer with a ``kernel_size``.
    """
    kernel = getattr(module, "kernel_size", None)
    if kernel is None or isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return None
    if isinstance(module, nn.FractionalMaxPool2d):
        return None
    kernel = _pair(kernel)
    stride = _pair(getattr(module, "stride", None) or kernel)
    dilation = _pair(getattr(module, "dilation", 1) or 1)
    padding = getattr(module, "padding", 0)
    if padding == "valid":
        before, total = (0, 0), (0, 0)
    elif padding == "same":
        total = tuple(d * (k - 1) for d, k in zip(dilation, kernel))
        before = tuple(t // 2 for t in total)
    elif isinstance(padding, (tuple, list)) and padding and isinstance(padding[0], (tuple, list)):
        before = (padding[0][0], padding[1][0])
        total = (padding[0][0] + padding[0][1], padding[1][0] + padding[1][1])
    else:
        before = _pair(padding)
        total = tuple(2 * p for p in before)
    ceil_mode = bool(getattr(module, "ceil_mode", False))
    return kernel, stride, before, total, dilation, ceil_mode


def window_output_size(size, kernel, stride, pad_total, dilation, ceil_mode):
    """floor((size + pad_total - dilation * (kernel - 1) - 1) / stride) + 1 (ceil with ``ceil_mode``).

    With ``ceil_mode`` the last window must start inside the input or its left padding, as in PyTorch.
    Returns a value < 1 when the window does not fit.
    """
    span = size + pad_total - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad_total // 2:
            out -= 1
        return out
    return span // stride + 1


class LayerTable:
    """Row access shared by the per-layer tables: ``len(table)``, ``for row in table``, ``table[name]``.

    Subclasses keep one row per layer call in ``self.rows`` (each with a ``name``) and name the function
    that builds them in ``_fn``, for the lookup error.
    """

    _fn = None

    def __getitem__(self, name):
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"{self._fn}: no layer named {name!r}; layers: {', '.join(r.name for r in self.rows)}")

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def to_json(self, indent=2):
        """``to_dict()`` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)
