"""ONNX export by tracing: run the model once and record every op it applies, then write the same graph in ONNX.

Every differentiable op in cnnlab is a ``Function`` applied through ``Function.apply``; during the trace
that method is wrapped, so each application (its Function, its input tensors, its settings and its output)
is recorded in order, whatever Python the model's ``forward`` runs: ResNet's additions, Inception's and
DenseNet's concatenations and any functional call are captured as they happen. Forward hooks on the
modules tell which layer each op belongs to, for node names and for errors. Each recorded op then maps to
standard ONNX operators (Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, LRN, Relu,
Gemm, Concat, Add, Flatten, Dropout, Softmax, ...); parameters and buffers become initializers under their
state-dict names. An op ONNX cannot express raises ``OnnxExportError`` naming the layer and the op.

Needs the ``onnx`` package (``pip install 'cnnlab[onnx]'``); ``onnxruntime`` runs the result.
"""

import os

import numpy as np

from .. import backend, resources
from ..autograd import no_grad
from ..autograd.function import Function
from ..functional import activation as _act
from ..functional import basic as _basic
from ..functional import conv as _convmod
from ..functional import elementwise as _ew
from ..functional import norm as _norm
from ..functional import padding as _padding
from ..functional.pooling import adaptive as _pool_adaptive
from ..functional.pooling import avg as _pool_avg
from ..functional.pooling import max as _pool_max
from ..functional import reduce as _reduce
from ..functional import shape as _shape
from ..nn import Dropout, Dropout2d, Module
from ..tensor import Tensor

DEFAULT_OPSET = 17


class OnnxExportError(ValueError):
    """The model uses an op (or a setting of an op) that the ONNX export cannot write."""


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("export_onnx needs the onnx package: pip install 'cnnlab[onnx]' (or pip install onnx)") from None
    return onnx


# ------------------------------------------------------------------------------------------------ tracing
class _Record:
    __slots__ = ("fn", "inputs", "params", "outputs", "layer", "layer_type")

    def __init__(self, fn, inputs, params, outputs, layer, layer_type):
        self.fn, self.inputs, self.params, self.outputs = fn, inputs, params, outputs
        self.layer, self.layer_type = layer, layer_type


def trace(model, x):
    """Run ``model(x)`` once in evaluation mode without gradients and return ``(output, records)``.

    ``records`` lists every Function applied, in order, with the layer (dotted module name) that applied it.
    """
    names = {id(m): n for n, m in model.named_modules()}
    stack = []
    records = []
    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(lambda mod, args: stack.append(mod) and None))
        handles.append(m.register_forward_hook(lambda mod, args, out: (stack.pop() if stack else None) and None))
    original = Function.__dict__["apply"]

    def traced_apply(cls, *inputs, **params):
        out = original.__func__(cls, *inputs, **params)
        outs = out if isinstance(out, tuple) else (out,)
        layer = stack[-1] if stack else None
        records.append(_Record(cls, inputs, params, outs, names.get(id(layer), "") if layer is not None else "",
                               type(layer).__name__ if layer is not None else type(model).__name__))
        return out

    modes = [(m, m.training) for m in model.modules()]
    Function.apply = classmethod(traced_apply)
    try:
        model.eval()
        with no_grad():
            output = model(x)
    finally:
        Function.apply = original
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
    return output, records


