"""The layer-by-layer table of a model: output shapes, parameters, activation memory and multiply-adds.

``summary(model, input_size)`` runs one forward pass on a random input (in evaluation mode, without
recording gradients, restoring each module's mode afterwards) with hooks on every leaf layer, and
returns a ``Summary``: one row per layer call, in execution order, so branching models (Inception,
ResNet, DenseNet) and any user-defined ``Module`` work the same as a ``Sequential``.

What is counted:

* **Parameters** of each row are the layer's own; the totals count every parameter of the model once
  (shared ones once), including layers the forward pass did not run (GoogLeNet's auxiliary heads
  in evaluation mode), which the footer reports separately. Frozen = ``requires_grad`` False.
* **Activations** of a row are the elements of its output (for the whole batch). The *forward
  activation memory* (``total_activations``, per image) is the input plus every row's output, except
  outputs that need no new memory: activation functions (ReLU, Tanh, ...) and dropout are counted as
  computed in place -- the convention of the lectures' VGG table -- and views or identities of the
  input (Flatten, Identity, an adaptive pool to the size it already has) add nothing. Those rows are
  still listed, marked "in place", "view" or "identity". The lectures' rough rule for training is
  twice that: the backward pass keeps a gradient of the same size for every activation
  (``training_activation_bytes``).
* **Multiply-adds** (MACs) of a row, for the whole batch: convolution ``out_elements * (C_in / groups)
  * kH * kW``; linear ``out_elements * in_features`` (= batch * in * out); BatchNorm one per element
  (inference folds it into a scale and a shift); LRN ``size`` per element (the sum of squares over the
  neighbouring channels); average pooling ``kH * kW`` per output (adaptive: one per input element);
  max pooling, activation functions, dropout and reshapes none (they compare or select, they do not
  multiply-add); biases are not counted. Other layers count 0.

VGG16 on 3x224x224 (the lectures' table): CONV3-64 -> 224x224x64 = 3,211,264 values and
(3*3*3)*64 = 1,728 weights (+ 64 biases), ..., FC 4096*1000 weights; 138,357,544 parameters
(138,344,128 weights + 13,416 biases); forward activations 15,237,608 values per image = 60.95 MB
in float32, about 122 MB per image with the backward pass. NOTE: the slide's "TOTAL memory: 24M * 4
bytes ~= 93MB / image" does not follow from its own rows: the rows (input plus each conv/pool/FC
output, ReLU in place) sum to about 15.2M values, ~61 MB per image forward; this table gives the sum.
"""

from dataclasses import asdict, dataclass

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..nn.parameter import _floating_dtype
from ..tensor import Tensor
from ..validation import is_int
from .layers import (LayerTable, call_name, check_input_size, hooked, layer_geometry, leaf_modules,
                     window_output_size)

__all__ = ["summary", "Summary", "LayerRow", "count_parameters"]

# Element-wise activation functions: counted as computed in place (the lectures' convention).
IN_PLACE_TYPES = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Hardtanh, nn.ReLU6, nn.Sigmoid, nn.Tanh,
                  nn.Dropout, nn.Dropout2d)


@dataclass
class LayerRow:
    """One layer call of the summary table (values for the whole batch).

    ``memory`` says how the output is counted in the forward activation memory: ``"new"`` (counted),
    ``"in place"`` (activation functions, dropout), ``"view"`` (shares the input's memory) or
    ``"identity"`` (returns its input unchanged); only ``"new"`` rows are counted.
    """

    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    params: int
    trainable: int
    frozen: int
    activations: int
    activation_bytes: int
    macs: int
    memory: str = "new"

    @property
    def counted(self):
        """Whether this row's output is part of the forward activation memory."""
        return self.memory == "new"


