"""``Module``: the base of every layer and model; it registers parameters, buffers and submodules.

Assigning a ``Parameter``, a ``Module`` or (through ``register_buffer``) a state Tensor to an attribute
records it under that name, so a model's learnable weights, its running statistics and its structure
can be walked (``named_parameters``), saved (``state_dict``), restored (``load_state_dict``), converted
(``double()``) and printed (``repr``) without each layer writing that code. Names and behaviour follow
``torch.nn.Module`` so state dicts map one to one (``features.0.weight``, ``bn.running_mean``).
"""

import fnmatch
import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from .. import backend
from ..tensor import Tensor
from .parameter import Parameter, _floating_dtype


class LoadStateDictError(ValueError, RuntimeError):
    """``load_state_dict`` found missing, unexpected or mis-shaped keys (nothing was changed).

    A ValueError by the project's rule, and a RuntimeError so code written for PyTorch still catches it.
    """


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the model wanted but did not get, and the extra keys."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` takes the hook off again.

    Also a context manager: ``with module.register_forward_hook(h): ...`` removes the hook on exit.
    """

    _next_id = itertools.count()

    def __init__(self, hooks, *extra):
        self._dicts = (hooks,) + extra
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _add_hook(fn, hook, hooks, with_kwargs_ids, prepend, with_kwargs):
    """Put ``hook`` in the ordered dict ``hooks`` (first if ``prepend``) and return its handle."""
    if not callable(hook):
        raise TypeError(f"{fn}: `hook` must be callable. Received an object of type {type(hook).__name__}")
    handle = RemovableHandle(hooks, with_kwargs_ids)
    hooks[handle.id] = hook
    if with_kwargs:
        with_kwargs_ids[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _buffer_value(value, name, prefix, owner):
    """``value`` as buffer ``name``: a Tensor or None as it is, an array wrapped, anything else a TypeError
    (its message starts with ``prefix`` and names the buffer's ``owner``)."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        return Tensor(value)
    raise TypeError(f"{prefix}cannot assign an object of type {type(value).__name__} as buffer {name!r}{owner} "
                    f"(cnnlab.Tensor, an array or None expected)")


def _addindent(text, spaces):
    """Indent every line but the first (nested module reprs, as PyTorch prints them)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    first = lines.pop(0)
    return first + "\n" + "\n".join((spaces * " ") + line if line.strip() else "" for line in lines)


def _check_name(fn, kind, name, module):
    if not isinstance(name, str):
        raise TypeError(f"{fn}: {kind} name must be a string. Received: name={name!r} "
                        f"of type {type(name).__name__}")
    if name == "":
        raise ValueError(f'{fn}: {kind} name can\'t be empty string "". Received: name=""')
    if "." in name:
        raise ValueError(f'{fn}: {kind} name can\'t contain ".". Received: name={name!r}')


def _state_array(fn, key, value):
    """The array inside a state-dict value: a Tensor, a NumPy/CuPy array, or anything with ``__array__``."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a PyTorch tensor, possibly requiring grad
        value = value.detach().cpu()
    try:
        arr = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - report which key could not be read
        raise TypeError(f"{fn}: the value for key {key!r} is not array-like "
                        f"(received an object of type {type(value).__name__}: {e})") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{fn}: the value for key {key!r} must be numeric. "
                        f"Received an object of type {type(value).__name__} (dtype {arr.dtype})")
    return arr


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign their parameters and submodules as attributes
    and define ``forward``; calling the module runs the forward pre-hooks, ``forward`` and the forward
    hooks. ``training`` (set by ``train()`` / ``eval()``) tells layers such as Dropout and BatchNorm
    which behaviour to use.

    Example:
        >>> class Net(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x)
        >>> [name for name, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    training: bool

    def __init__(self):
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_parameters", OrderedDict())
        set_(self, "_buffers", OrderedDict())
        set_(self, "_non_persistent_buffers_set", set())
        set_(self, "_modules", OrderedDict())
        set_(self, "_forward_hooks", OrderedDict())
        set_(self, "_forward_hooks_with_kwargs", OrderedDict())
        set_(self, "_forward_pre_hooks", OrderedDict())
        set_(self, "_forward_pre_hooks_with_kwargs", OrderedDict())

    # ------------------------------------------------------------------ forward and hooks
    def forward(self, *args, **kwargs):
        """The computation of the module; every subclass defines it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        for hook_id, hook in tuple(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise TypeError(f"forward pre-hook {hook!r} registered with with_kwargs=True must return "
                                        f"None or a tuple (args, kwargs). Received: {type(result).__name__}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook_id, hook in tuple(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args, output)`` after every forward; a non-None return replaces the output.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs, output)``. Returns a handle
        whose ``remove()`` takes the hook off.
        """
        return _add_hook("register_forward_hook", hook, self._forward_hooks, self._forward_hooks_with_kwargs,
                         prepend, with_kwargs)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before every forward; a non-None return replaces the positional inputs.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and may return ``(args, kwargs)``.
        Returns a handle whose ``remove()`` takes the hook off.
        """
        return _add_hook("register_forward_pre_hook", hook, self._forward_pre_hooks,
                         self._forward_pre_hooks_with_kwargs, prepend, with_kwargs)

    # ------------------------------------------------------------------ registration
    def _require_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as ``bias=False``) as ``name``."""
        self._require_init("parameters")
        _check_name("register_parameter", "parameter", name, self)
        if hasattr(self, name) and name not in self._parameters:
            raise ValueError(f"register_parameter: attribute {name!r} already exists on {type(self).__name__}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign an object of type {type(param).__name__} as "
                            f"parameter {name!r} (cnnlab.nn.Parameter or None expected)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register ``tensor`` as state that is not learned (e.g. BatchNorm's ``running_mean``).

        Persistent buffers are saved in ``state_dict``; ``None`` registers an absent buffer.
        Arrays are wrapped in a Tensor.
        """
        self._require_init("buffers")
        _check_name("register_buffer", "buffer", name, self)
        if hasattr(self, name) and name not in self._buffers:
            raise ValueError(f"register_buffer: attribute {name!r} already exists on {type(self).__name__}")
        if isinstance(tensor, Parameter):
            raise TypeError(f"register_buffer: cannot register the Parameter {name!r} as a buffer "
                            f"(use register_parameter)")
        self._buffers[name] = _buffer_value(tensor, name, "register_buffer: ", "")
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Register ``module`` (or None) as the child ``name``."""
        self._require_init("child modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__module__}.{type(module).__name__} is not a Module "
                            f"subclass (child {name!r})")
        _check_name("add_module", "module", name, self)
        if hasattr(self, name) and name not in self._modules:
            raise ValueError(f"add_module: attribute {name!r} already exists on {type(self).__name__}")
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _clear_slot(self, table, name, value, kind, expected):
        """Set the registered ``kind`` ``name`` in ``table`` to None; any other value is a TypeError."""
        if value is not None:
            raise TypeError(f"cannot assign an object of type {type(value).__name__} as {kind} {name!r} "
                            f"of {type(self).__name__} ({expected} or None expected)")
        table[name] = None

    def __setattr__(self, name, value):
        d = self.__dict__

        def forget(*registries):
            for registry in registries:
                if registry in d:
                    d[registry].pop(name, None)
            d.pop(name, None)
            if "_non_persistent_buffers_set" in d:
                d["_non_persistent_buffers_set"].discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._require_init("parameters")
            forget("_buffers", "_modules")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            self._clear_slot(params, name, value, "parameter", "cnnlab.nn.Parameter")
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            self._require_init("child modules")
            forget("_parameters", "_buffers")
            modules[name] = value
            return
        if modules is not None and name in modules:
            self._clear_slot(modules, name, value, "child module", "cnnlab.nn.Module")
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            buffers[name] = _buffer_value(value, name, "", f" of {type(self).__name__}")
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, {}):
                del self.__dict__[registry][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(dir(type(self))) + list(self.__dict__) + list(self._parameters) + list(self._modules) \
            + list(self._buffers)
        return sorted(k for k in set(keys) if not k[:1].isdigit())

    # ------------------------------------------------------------------ walking the tree
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(dotted name, module)`` for this module and every descendant, each once by default."""
        if memo is None:
            memo = set()
        stack = [(prefix, self)]
        # Iterative pre-order walk (deep networks exceed the recursion limit).
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(name + ("." if name else "") + key, child)
                        for key, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self):
        """Yield this module and every descendant, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, child)`` for the direct submodules, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for key, value in getattr(module, registry).items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + key, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted name, Parameter)``; a parameter shared by two layers comes once, under its first name."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Yield every Parameter once (what an optimizer takes)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted name, buffer Tensor)`` for every registered buffer that is not None."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The submodule at dotted path ``target`` (``""`` is this module)."""
        if target == "":
            return self
        module = self
        walked = []
        for item in target.split("."):
            child = module._modules.get(item) if isinstance(module, Module) else None
            if child is None:
                where = ".".join(walked) or type(self).__name__
                raise AttributeError(f"get_submodule: {where} has no submodule {item!r} (target {target!r})")
            module = child
            walked.append(item)
        return module

    def get_parameter(self, target):
        """The Parameter at dotted path ``target``, e.g. ``"features.0.weight"``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters or module._parameters[name] is None:
            raise AttributeError(f"get_parameter: {type(module).__name__} at {module_path or '<root>'!r} "
                                 f"has no parameter {name!r}")
        return module._parameters[name]

    def num_parameters(self, trainable_only=False):
        """Count of scalar weights (each shared parameter once); only trainable ones if asked."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode=True):
        """Set training mode (True) or evaluation mode (False) on this module and every descendant.

        Each child's own ``train`` is called, so a subclass may override it (e.g. to keep BatchNorm frozen).
        """
        if not isinstance(mode, bool):
            raise ValueError(f"train: `mode` must be a bool. Received: mode={mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Evaluation mode: Dropout passes through, BatchNorm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Switch gradient recording on or off for every parameter (freeze a backbone with False)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def freeze(self, pattern=None):
        """Freeze the parameters matching ``pattern`` (a name glob such as ``"features.*"``, a submodule, a list;
        None for all); returns their names. See :func:`select_parameters`."""
        return set_requires_grad(self, pattern, False, "freeze")

    def unfreeze(self, pattern=None):
        """Train the parameters matching ``pattern`` again; returns their names."""
        return set_requires_grad(self, pattern, True, "unfreeze")

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of every parameter: drop them (default) or fill them with zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            elif p.grad._data.flags.writeable:
                p.grad._data[...] = 0
            else:
                p.grad._data = backend.get_array_module(p.grad._data).zeros_like(p.grad._data)

    def apply(self, fn):
        """Call ``fn`` on every descendant (children first) and then on this module; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype and device
    def _apply_to_arrays(self, convert):
        """Replace every parameter's and buffer's array by ``convert(array)``, keeping the Tensor objects."""
        seen = set()
        for module in self.modules():
            for t in itertools.chain(module._parameters.values(), module._buffers.values()):
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                t._data = convert(t._data)
                if t.grad is not None:
                    t.grad._data = convert(t.grad._data)
        return self

    def to(self, *args, device=None, dtype=None):
        """Convert parameters and buffers in place: ``to(np.float64)``, ``to("float32")``, ``to("cuda")``.

        Only floating arrays change dtype (``num_batches_tracked`` stays int64). The Parameter objects
        stay the same, so an optimizer built before the call still holds them.
        """
        for a in args:
            if backend.is_device_like(a):
                device = a
            else:
                dtype = a
        if device is not None:
            device = str(backend.require_device("Module.to", device))
        if dtype is not None:
            dtype = _floating_dtype("Module.to", dtype)

        def convert(a):
            if device is not None:
                a = backend.to_device(a, device)
            if dtype is not None and a.dtype.kind == "f":
                a = a.astype(dtype, copy=False)
            return a

        return self._apply_to_arrays(convert)

    def float(self):
        """Floating parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self):
        """Floating parameters and buffers to float64 (for gradient checks)."""
        return self.to(np.float64)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)

    # ------------------------------------------------------------------ state dict
    def _state_entries(self, prefix=""):
        """``(dotted name, Tensor)`` for every parameter and persistent buffer, in PyTorch's order.

        A module's own parameters, then its persistent buffers, then each child's entries; a tensor
        shared under two names appears under both (as in PyTorch's state_dict).
        """
        entries = []
        stack = [(prefix, self)]
        while stack:
            module_prefix, module = stack.pop()
            for key, p in module._parameters.items():
                if p is not None:
                    entries.append((module_prefix + key, p))
            for key, b in module._buffers.items():
                if b is not None and key not in module._non_persistent_buffers_set:
                    entries.append((module_prefix + key, b))
            stack.extend(reversed([(module_prefix + key + ".", child)
                                   for key, child in module._modules.items() if child is not None]))
        return entries

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of dotted name -> tensor, for every parameter and persistent buffer.

        Keys follow PyTorch (``features.0.weight``, ``bn.running_mean``, ``bn.num_batches_tracked``).
        NOTE: the values are copies outside the graph (PyTorch's share the module's memory), so a
        state dict kept as "the best weights so far" stays as it was while training goes on.
        With ``keep_vars=True`` the values are the Parameter/Tensor objects themselves.
        """
        if destination is None:
            destination = OrderedDict()
        for name, t in self._state_entries(prefix):
            destination[name] = t if keep_vars else Tensor._wrap(t._data.copy())
        return destination

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Everything is checked before anything changes: with ``strict`` (default) a missing or
        unexpected key is an error; a shape mismatch is always an error. The error lists every bad key
        by name. Values (NumPy arrays, Tensors) are cast to each parameter's dtype and copied into the
        existing arrays; with ``assign=True`` the arrays are replaced instead (the Parameter objects stay).

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
            LoadStateDictError (a ValueError and RuntimeError) naming the keys.
        """
        fn = "load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: `state_dict` must be a dict-like mapping of name to array. "
                            f"Received an object of type {type(state_dict).__name__}")
        targets = self._state_entries()
        wanted = {name for name, _ in targets}
        missing = [name for name, _ in targets if name not in state_dict]
        unexpected = [key for key in state_dict if key not in wanted]
        arrays, mismatched = {}, []
        for name, t in targets:
            if name not in state_dict:
                continue
            arr = _state_array(fn, name, state_dict[name])
            if tuple(arr.shape) != tuple(t.shape):
                mismatched.append(f"size mismatch for {name}: copying a param with shape {tuple(arr.shape)} "
                                  f"from checkpoint, the shape in current model is {tuple(t.shape)}.")
            arrays[name] = arr
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        errors.extend(mismatched)
        if errors:
            raise LoadStateDictError(f"{fn}: error(s) in loading state_dict for {type(self).__name__} "
                                     f"(nothing was changed):\n\t" + "\n\t".join(errors))
        for name, t in targets:
            if name not in arrays:
                continue
            xp = backend.get_array_module(t._data)
            value = xp.asarray(arrays[name]).astype(t.dtype)  # a copy, cast to the model's dtype
            if assign or not t._data.flags.writeable:
                t._data = value
            else:
                t._data[...] = value
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """The module's own settings for ``repr`` (one line for simple layers); subclasses override it."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


# ------------------------------------------------------------------ choosing parameters by name
def _prefixes(name):
    """``"layer1.0.conv1.weight"`` -> ``["layer1", "layer1.0", "layer1.0.conv1", "layer1.0.conv1.weight"]``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _matches(name, pattern):
    """A parameter matches a glob when its full name or the name of a module holding it matches."""
    return any(fnmatch.fnmatchcase(p, pattern) for p in _prefixes(name))


def select_parameters(model, pattern=None, fn="select_parameters"):
    """``[(name, Parameter)]`` of ``model`` chosen by ``pattern``.

    Args:
        pattern: None (every parameter); a glob over dotted names, matched against each parameter's name
            and the names of the modules that hold it (``"features"``, ``"features.*"``, ``"layer[12]"``,
            ``"*.bn*"``); a submodule of ``model``; or a list of these.

    Raises:
        ValueError when a glob or module selects nothing (a typo would otherwise freeze nothing), naming
        the model's top-level modules.
    """
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: `model` must be a cnnlab.nn.Module. Received an object of type {type(model).__name__}")
    named = list(model.named_parameters())
    if pattern is None:
        return named
    patterns = list(pattern) if isinstance(pattern, (list, tuple)) else [pattern]
    chosen = {}
    module_names = {id(m): n for n, m in model.named_modules()}
    for pat in patterns:
        if isinstance(pat, Module):
            if id(pat) not in module_names:
                raise ValueError(f"{fn}: the module {type(pat).__name__} given as `pattern` is not part of the model")
            ids = {id(p) for p in pat.parameters()}
            hits = [(n, p) for n, p in named if id(p) in ids]
            what = f"module {module_names[id(pat)] or '<root>'!r}"
        elif isinstance(pat, str):
            hits = [(n, p) for n, p in named if _matches(n, pat)]
            what = f"pattern {pat!r}"
        else:
            raise TypeError(f"{fn}: `pattern` must be a glob string, a submodule, a list of them, or None. "
                            f"Received an object of type {type(pat).__name__}")
        if not hits:
            top = ", ".join(n for n, _ in model.named_children())
            raise ValueError(f"{fn}: {what} matches no parameter of {type(model).__name__}. "
                             f"Its top-level modules are: {top}")
        for n, p in hits:
            chosen[n] = p
    return [(n, p) for n, p in named if n in chosen]


def set_requires_grad(model, pattern, requires_grad, fn):
    """Set ``requires_grad`` on the parameters ``pattern`` selects (frozen ones lose their gradient);
    returns their names. What ``freeze`` and ``unfreeze`` (and the ``Module`` methods) do."""
    chosen = select_parameters(model, pattern, fn)
    for _, p in chosen:
        p.requires_grad_(requires_grad)
        if not requires_grad:
            p.grad = None
    return [n for n, _ in chosen]