# ------------------------------------------------------------------------------------------------ graph building
class _Graph:
    """Nodes, initializers and value names of the ONNX graph under construction."""

    def __init__(self, onnx, model, opset, dtype):
        self.onnx, self.helper, self.opset, self.dtype = onnx, onnx.helper, opset, dtype
        self.nodes, self.initializers = [], []
        self.names = {}            # id(Tensor) -> value name
        self.keep = []             # keep traced tensors alive so their ids stay unique
        self.taken = set()
        self.extras = {}           # id(Tensor) of secondary outputs (indices) -> what made them
        self.param_names = {}      # id(Tensor) or id(array) -> state-dict name
        for name, t in model._state_entries():
            self.param_names.setdefault(id(t), name)
            self.param_names.setdefault(id(t._data), name)
        for name, t in model.named_parameters():
            self.param_names.setdefault(id(t), name)
            self.param_names.setdefault(id(t._data), name)
        self.initialized = {}      # state-dict name -> initializer name (each written once)
        self.constants = 0

    def fresh(self, base):
        base = base.replace(" ", "_") or "value"
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def const(self, array, hint="const", dtype=None):
        arr = np.asarray(backend.asnumpy(array))
        if dtype is not None:
            arr = arr.astype(dtype)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(arr, order="C"), name))
        return name

    def state(self, obj, record, what):
        """The initializer of a parameter/buffer (Tensor or raw array), or a constant for anything else."""
        key = self.param_names.get(id(obj))
        data = obj._data if isinstance(obj, Tensor) else obj
        if key is None:
            return self.const(np.asarray(backend.asnumpy(data)), f"{record.layer or 'graph'}/{what}")
        if key not in self.initialized:
            arr = np.asarray(backend.asnumpy(data))
            if arr.dtype.kind == "f":
                arr = arr.astype(self.dtype)
            self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(arr, order="C"), key))
            self.taken.add(key)
            self.initialized[key] = key
        return key

    def value(self, t, record, what="input"):
        """The graph name of a traced input ``t`` (a Tensor, array, number or None)."""
        if t is None:
            return ""
        if isinstance(t, Tensor):
            if id(t) in self.names:
                return self.names[id(t)]
            if id(t) in self.extras:
                raise _unsupported(record, f"uses the {self.extras[id(t)]}, which the export does not write")
            return self.state(t, record, what)
        if isinstance(t, np.ndarray) or hasattr(t, "__cuda_array_interface__"):
            return self.state(t, record, what)
        return self.const(np.asarray(t, dtype=self.dtype), f"{record.layer or 'graph'}/{what}")

    def node(self, op, inputs, record, n_out=1, **attrs):
        base = f"{record.layer}/{op}" if record.layer else op
        outs = [self.fresh(base if i == 0 else f"{base}_out{i}") for i in range(n_out)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outs, name=outs[0], **attrs))
        return outs[0] if n_out == 1 else outs

    def bind(self, record, name):
        """Name the record's (first) output ``name``; remember secondary outputs so their use is reported."""
        t = record.outputs[0]
        self.names[id(t)] = name
        self.keep.append(t)
        for extra in record.outputs[1:]:
            self.extras[id(extra)] = f"second output of {record.fn.__name__} (e.g. pooling indices)"
            self.keep.append(extra)


def _unsupported(record, why):
    layer = f"layer {record.layer!r} ({record.layer_type})" if record.layer else f"the model's forward ({record.layer_type})"
    return OnnxExportError(f"export_onnx: {layer} uses the op {record.fn.__name__}, which {why}")


def _shape_of(t):
    return tuple(t.shape) if hasattr(t, "shape") else ()


# ------------------------------------------------------------------------------------------------ op handlers
def _conv(g, r):
    x, w, b = (list(r.inputs) + [None, None])[:3]
    p = r.params
    (top, bottom), (left, right) = p.get("pads", ((0, 0), (0, 0)))
    xin = g.value(x, r)
    mode = p.get("padding_mode", "zeros")
    if mode != "zeros" and (top or bottom or left or right):
        onnx_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        if mode == "circular" and g.opset < 19:
            raise _unsupported(r, f"with padding_mode='circular' needs ONNX opset 19 or later (export uses {g.opset})")
        pads = g.const(np.array([0, 0, top, left, 0, 0, bottom, right], np.int64), f"{r.layer}/pads")
        xin = g.node("Pad", [xin, pads], r, mode=onnx_mode)
        top = bottom = left = right = 0
    inputs = [xin, g.value(w, r, "weight")] + ([g.value(b, r, "bias")] if b is not None else [])
    kh, kw = _shape_of(w)[2:]
    return g.node("Conv", inputs, r, kernel_shape=[kh, kw], strides=list(p.get("stride", (1, 1))),
                  pads=[top, left, bottom, right], dilations=list(p.get("dilation", (1, 1))),
                  group=int(p.get("groups", 1)))