def count_parameters(model, trainable_only=False):
    """Number of scalar parameters of ``model`` (each shared parameter once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _human_bytes(n):
    return f"{n / 1e6:,.2f} MB"


def _human_count(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


class Summary(LayerTable):
    """The table ``summary`` returns: ``rows`` (``LayerRow``) and totals.

    Totals (per image unless named ``_batch``):
        total_params, trainable_params, frozen_params, param_bytes: the whole model's parameters.
        unused_params: parameters of layers the traced forward pass did not run.
        input_elements: values of one input.
        total_activations: forward activation memory in values: the input plus every row counted "new".
        activation_bytes: the same in bytes (each output in its own dtype).
        training_activation_bytes: 2 x activation_bytes, the lectures' rough figure with backward.
        total_macs: multiply-adds of one forward pass.

    ``str(summary)`` prints a Keras-like table; ``to_dict()``, ``to_json()`` and ``to_markdown()``
    export it; ``summary[name]`` finds a row by layer name.
    """

    _fn = "summary"

    def __init__(self, model_name, input_shape, dtype, rows, params, trainable, param_bytes, unused_params,
                 input_bytes):
        self.model_name = model_name
        self.input_shape = tuple(input_shape)
        self.batch_size = self.input_shape[0]
        self.dtype = str(np.dtype(dtype))
        self.rows = rows
        self.total_params = params
        self.trainable_params = trainable
        self.frozen_params = params - trainable
        self.param_bytes = param_bytes
        self.unused_params = unused_params
        n = self.batch_size
        self.input_elements = int(np.prod(self.input_shape[1:]))
        counted = [r for r in rows if r.counted]
        self.total_activations = self.input_elements + sum(r.activations for r in counted) // n
        self.activation_bytes = input_bytes // n + sum(r.activation_bytes for r in counted) // n
        self.training_activation_bytes = 2 * self.activation_bytes
        self.total_macs = sum(r.macs for r in rows) // n
        self.all_activations = self.input_elements + sum(r.activations for r in rows) // n

    # ------------------------------------------------------------------ export
    def totals(self):
        """The totals as a dict (per image, and for the batch where they scale with it)."""
        n = self.batch_size
        return {
            "params": self.total_params, "trainable_params": self.trainable_params,
            "frozen_params": self.frozen_params, "param_bytes": self.param_bytes,
            "unused_params": self.unused_params,
            "input_elements": self.input_elements,
            "activations_per_image": self.total_activations,
            "activation_bytes_per_image": self.activation_bytes,
            "training_activation_bytes_per_image": self.training_activation_bytes,
            "all_outputs_per_image": self.all_activations,
            "macs_per_image": self.total_macs,
            "activation_bytes_batch": self.activation_bytes * n,
            "macs_batch": self.total_macs * n,
        }

    def to_dict(self):
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["input_shape"] = _listify(r.input_shape)
            d["output_shape"] = _listify(r.output_shape)
            d["counted"] = r.counted
            rows.append(d)
        return {"model": self.model_name, "input_shape": list(self.input_shape), "batch_size": self.batch_size,
                "dtype": self.dtype, "layers": rows, "totals": self.totals()}

    def _cells(self):
        head = ["Layer (type)", "Output shape", "Param #", "Activations", "Mult-adds"]
        body = []
        for r in self.rows:
            acts = f"{r.activations:,}" if r.counted else r.memory
            params = f"{r.params:,}" + (f" ({r.frozen:,} frozen)" if r.frozen else "")
            body.append([f"{r.name} ({r.type})", _shape_str(r.output_shape), params, acts, f"{r.macs:,}"])
        return head, body

    def _footer(self):
        t = self
        lines = [
            f"Total params: {t.total_params:,} ({_human_bytes(t.param_bytes)})",
            f"Trainable params: {t.trainable_params:,}",
            f"Non-trainable params: {t.frozen_params:,}",
        ]
        if t.unused_params:
            lines.append(f"Params in layers this forward pass did not run: {t.unused_params:,}")
        itemsize = np.dtype(self.dtype).itemsize
        lines += [
            f"Input per image: {t.input_elements:,} values ({_human_bytes(t.input_elements * itemsize)})",
            f"Forward activations per image: {t.total_activations:,} values ({_human_bytes(t.activation_bytes)}), "
            f"input included, activation functions in place",
            f"Forward + backward (x2) per image: {_human_bytes(t.training_activation_bytes)}",
            f"Multiply-adds per image: {t.total_macs:,} ({_human_count(t.total_macs)})",
        ]
        if t.batch_size > 1:
            batch_bytes = _human_bytes(t.activation_bytes * t.batch_size)
            lines.append(f"For the batch of {t.batch_size}: activations {batch_bytes}, "
                         f"multiply-adds {_human_count(t.total_macs * t.batch_size)}")
        return lines

    def __str__(self):
        head, body = self._cells()
        widths = [max(len(x) for x in col) for col in zip(head, *body)] if body else [len(h) for h in head]
        line_len = sum(widths) + 3 * (len(widths) - 1)

        def fmt(cells):
            return "   ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        out = [f'Model: "{self.model_name}"   input {_shape_str(self.input_shape)} {self.dtype}', "=" * line_len,
               fmt(head), "=" * line_len]
        out += [fmt(cells) for cells in body]
        out.append("=" * line_len)
        out += self._footer()
        return "\n".join(out)

    def __repr__(self):
        return str(self)

    def to_markdown(self):
        head, body = self._cells()
        lines = [f"**{self.model_name}**, input `{_shape_str(self.input_shape)}` {self.dtype}", "",
                 "| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
        lines.append("")
        lines += [f"- {line}" for line in self._footer()]
        return "\n".join(lines)


def _listify(shape):
    if isinstance(shape, tuple) and shape and isinstance(shape[0], tuple):
        return [list(s) for s in shape]
    return list(shape)


def _shape_str(shape):
    if isinstance(shape, tuple) and shape and isinstance(shape[0], tuple):
        return ", ".join(str(s) for s in shape)
    return str(tuple(shape))


def _tensors(output):
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for t in output if isinstance(t, Tensor)]
    return []


def _macs(module, inputs, out):
    """Multiply-adds of one call for the whole batch (see the module docstring)."""
    x = inputs[0] if inputs and isinstance(inputs[0], Tensor) else None
    n_out = int(out._data.size)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return n_out * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return n_out * module.in_features
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return n_out
    if isinstance(module, nn.LocalResponseNorm):
        return n_out * module.size
    if isinstance(module, nn.AvgPool2d):
        k = module.kernel_size
        kh, kw = k if isinstance(k, (tuple, list)) else (k, k)
        return n_out * kh * kw
    if isinstance(module, nn.AdaptiveAvgPool2d) and x is not None:
        return 0 if tuple(x.shape) == tuple(out.shape) else int(x._data.size)
    return 0


def _memory_kind(module, inputs, out):
    x = inputs[0] if inputs and isinstance(inputs[0], Tensor) else None
    if x is not None and (out is x or backend.get_array_module(out._data).may_share_memory(out._data, x._data)):
        return "view"
    if isinstance(module, IN_PLACE_TYPES):
        return "in place"
    if (isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Identity)) and x is not None
            and tuple(x.shape) == tuple(out.shape)):
        return "identity"
    return "new"


def _volume(shape):
    """'HxWxC' (the lectures' way of writing a volume) for an (N, C, H, W) shape."""
    if len(shape) == 4:
        return f"{shape[2]}x{shape[3]}x{shape[1]}"
    return "x".join(map(str, shape[1:]))


class _TraceError(Exception):
    """Carries an error raised inside a layer out of the forward pass, with the layer's name."""


class _Tracer:
    """The forward hooks of ``summary``: one ``LayerRow`` per layer call, and a clear error where the
    volume becomes empty."""

    def __init__(self, fn, model, input_size):
        self.fn, self.model_name, self.input_size = fn, type(model).__name__, input_size
        self.layers = leaf_modules(model)
        self.names = {id(m): name or self.model_name for name, m in self.layers}
        self.rows, self.calls, self.seen_params = [], {}, set()
        self.stack = []   # (module, input shape) of the calls under way, innermost last

    def too_small(self, where):
        return _TraceError(f"{self.fn}: input {'x'.join(map(str, self.input_size))} is too small for "
                           f"{self.model_name}: the volume becomes empty at layer {where}")

    def pre_hook(self, module, args):
        x = args[0] if args else None
        self.stack.append((module, tuple(x.shape) if isinstance(x, Tensor) else ()))
        geo = layer_geometry(module)
        if geo is not None and isinstance(x, Tensor) and x.ndim >= 3:
            kernel, stride, _, pad_total, dilation, ceil_mode = geo
            out = [window_output_size(s, k, st, p, d, ceil_mode)
                   for s, k, st, p, d in zip(x.shape[-2:], kernel, stride, pad_total, dilation)]
            if min(out) < 1:
                raise self.too_small(
                    f"{self.names[id(module)]!r} ({type(module).__name__}, kernel {kernel[0]}x{kernel[1]}, "
                    f"stride {stride[0]}x{stride[1]}, padding {pad_total[0] // 2}x{pad_total[1] // 2}), which "
                    f"received a volume of {_volume(x.shape)} (shape {tuple(x.shape)}); its output would be "
                    f"{out[0]}x{out[1]}")

    def hook(self, module, args, output):
        self.stack.pop()
        outs = _tensors(output)
        name = call_name(self.calls, self.names[id(module)])
        for t in outs:
            if t._data.size == 0:
                raise self.too_small(
                    f"{name!r} ({type(module).__name__}), which received a volume of "
                    f"{_volume(args[0].shape) if args else '?'} and returned shape {tuple(t.shape)}")
        self.rows.append(self.row(module, name, args, outs))

    def row(self, module, name, args, outs):
        """The layer call's row; its parameters count only at the first call that uses them."""
        own = [p for p in module._parameters.values() if p is not None and id(p) not in self.seen_params]
        self.seen_params.update(id(p) for p in own)
        params = sum(p.numel() for p in own)
        trainable = sum(p.numel() for p in own if p.requires_grad)
        main = outs[0] if outs else None
        in_shape = tuple(args[0].shape) if args and isinstance(args[0], Tensor) else ()
        out_shape = tuple(main.shape) if len(outs) == 1 else tuple(tuple(t.shape) for t in outs)
        return LayerRow(
            name=name, type=type(module).__name__, input_shape=in_shape, output_shape=out_shape,
            params=params, trainable=trainable, frozen=params - trainable,
            activations=sum(int(t._data.size) for t in outs),
            activation_bytes=sum(int(t._data.nbytes) for t in outs),
            macs=_macs(module, args, main) if main is not None else 0,
            memory=_memory_kind(module, args, main) if main is not None else "new")

    def failed_layer(self, shape, error):
        """The ValueError for ``error`` raised inside the innermost layer under way (None if none was)."""
        if not self.stack:
            return None
        module, in_shape = self.stack[-1]
        return ValueError(f"{self.fn}: the forward pass of {self.model_name} on input {shape} failed at layer "
                          f"{self.names.get(id(module), type(module).__name__)!r} ({type(module).__name__}), "
                          f"which received shape {in_shape}: {error}")


def _summary_args(fn, input_size, batch_size, dtype):
    """(input_size as a tuple, batch_size, dtype as a NumPy floating dtype), checked."""
    input_size = check_input_size(fn, input_size)
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"{fn}: `batch_size` must be a positive int. Received: batch_size={batch_size!r}")
    return input_size, int(batch_size), _floating_dtype(fn, dtype)


