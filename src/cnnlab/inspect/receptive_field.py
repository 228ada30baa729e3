"""Receptive field of every layer: how large a patch of the input one unit sees, and where.

For a chain of convolutions and pools the receptive field follows three recurrences (from the input,
where r = 1, j = 1, start = 0.5, the centre of the first pixel), per spatial dimension, with the
layer's effective kernel k = dilation * (kernel - 1) + 1, stride s and padding p before the input:

    r_out     = r_in + (k - 1) * j_in              size of the input patch one unit sees
    j_out     = j_in * s                           distance, in input pixels, between adjacent units
    start_out = start_in + ((k - 1) / 2 - p) * j_in   centre of the first unit's patch

So three stacked 3x3 convolutions see 1 + 2 + 2 + 2 = 7 pixels, as one 7x7 does. Sizes count padded
positions too: near the border part of the patch lies outside the image.

Branching models (Inception, ResNet, DenseNet) are followed through every path: the forward pass is
recorded and where paths meet (a concatenation, an addition) the receptive field is the union of
theirs -- the largest along any path, e.g. a ResNet block's is its convolutions', not the shortcut's.
Layers that keep the spatial size (BatchNorm, ReLU, LRN, dropout, ...) pass it through; adaptive pools
are windows of size ceil(H / oH) and stride H / oH; after a global pool, a flatten or a fully
connected layer every unit sees the whole input (``global_`` is set and the size is the input's).
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

from .. import backend, nn
from ..autograd import Node, enable_grad
from ..tensor import Tensor
from .layers import LayerTable, call_name, check_input_size, hooked, layer_geometry, leaf_modules

__all__ = ["receptive_field", "ReceptiveField", "RFRow"]


@dataclass
class RFRow:
    """One layer call: its receptive field (size), jump and start per spatial dimension (H, W)."""

    name: str
    type: str
    output_shape: tuple
    size: tuple
    jump: tuple
    start: tuple
    global_: bool = False


@dataclass
class _Info:
    size: tuple
    jump: tuple
    start: tuple
    global_: bool = False


def _union(infos):
    """Where paths meet: the union of their (centred) patches; the largest jump."""
    if len(infos) == 1:
        return infos[0]
    size, jump, start = [], [], []
    for d in range(2):
        lo = min(i.start[d] - i.size[d] / 2 for i in infos)
        hi = max(i.start[d] + i.size[d] / 2 for i in infos)
        size.append(hi - lo)
        start.append((lo + hi) / 2)
        jump.append(max(i.jump[d] for i in infos))
    return _Info(tuple(size), tuple(jump), tuple(start), any(i.global_ for i in infos))


def _clean(v):
    """Whole numbers as ints (7 rather than 7.0) for printing and comparison."""
    return int(v) if float(v).is_integer() else round(float(v), 4)


class ReceptiveField(LayerTable):
    """The per-layer receptive-field table ``receptive_field`` returns.

    Attributes:
        rows: one ``RFRow`` per layer call, in execution order.
        input_size: the (C, H, W) the model was traced with.
        final: the last row.

    ``str()`` prints a table; ``to_dict()`` / ``to_json()`` / ``to_markdown()`` export it; ``table[name]``
    finds a row by layer name.
    """

    _fn = "receptive_field"

    def __init__(self, rows, input_size, model_name):
        self.rows = rows
        self.input_size = tuple(input_size)
        self.model_name = model_name

    @property
    def final(self):
        return self.rows[-1] if self.rows else None

    @staticmethod
    def _fmt(pair):
        a, b = (_clean(v) for v in pair)
        return f"{a}" if a == b else f"{a}x{b}"

    def _table(self):
        head = ["Layer (type)", "Output shape", "Receptive field", "Jump", "Start"]
        body = []
        for r in self.rows:
            size = f"{self._fmt(r.size)} (global)" if r.global_ else self._fmt(r.size)
            body.append([f"{r.name} ({r.type})", str(r.output_shape), size,
                         "-" if r.global_ else self._fmt(r.jump), "-" if r.global_ else self._fmt(r.start)])
        return head, body

    def __str__(self):
        head, body = self._table()
        widths = [max(len(x) for x in col) for col in zip(head, *body)] if body else [len(h) for h in head]
        line = "=" * (sum(widths) + 2 * (len(widths) - 1))
        fmt = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                      for i, (c, w) in enumerate(zip(cells, widths)))
        out = [f"Receptive fields of {self.model_name} on input {'x'.join(map(str, self.input_size))}", line,
               fmt(head), line]
        out += [fmt(cells) for cells in body]
        out.append(line)
        return "\n".join(out)

    __repr__ = __str__

    def to_markdown(self):
        head, body = self._table()
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)

    def to_dict(self):
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["output_shape"] = list(r.output_shape)
            for key in ("size", "jump", "start"):
                d[key] = [_clean(v) for v in d[key]]
            d["global"] = d.pop("global_")
            rows.append(d)
        return {"model": self.model_name, "input_size": list(self.input_size), "layers": rows}


def _spatial(shape):
    return tuple(shape[-2:]) if len(shape) >= 3 else None


def _through_window(inf, kernel, stride, before):
    """The recurrences of the module docstring, per axis, for a window of effective size ``kernel``."""
    size, jump, start = [], [], []
    for d in range(2):
        k = kernel[d]
        size.append(inf.size[d] + (k - 1) * inf.jump[d])
        jump.append(inf.jump[d] * stride[d])
        start.append(inf.start[d] + ((k - 1) / 2 - before[d]) * inf.jump[d])
    return _Info(tuple(size), tuple(jump), tuple(start))


class _Tracer:
    """The forward hooks of ``receptive_field``: each layer call's receptive field, from its input's."""

    def __init__(self, model, input_size):
        h, w = input_size[1:]
        self.whole = _Info((float(h), float(w)), (float(h), float(w)), (h / 2, w / 2), True)
        self.known = {}     # id(tensor) -> (tensor, _Info); the tensor is kept so its id stays unique
        self.pending = {}   # id(module) -> (_Info, input shape) between its pre-hook and its hook
        self.calls = {}
        self.rows = []
        self.layers = leaf_modules(model)
        self.names = {id(m): name or type(m).__name__ for name, m in self.layers}

    def info_of(self, t):
        """The receptive field of tensor ``t``: recorded, or found by walking back its graph to recorded ones."""
        found, stack, seen = [], [t], set()
        while stack:
            cur = stack.pop()
            if id(cur) in seen:
                continue
            seen.add(id(cur))
            # The graph's entries are leaf tensors and the nodes that made the other tensors.
            made = cur.output() if isinstance(cur, Node) else cur
            if made is not None and id(made) in self.known:
                found.append(self.known[id(made)][1])
                continue
            node = cur if isinstance(cur, Node) else getattr(cur, "_node", None)
            if node is not None:
                stack.extend(i for i in node.inputs if i is not None)
        return _union(found) if found else self.whole

    def pre_hook(self, module, args):
        x = args[0] if args else None
        if isinstance(x, (list, tuple)):  # DenseNet layers take the list of earlier maps
            infos = [self.info_of(a) for a in x if isinstance(a, Tensor)]
            self.pending[id(module)] = (_union(infos) if infos else self.whole, tuple(x[0].shape) if x else ())
        elif isinstance(x, Tensor):
            self.pending[id(module)] = (self.info_of(x), tuple(x.shape))
        else:
            self.pending[id(module)] = (self.whole, ())

    def hook(self, module, args, output):
        inf, in_shape = self.pending.pop(id(module), (self.whole, ()))
        out = output[0] if isinstance(output, tuple) else output
        if not isinstance(out, Tensor):
            return None
        out_shape = tuple(out.shape)
        name = call_name(self.calls, self.names.get(id(module), type(module).__name__))
        res = self.layer_info(module, name, inf, in_shape, out_shape)
        self.known[id(out)] = (out, res)
        self.rows.append(RFRow(name, type(module).__name__, out_shape, tuple(_clean(v) for v in res.size),
                               tuple(_clean(v) for v in res.jump), tuple(_clean(v) for v in res.start),
                               res.global_))
        return None

    def layer_info(self, module, name, inf, in_shape, out_shape):
        """The receptive field after ``module``, given the one of its input."""
        geo = layer_geometry(module)
        in_sp, out_sp = _spatial(in_shape), _spatial(out_shape)
        if inf.global_ or out_sp is None or len(out_shape) < 4:
            return self.whole
        if geo is not None:
            kernel, stride, before, _, dilation, _ = geo
            span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
            return _through_window(inf, span, stride, before)
        if in_sp == out_sp:
            return inf
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and in_sp is not None:
            if out_sp == (1, 1):
                return self.whole
            # windows of ceil(H / oH) cells, H / oH apart, starting at the first cell
            kernel = tuple(math.ceil(i / o) for i, o in zip(in_sp, out_sp))
            return _through_window(inf, kernel, tuple(i / o for i, o in zip(in_sp, out_sp)), (0, 0))
        raise ValueError(f"receptive_field: cannot follow layer {name!r} ({type(module).__name__}): it changes "
                         f"the spatial size from {in_sp[0]}x{in_sp[1]} to {out_sp[0]}x{out_sp[1]} and is not a "
                         f"convolution or pooling layer")


def receptive_field(model, input_size):
    """Trace ``model`` on a (C, H, W) input and return each layer's receptive field size, jump and start.

    Args:
        model: any ``Module`` taking one NCHW tensor.
        input_size: (C, H, W) of one input.

    Returns:
        ``ReceptiveField``: ``rows`` in execution order (one per layer call), printable as a table.

    Raises:
        ValueError: for a bad ``input_size``, or a layer that changes the spatial size but is neither a
            convolution nor a pooling layer (its geometry is unknown).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))
        >>> receptive_field(net, (1, 32, 32)).final.size
        (7, 7)
    """
    input_size = check_input_size("receptive_field", input_size)
    if len(input_size) != 3:
        raise ValueError(f"receptive_field: `input_size` must be (C, H, W). Received: input_size={input_size}")
    tracer = _Tracer(model, input_size)
    with hooked(model, [m for _, m in tracer.layers], tracer.pre_hook, tracer.hook):
        first = next(iter(model.parameters()), None)
        xp = backend.get_array_module(first._data) if first is not None else np
        x = Tensor(xp.zeros((1,) + input_size, dtype=first.dtype if first is not None else np.float32),
                   requires_grad=True)
        tracer.known[id(x)] = (x, _Info((1.0, 1.0), (1.0, 1.0), (0.5, 0.5)))
        with enable_grad():
            model(x)
    return ReceptiveField(tracer.rows, input_size, type(model).__name__)