def _ceil_mode(size, kernel, stride, pad, dilation, out):
    floor = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    return int(out != floor)


def _pool_attrs(r, x, dilation=(1, 1)):
    p = r.params
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = p["kernel_size"], p["stride"], p["padding"], p["out_size"]
    h, w = _shape_of(x)[2:]
    ceil = max(_ceil_mode(h, kh, sh, ph, dilation[0], oh), _ceil_mode(w, kw, sw, pw, dilation[1], ow))
    return dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw], ceil_mode=ceil)


def _max_pool(g, r):
    x = r.inputs[0]
    dilation = tuple(r.params.get("dilation", (1, 1)))
    attrs = _pool_attrs(r, x, dilation)
    if dilation != (1, 1):
        attrs["dilations"] = list(dilation)
    xin = g.value(x, r)
    if r.params.get("largest", True):
        return g.node("MaxPool", [xin], r, **attrs)
    # min pooling: -maxpool(-x)
    return g.node("Neg", [g.node("MaxPool", [g.node("Neg", [xin], r)], r, **attrs)], r)


def _avg_pool(g, r):
    x = r.inputs[0]
    p = r.params
    attrs = _pool_attrs(r, x)
    h, w = _shape_of(x)[2:]
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = p["kernel_size"], p["stride"], p["padding"], p["out_size"]
    divisor = np.asarray(backend.asnumpy(p["divisor"]), dtype=np.float64)
    if (kh, kw) == (h, w) and (oh, ow) == (1, 1) and divisor.item() == h * w:   # global_avg_pool2d
        return g.node("GlobalAveragePool", [g.value(x, r)], r)
    for include in (True, False):
        dh = _pool_avg.avg_divisors(h, oh, kh, sh, ph, include)
        dw = _pool_avg.avg_divisors(w, ow, kw, sw, pw, include)
        if np.array_equal((dh[:, None] * dw[None, :]).astype(np.float64), divisor):
            return g.node("AveragePool", [g.value(x, r)], r, count_include_pad=int(include), **attrs)
    raise _unsupported(r, "with divisor_override has no ONNX AveragePool equivalent")