def summary(model, input_size, batch_size=1, dtype="float32"):
    """Run ``model`` once on a random input of ``(batch_size,) + input_size`` and tabulate every layer.

    Args:
        model: any ``Module`` that takes one tensor.
        input_size: the shape of one input without the batch axis, e.g. (3, 224, 224).
        batch_size: images in the traced batch; rows are for the batch, totals per image. Default: 1.
        dtype: dtype of the input. Default: ``"float32"``.

    Returns:
        ``Summary``: rows per layer call and totals (see the module docstring for what is counted).

    Raises:
        ValueError: ``input_size`` too small for the architecture -- naming the first layer where the
            volume would become empty and the volume it received there; or any other failure inside a
            layer, naming the layer and the shape it received.

    Example:
        >>> print(summary(models.vgg16(), (3, 224, 224)))      # the lectures' VGG16 table
    """
    fn = "summary"
    input_size, batch_size, dtype = _summary_args(fn, input_size, batch_size, dtype)
    shape = (batch_size,) + input_size
    tracer = _Tracer(fn, model, input_size)
    data = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    first = next(iter(model.parameters()), None)
    # The input lives where the model's parameters do (a GPU model gets a GPU input).
    x = Tensor(backend.get_array_module(first._data).asarray(data) if first is not None else data)
    try:
        with hooked(model, [m for _, m in tracer.layers], tracer.pre_hook, tracer.hook), no_grad():
            model(x)
    except _TraceError as e:
        raise ValueError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - report the layer that failed
        error = tracer.failed_layer(shape, e)
        if error is None:
            raise
        raise error from e

    all_params = list(model.parameters())
    total = sum(p.numel() for p in all_params)
    trainable = sum(p.numel() for p in all_params if p.requires_grad)
    param_bytes = sum(int(p._data.nbytes) for p in all_params)
    unused = sum(p.numel() for p in all_params if id(p) not in tracer.seen_params)
    return Summary(tracer.model_name, shape, dtype, tracer.rows, total, trainable, param_bytes, unused,
                   int(x._data.nbytes))
