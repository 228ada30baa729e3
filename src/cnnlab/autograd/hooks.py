"""Gradient hooks and end-of-backward callbacks: what ``Tensor.register_hook``,
``Tensor.register_post_accumulate_grad_hook`` and ``queue_callback`` record for the engine.

The hooks live here, keyed by the tensor's id and dropped when the tensor is collected, rather than
on the Tensor itself: a tensor without hooks costs the engine one dict lookup, and Tensor keeps its
slots. Data-parallel training uses them to start each gradient bucket's all-reduce as soon as its
gradients are final, while the backward pass goes on (``nn.parallel.DistributedDataParallel``).
"""

import itertools
import weakref

_grad_hooks = {}    # id(tensor) -> {handle id: hook(grad) -> new grad or None}
_post_hooks = {}    # id(tensor) -> {handle id: hook(tensor)}, leaves only
_refs = {}          # id(tensor) -> weakref whose callback drops the tensor's hooks
_callbacks = []     # one list per running backward pass (innermost last)
_next_id = itertools.count()


class HookHandle:
    """Returned by the ``register_*hook`` methods: ``handle.remove()`` takes the hook off again."""

    def __init__(self, table, key):
        self._table, self._key = table, key
        self.id = next(_next_id)

    def remove(self):
        hooks = self._table.get(self._key)
        if hooks is not None:
            hooks.pop(self.id, None)
            if not hooks:
                del self._table[self._key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _forget(key, tables=(_grad_hooks, _post_hooks, _refs)):
    for table in tables:     # bound as a default: it also runs while the interpreter shuts down
        table.pop(key, None)


def _add(table, tensor, hook):
    key = id(tensor)
    if key not in _refs:
        _refs[key] = weakref.ref(tensor, lambda _, key=key: _forget(key))
    handle = HookHandle(table, key)
    table.setdefault(key, {})[handle.id] = hook
    return handle


def register_hook(tensor, hook):
    """Call ``hook(grad)`` (a Tensor) whenever backward has computed ``tensor``'s gradient, before
    it is used or, for a leaf, accumulated into ``.grad``; a Tensor or array returned replaces
    it."""
    if not tensor.requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                           "require a gradient")
    if not callable(hook):
        raise TypeError(f"register_hook: `hook` must be callable. Received {type(hook).__name__}")
    if tensor._node is not None:
        tensor._node.kept = tensor     # the graph holds a hooked tensor: its hooks run even once it is let go
    return _add(_grad_hooks, tensor, hook)


def register_post_accumulate_grad_hook(tensor, hook):
    """Call ``hook(tensor)`` once per backward pass, after every contribution of that pass has been
    accumulated into the leaf ``tensor``'s ``.grad``."""
    if tensor._node is not None or not tensor.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: post-accumulate hooks can only be "
                           "registered on leaf tensors that require a gradient")
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: `hook` must be callable. "
                        f"Received {type(hook).__name__}")
    return _add(_post_hooks, tensor, hook)


def has_hooks(tensor):
    return id(tensor) in _grad_hooks or id(tensor) in _post_hooks


def apply_grad_hooks(tensor, grad):
    """``grad`` (a raw array) after ``tensor``'s ``register_hook`` hooks, in registration order."""
    hooks = _grad_hooks.get(id(tensor))
    if not hooks:
        return grad
    from ..tensor import Tensor

    for hook in list(hooks.values()):
        out = hook(Tensor._wrap(grad))
        if out is not None:
            grad = out._data if isinstance(out, Tensor) else out
    return grad


def run_post_accumulate_hooks(tensor):
    for hook in list(_post_hooks.get(id(tensor), {}).values()):
        hook(tensor)


def queue_callback(callback):
    """Run ``callback()`` once the backward pass now running has finished (after every gradient
    has been accumulated), as PyTorch's ``Variable._execution_engine.queue_callback``. Call it from
    a hook; callbacks run in the order they were queued."""
    if not _callbacks:
        raise RuntimeError("queue_callback: no backward pass is running; call it from a gradient "
                           "hook")
    _callbacks[-1].append(callback)