def _adaptive(g, r, kind):
    x = r.inputs[0]
    h, w = _shape_of(x)[2:]
    oh, ow = r.params["output_size"]
    xin = g.value(x, r)
    if (oh, ow) == (1, 1):
        return g.node(f"Global{kind}Pool", [xin], r)
    if (oh, ow) == (h, w):
        return g.node("Identity", [xin], r)
    if h % oh == 0 and w % ow == 0:
        k = [h // oh, w // ow]
        return g.node(f"{kind}Pool", [xin], r, kernel_shape=k, strides=k)
    if oh % h == 0 and ow % w == 0:
        # Each window is one input pixel, floor(i * h / oh): nearest upsampling by a whole factor.
        scales = g.const(np.array([1, 1, oh // h, ow // w], np.float32), f"{r.layer}/scales")
        return g.node("Resize", [xin, "", scales], r, mode="nearest", coordinate_transformation_mode="asymmetric",
                      nearest_mode="floor")
    raise _unsupported(r, f"from {h}x{w} to {oh}x{ow} has uneven windows, which ONNX's {kind}Pool cannot express "
                          f"(export at an input size where {h}x{w} is a multiple of {oh}x{ow})")


def _batch_norm(g, r):
    x, weight, bias = (list(r.inputs) + [None, None])[:3]
    p = r.params
    if p.get("training"):
        raise _unsupported(r, "uses batch statistics (training=True or track_running_stats=False); ONNX's "
                              "BatchNormalization needs running statistics")
    c = _shape_of(x)[1]
    scale = g.value(weight, r, "weight") if weight is not None else g.const(np.ones(c, g.dtype), f"{r.layer}/scale")
    shift = g.value(bias, r, "bias") if bias is not None else g.const(np.zeros(c, g.dtype), f"{r.layer}/shift")
    mean = g.state(p["running_mean"], r, "running_mean")
    var = g.state(p["running_var"], r, "running_var")
    out = g.node("BatchNormalization", [g.value(x, r), scale, shift, mean, var], r, epsilon=float(p["eps"]))
    return g.node("Relu", [out], r) if p.get("relu") else out       # F.batch_norm_relu


def _lrn(g, r):
    p = r.params
    if p["size"] % 2 == 0:
        raise _unsupported(r, f"with an even size ({p['size']}) centres its window differently from ONNX's LRN")
    return g.node("LRN", [g.value(r.inputs[0], r)], r, size=int(p["size"]), alpha=float(p["alpha"]),
                  beta=float(p["beta"]), bias=float(p["k"]))


def _linear(g, r):
    x, w, b = (list(r.inputs) + [None, None])[:3]
    xin, win = g.value(x, r), g.value(w, r, "weight")
    if len(_shape_of(x)) == 2:
        inputs = [xin, win] + ([g.value(b, r, "bias")] if b is not None else [])
        return g.node("Gemm", inputs, r, transB=1)
    out = g.node("MatMul", [xin, g.node("Transpose", [win], r, perm=[1, 0])], r)
    return g.node("Add", [out, g.value(b, r, "bias")], r) if b is not None else out


def _reshape(g, r):
    x = r.inputs[0]
    in_shape, shape = _shape_of(x), tuple(r.params["shape"])
    xin = g.value(x, r)
    if len(shape) == 2 and len(in_shape) >= 2 and shape[0] == in_shape[0]:
        return g.node("Flatten", [xin], r, axis=1)
    target = list(shape)
    if target and in_shape and target[0] == in_shape[0]:
        target[0] = 0            # keep the batch dimension of the input (a dynamic batch stays dynamic)
    return g.node("Reshape", [xin, g.const(np.array(target, np.int64), f"{r.layer}/shape")], r)


def _binary(op):
    def handle(g, r):
        a, b = r.inputs
        ref = a if isinstance(a, Tensor) else b
        dtype = ref.dtype if isinstance(ref, Tensor) else g.dtype

        def operand(v):
            if isinstance(v, Tensor) or isinstance(v, np.ndarray):
                return g.value(v, r)
            return g.const(np.asarray(v, dtype=dtype), f"{r.layer or 'graph'}/{op.lower()}_operand")
        return g.node(op, [operand(a), operand(b)], r)
    return handle


def _unary(op, **fixed):
    def handle(g, r):
        return g.node(op, [g.value(r.inputs[0], r)], r, **fixed)
    return handle


def _clip(g, r, lo, hi):
    x = r.inputs[0]
    dtype = x.dtype if isinstance(x, Tensor) else g.dtype
    lo_name = g.const(np.asarray(lo, dtype), f"{r.layer}/min") if lo is not None else ""
    hi_name = g.const(np.asarray(hi, dtype), f"{r.layer}/max") if hi is not None else ""
    return g.node("Clip", [g.value(x, r), lo_name, hi_name], r)


def _softmax(op):
    def handle(g, r):
        return g.node(op, [g.value(r.inputs[0], r)], r, axis=int(r.params.get("axis", -1)))
    return handle


def _identity(g, r):
    layer_is_dropout = r.layer_type in (Dropout.__name__, Dropout2d.__name__)
    if layer_is_dropout:
        return g.node("Dropout", [g.value(r.inputs[0], r)], r)
    return g.value(r.inputs[0], r)           # an alias: no node needed


def _cat(g, r):
    return g.node("Concat", [g.value(t, r) for t in r.inputs], r, axis=int(r.params["axis"]))


def _permute(g, r):
    return g.node("Transpose", [g.value(r.inputs[0], r)], r, perm=[int(d) for d in r.params["dims"]])


def _reduction(op):
    def handle(g, r):
        axis = r.params.get("axis")
        x = r.inputs[0]
        axes = list(range(len(_shape_of(x)))) if axis is None else ([axis] if np.ndim(axis) == 0 else list(axis))
        keep = int(bool(r.params.get("keepdims", False)))
        if op == "ReduceSum" or g.opset >= 18:
            return g.node(op, [g.value(x, r), g.const(np.array(axes, np.int64), f"{r.layer}/axes")], r, keepdims=keep)
        return g.node(op, [g.value(x, r)], r, axes=axes, keepdims=keep)
    return handle


def _pad(g, r):
    p = r.params
    (top, bottom), (left, right) = p["pads"]
    if min(top, bottom, left, right) < 0:
        raise _unsupported(r, "with negative padding (cropping) is not written by the export")
    nd = len(_shape_of(r.inputs[0]))
    begin = [0] * (nd - 2) + [top, left]
    end = [0] * (nd - 2) + [bottom, right]
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[p["mode"]]
    if mode == "wrap" and g.opset < 19:
        raise _unsupported(r, f"with mode='circular' needs ONNX opset 19 or later (export uses {g.opset})")
    inputs = [g.value(r.inputs[0], r), g.const(np.array(begin + end, np.int64), f"{r.layer}/pads")]
    if mode == "constant":
        inputs.append(g.const(np.asarray(p.get("value", 0.0), g.dtype), f"{r.layer}/pad_value"))
    return g.node("Pad", inputs, r, mode=mode)


HANDLERS = {
    _convmod.Conv2d: _conv,
    _pool_max.MaxPool2d: _max_pool,
    _pool_avg.AvgPool2d: _avg_pool,
    _pool_adaptive.AdaptiveAvgPool2d: lambda g, r: _adaptive(g, r, "Average"),
    _pool_adaptive.AdaptiveMaxPool2d: lambda g, r: _adaptive(g, r, "Max"),
    _norm.BatchNorm: _batch_norm,
    _norm.LocalResponseNorm: _lrn,
    _basic.Linear: _linear,
    _basic.Dropout: _identity,
    _basic.Identity: _identity,
    _shape.Reshape: _reshape,
    _shape.Permute: _permute,
    _shape.Cat: _cat,
    _ew.Add: _binary("Add"),
    _ew.Sub: _binary("Sub"),
    _ew.Mul: _binary("Mul"),
    _ew.Div: _binary("Div"),
    _ew.Pow: _binary("Pow"),
    _ew.MatMul: _binary("MatMul"),
    _ew.Neg: _unary("Neg"),
    _ew.Exp: _unary("Exp"),
    _ew.Log: _unary("Log"),
    _ew.Sqrt: _unary("Sqrt"),
    _ew.Abs: _unary("Abs"),
    _ew.Clamp: lambda g, r: _clip(g, r, r.params.get("lo"), r.params.get("hi")),
    _ew.Clone: lambda g, r: g.value(r.inputs[0], r),
    _act.ReLU: _unary("Relu"),
    _act.AddReLU: lambda g, r: g.node("Relu", [_binary("Add")(g, r)], r),
    _act.LeakyReLU: lambda g, r: g.node("LeakyRelu", [g.value(r.inputs[0], r)], r,
                                        alpha=float(r.params["negative_slope"])),
    _act.ELU: lambda g, r: g.node("Elu", [g.value(r.inputs[0], r)], r, alpha=float(r.params["alpha"])),
    _act.Hardtanh: lambda g, r: _clip(g, r, r.params["min_val"], r.params["max_val"]),
    _act.Sigmoid: _unary("Sigmoid"),
    _act.Tanh: _unary("Tanh"),
    _act.Softmax: _softmax("Softmax"),
    _act.LogSoftmax: _softmax("LogSoftmax"),
    _reduce.Sum: _reduction("ReduceSum"),
    _reduce.Mean: _reduction("ReduceMean"),
    _padding.Pad: _pad,
}

# Ops with no ONNX counterpart, and why (others get a generic message).
UNSUPPORTED = {
    "StochasticPool2d": "samples a random element of each window (no ONNX operator does; in evaluation it is a "
                        "probability-weighted average that ONNX cannot express either)",
    "FractionalMaxPool2d": "uses pseudo-random, uneven pooling windows that no ONNX operator describes",
    "LpRoot": "is part of power-average pooling, which the export does not write (ONNX's LpPool differs)",
    "Subsample2d": "(subsampling) is not written by the export",
    "GetItem": "(indexing) is not written by the export",
}


# ------------------------------------------------------------------------------------------------ export
def _as_input_shape(input_shape):
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1,) + shape
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"export_onnx: `input_shape` must be (C, H, W) or (N, C, H, W) of positive ints. "
                         f"Received: input_shape={input_shape!r}")
    return shape


def to_onnx(model, input_shape, opset=DEFAULT_OPSET, input_name="input", output_name="output", dynamic_batch=True,
            graph_name=None):
    """Trace ``model`` on an input of ``input_shape`` and return the ``onnx.ModelProto`` (not written to disk)."""
    onnx = _import_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"export_onnx: `model` must be a cnnlab.nn.Module. Received an object of type "
                        f"{type(model).__name__}")
    shape = _as_input_shape(input_shape)
    params = list(model.parameters())
    dtype = np.dtype(params[0].dtype) if params else backend.get_default_dtype()
    x = Tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype))
    output, records = trace(model, x)
    g = _Graph(onnx, model, opset, dtype)
    g.names[id(x)] = input_name
    g.taken.update({input_name})
    for r in records:
        handler = HANDLERS.get(r.fn)
        if handler is None:
            why = UNSUPPORTED.get(r.fn.__name__, "has no ONNX counterpart in the export")
            raise _unsupported(r, why)
        g.bind(r, handler(g, r))
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    graph_outputs, out_names = [], []
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor) or id(out) not in g.names:
            raise OnnxExportError(f"export_onnx: output {i} of {type(model).__name__} was not computed by traced "
                                  f"ops (got {type(out).__name__}); the forward pass must build its outputs with "
                                  f"cnnlab ops")
        name = output_name if len(outputs) == 1 else f"{output_name}{i}"
        g.nodes.append(onnx.helper.make_node("Identity", [g.names[id(out)]], [name], name=f"{name}/Identity"))
        dims = list(out.shape)
        if dynamic_batch and dims and dims[0] == shape[0]:
            dims[0] = "batch"
        graph_outputs.append(onnx.helper.make_tensor_value_info(name, elem, dims))
        out_names.append(name)
    in_dims = ["batch" if dynamic_batch else shape[0]] + list(shape[1:])
    graph = onnx.helper.make_graph(g.nodes, graph_name or type(model).__name__,
                                   [onnx.helper.make_tensor_value_info(input_name, elem, in_dims)], graph_outputs,
                                   initializer=g.initializers)
    proto = onnx.helper.make_model(graph, producer_name="cnnlab", opset_imports=[onnx.helper.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, 8) if opset <= 17 else proto.ir_version
    return proto


def export_onnx(model, path, input_shape, opset=DEFAULT_OPSET, input_name="input", output_name="output",
                dynamic_batch=True, check=True):
    """Write ``model`` as an ONNX file that runs in onnxruntime (or any ONNX engine).

    The model is traced once in evaluation mode on a random input of ``input_shape``: the graph holds the
    ops that input went through, with the weights as initializers named as in the state dict.

    Args:
        model: any Module built from cnnlab ops (every zoo model).
        path: the ``.onnx`` file to write.
        input_shape: (C, H, W) or (N, C, H, W); with ``dynamic_batch`` the batch size is left free.
        opset: ONNX opset version. Default: 17.
        check: run ``onnx.checker.check_model`` on the result.

    Returns:
        ``path``.

    Raises:
        OnnxExportError (a ValueError) naming the layer and the op that ONNX cannot express.

    Example:
        >>> export_onnx(models.get("resnet18"), "resnet18.onnx", (3, 224, 224))
        >>> import onnxruntime as ort
        >>> ort.InferenceSession("resnet18.onnx").run(None, {"input": images})[0]
    """
    onnx = _import_onnx()
    proto = to_onnx(model, input_shape, opset, input_name, output_name, dynamic_batch)
    if check:
        onnx.checker.check_model(proto)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    data = proto.SerializeToString()
    resources.atomic_write(path, lambda f: f.write(data))  # a temp name within NAME_MAX
    return path


__all__ = ["export_onnx", "to_onnx", "trace", "OnnxExportError", "DEFAULT_OPSET"]
