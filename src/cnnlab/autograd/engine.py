"""Reverse-mode backward pass: an iterative topological walk that *adds* each op's input gradients."""

from . import hooks
from .function import Node


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: undo NumPy broadcasting in the backward pass."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _topological_order(root):
    """Nodes that lead to the node ``root`` (root last), found with an explicit stack: deep nets
    exceed recursion."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node.inputs:
            if type(parent) is Node and id(parent) not in visited:
                stack.append((parent, False))
    return order


def _store_grad(t, g):
    from ..tensor import Tensor

    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
    if t.grad is None:
        # Views from broadcast_to are read-only; a stored .grad must be a real, writable array.
        t.grad = Tensor._wrap(g if g.flags.writeable else g.copy())
    else:
        t.grad._data = t.grad._data + g


def _check_versions(node):
    """Refuse to differentiate through a saved tensor that was changed in place since (PyTorch's
    version counter check): its gradient would be computed from the wrong values."""
    for ref, version in getattr(node.ctx, "saved_versions", ()):
        t = ref()
        if t is not None and t._version != version:
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: a tensor of shape {tuple(t.shape)} and dtype "
                f"{t.dtype} saved by {node.name()} is at version {t._version}; expected version "
                f"{version} instead. Hint: clone() it before the in-place change, or make the "
                f"change out of place")


def backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (d loss / d root) to every leaf that requires a gradient."""
    _backward(root, grad, retain_graph)


def _backward(root, grad, retain_graph):
    hooks._callbacks.append([])
    try:
        _walk(root, grad, retain_graph)
        callbacks = hooks._callbacks[-1]
        while callbacks:    # a callback may queue another
            callbacks.pop(0)()
    finally:
        hooks._callbacks.pop()


def _finish_leaf(t, g):
    """A hooked leaf's gradient for this pass is complete: hooks, accumulate, post hooks."""
    g = hooks.apply_grad_hooks(t, g)
    _store_grad(t, g)
    hooks.run_post_accumulate_hooks(t)


def _hooked_leaves(order):
    """{id: [leaf, edges into it]} for the leaves with hooks: their gradient is summed over every
    edge of this pass before it is accumulated, so hooks see it once, complete, as in PyTorch."""
    if not (hooks._grad_hooks or hooks._post_hooks):
        return {}
    leaves = {}
    for node in order:
        for inp in node.inputs:
            if inp is not None and type(inp) is not Node and hooks.has_hooks(inp):
                leaves.setdefault(id(inp), [inp, 0])[1] += 1
    return leaves


def _walk(root, grad, retain_graph):
    if root._node is None:
        if root.requires_grad:
            _finish_leaf(root, grad)
        return
    order = _topological_order(root._node)
    grads = {id(root._node): grad}     # keyed by node, or by leaf tensor; all held until used
    hooked = _hooked_leaves(order)
    held = {}   # id -> the summed gradient of a hooked leaf, until its last edge has been seen

    def release(inp, ig):
        key = id(inp)
        if ig is not None:
            held[key] = ig if key not in held else held[key] + ig
        hooked[key][1] -= 1
        if hooked[key][1] == 0 and key in held:
            _finish_leaf(inp, held.pop(key))

    for i in range(len(order) - 1, -1, -1):
        node, order[i] = order[i], None
        g = grads.pop(id(node), None)
        if g is None:
            if hooked:
                for inp in node.inputs:
                    if inp is not None and id(inp) in hooked:
                        release(inp, None)
            continue
        if node.ctx is None:
            raise RuntimeError(
                "backward: the graph through this tensor was already freed by an earlier backward(); "
                "pass retain_graph=True to the first call to go through it twice"
            )
        _check_versions(node)
        t = node.output()       # the tensor it made, while somebody holds it: its hooks, retain_grad
        if t is not None:
            if hooks._grad_hooks:
                g = hooks.apply_grad_hooks(t, g)
            if t._retains_grad:
                _store_grad(t, g)
            t = None
        in_grads = node.fn.backward(node.ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for i, inp in enumerate(node.inputs):
            ig = in_grads[i] if i < len(in_grads) else None
            if inp is None:
                continue
            if type(inp) is Node:
                if ig is not None:
                    if ig.shape != inp.shape:
                        ig = unbroadcast(ig, inp.shape)
                    prev = grads.get(id(inp))
                    grads[id(inp)] = ig if prev is None else prev + ig
                continue
            if ig is not None and ig.shape != inp._data.shape:
                ig = unbroadcast(ig, inp._data.shape)
            if id(inp) in hooked:
                release(inp, ig)
            elif ig is not None:
                _store_grad(inp, ig)
        if not retain_graph:
            node.ctx = None
            node.inputs = ()
