"""``Optimizer``: parameter groups, per-parameter state, and a state dict that is plain data.

The base class mirrors ``torch.optim.Optimizer``: ``params`` is an iterable of tensors or of
dicts (parameter groups, each with its own options), ``state[p]`` holds each parameter's
buffers, and ``state_dict()`` replaces parameters by their position so a checkpoint can store
it as arrays (``.npz``) plus JSON.
"""

import copy
import functools
from collections.abc import MutableMapping

import numpy as np

from .. import backend
from ..autograd import enable_grad
from ..tensor import Tensor
from ..validation import real_arg


class ParamState(MutableMapping):
    """Per-parameter state, keyed by the parameter object itself (by identity, not value).

    Behaves like ``collections.defaultdict(dict)``: ``state[p]`` makes an empty dict for a new ``p``.
    Identity keys keep lookups independent of how a Tensor subclass defines ``==`` and ``hash``.
    """

    def __init__(self):
        self._entries = {}  # id(p) -> (p, state dict); holding p keeps its id from being reused

    def __getitem__(self, param):
        entry = self._entries.get(id(param))
        if entry is None:
            entry = self._entries[id(param)] = (param, {})
        return entry[1]

    def __setitem__(self, param, value):
        self._entries[id(param)] = (param, value)

    def __delitem__(self, param):
        del self._entries[id(param)]

    def __contains__(self, param):
        return id(param) in self._entries

    def __iter__(self):
        return (param for param, _ in list(self._entries.values()))

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return f"ParamState({len(self)} parameters)"


def check_number(owner, name, value, minimum=0.0):
    """Raise unless ``value`` is a real number >= ``minimum`` (NaN fails too)."""
    real_arg(owner, name, value, low=minimum)


def _plain(value):
    """A copy of ``value`` made of arrays, numbers, strings, lists and dicts only."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value.copy()
    return value


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype") or hasattr(value, "__array__")


def _counting(step):
    """Wrap an optimizer's ``step`` to count calls (a scheduler stepped before its optimizer warns)."""

    @functools.wraps(step)
    def counted_step(self, *args, **kwargs):
        self._step_calls += 1
        return step(self, *args, **kwargs)

    return counted_step


class Optimizer:
    """Base class of the optimizers: holds parameter groups and per-parameter state.

    Subclasses set their defaults, check their options in ``_check_options`` and give their maths
    in ``_update`` (and their state in ``_new_state``), or implement ``step`` themselves.

    Args:
        params: an iterable of Tensors (``model.parameters()``), of ``(name, Tensor)`` pairs, or of
            dicts, each a parameter group ``{"params": [...], "lr": ...}``; options a group does not
            set take the defaults. Fine-tuning, for example, gives pretrained layers 1/10 of the
            base learning rate: ``SGD([{"params": head}, {"params": body, "lr": 0.001}], lr=0.01)``.
        defaults: the default value of every option.
    """

    _option_buffers = {}  # state name -> the option that needs it: a zero array made once it is on
    _nonnegative_options = ()  # options that must be real numbers >= 0, checked in this order

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = ParamState()
        self.param_groups = []
        self._step_calls = 0  # lets a learning-rate scheduler warn if it steps before the optimizer
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: `params` must be an iterable of Tensors or of dicts (parameter groups). "
                            f"Received a single Tensor of shape {params.shape}; wrap it in a list")
        if isinstance(params, dict):
            raise TypeError(f"{name}: `params` must be an iterable of Tensors or of dicts (parameter groups). "
                            f"Received a dict; to pass one parameter group, wrap it in a list: [group]")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters must be in an ordered collection (list, tuple, generator); a set's "
                            f"order changes between runs, which would scramble the state dict")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: `params` must be an iterable of Tensors or of dicts (parameter groups). "
                            f"Received an object of type {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{name}: `params` is empty; expected at least one parameter "
                             f"(was the model empty, or the generator already consumed?)")
        self._check_options(self.defaults)
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _counting(cls.__dict__["step"])

    def _check_options(self, options):
        """Raise ValueError/TypeError for invalid option values: here ``_nonnegative_options``; an
        optimizer with other rules extends this."""
        for key in self._nonnegative_options:
            check_number(type(self).__name__, key, options[key])

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key not in ("params", "param_names")]
        return "\n".join(lines) + "\n)"

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (e.g. unfreeze layers while fine-tuning).

        Args:
            param_group: dict with key ``"params"`` (a Tensor, or an iterable of Tensors or of
                ``(name, Tensor)`` pairs) and any options; missing options take the defaults.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: a parameter group must be a dict with key 'params'. "
                            f"Received an object of type {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the parameter group has no 'params' key. "
                             f"Received keys {sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}.add_param_group: parameters must be in an ordered collection (list, tuple, "
                            f"generator); a set's order changes between runs, which would scramble the state dict")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}.add_param_group: either every parameter is a (name, Tensor) pair or "
                                 f"none is. Received {len(names)} named of {len(params)}")
            group["param_names"] = names
            params = [p[1] for p in params]
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can optimize only Tensors, but parameter {i} of the group is "
                                f"an object of type {type(p).__name__}")
            if not p.is_leaf and not getattr(p, "_retains_grad", False):
                raise ValueError(f"{name}: can optimize only leaf Tensors (made by the user, not by an op); "
                                 f"parameter {i} of the group has shape {p.shape} and was made by {p.grad_fn.name()}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}.add_param_group: the group lists a parameter more than once")
        for j, other in enumerate(self.param_groups):
            if ("param_names" in other) != ("param_names" in group):
                raise ValueError(f"{name}.add_param_group: every parameter group must have names or none may; "
                                 f"group {j} {'has' if 'param_names' in other else 'has no'} names, the new one "
                                 f"{'has' if 'param_names' in group else 'has none'}")
            if {id(p) for p in other["params"]} & {id(p) for p in params}:
                raise ValueError(f"{name}.add_param_group: some parameters are already in parameter group {j}; "
                                 f"a parameter may belong to one group only")
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_options(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None (default; frees memory) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad._data[...] = 0

    @_counting
    def step(self, closure=None):
        """Update the parameters once from their ``.grad``; ``closure`` recomputes and returns the loss.

        The walk the optimizers share: each parameter with a gradient gets its state (``step`` plus
        ``_new_state``, then any ``_option_buffers`` its group's options turn on), a step count, and
        ``_update`` with the gradient already negated (maximize) and weight-decayed.
        """
        if type(self)._update is Optimizer._update:
            raise NotImplementedError(f"{type(self).__name__}.step is not implemented")
        loss = self._begin_step(closure)
        for gi, group in enumerate(self.param_groups):
            for p, grad in self._params_with_grad(group, gi):
                param, state = p._data, self.state[p]
                if not state:
                    state["step"] = 0
                    state.update(self._new_state(param, group))
                for name, option in self._option_buffers.items():
                    if group[option] and name not in state:  # also when the option is turned on later
                        state.update(zeros(param, name))
                state["step"] += 1
                d, fresh = self._decayed(param, grad, group)
                self._update(param, d, fresh, state, group)
        return loss

    def _new_state(self, param, group):
        """A parameter's state entries besides ``step``, made before its first update."""
        return {}

    def _update(self, param, d, fresh, state, group):
        """One step of the optimizer's maths on raw arrays, in place; ``d`` is the decayed gradient,
        an array ``_update`` may overwrite when ``fresh`` (else it is the parameter's gradient)."""

    @staticmethod
    def _decayed(param, grad, group):
        """``(d, fresh)``: the gradient, negated when maximizing, plus the L2 weight decay.

        Decoupled weight decay (AdamW) instead shrinks ``param`` by ``1 - lr * wd`` here.
        """
        xp = backend.get_array_module(param)
        weight_decay = group["weight_decay"]
        if weight_decay != 0 and group.get("decoupled_weight_decay", False):
            param *= 1 - group["lr"] * weight_decay
            weight_decay = 0
        return decayed_grad(xp, param, grad, weight_decay, group["maximize"])

    def _begin_step(self, closure):
        """Run the optional closure (with gradients on) and return its loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        return loss

    def _params_with_grad(self, group, group_index):
        """The ``(param, gradient array)`` pairs to update: skip no gradient and frozen parameters.

        NOTE: PyTorch also updates a parameter with ``requires_grad=False`` if it still holds a
        gradient; here frozen layers stay untouched whatever their ``.grad`` holds.
        """
        for i, p in enumerate(group["params"]):
            if p.grad is None or not p.requires_grad:
                continue
            grad = p.grad._data if isinstance(p.grad, Tensor) else p.grad
            if grad.shape != p._data.shape:
                raise ValueError(f"{type(self).__name__}.step: parameter {i} of group {group_index} has shape "
                                 f"{p._data.shape} but its gradient has shape {grad.shape}")
            yield p, grad

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        """The optimizer's state as plain data, in PyTorch's layout.

        ``{"state": {index: {"momentum_buffer": array, ...}}, "param_groups": [{"lr": ..., "params":
        [indices]}, ...]}`` where a parameter's index is its position across all groups. Arrays are
        copies; everything else is numbers, strings, lists and dicts, so it saves as npz + JSON.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for p in self.state:
            if id(p) in index and self.state[p]:
                state[index[id(p)]] = _plain(self.state[p])
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a state saved by ``state_dict()`` into an optimizer over the same parameters.

        Arrays are copied and cast to each parameter's dtype and device; state keys may be ints
        or their strings (as JSON writes them). Raises ValueError if the number of groups, the
        number of parameters in a group, or a state array's shape differs.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups'. Received: {got}")
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the saved state has {len(saved_groups)} parameter groups "
                             f"but this optimizer has {len(self.param_groups)}")
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: parameter group {i} holds {len(saved['params'])} parameters in the saved "
                                 f"state but {len(group['params'])} in this optimizer")
        params = {}
        for saved, group in zip(saved_groups, self.param_groups):
            params.update(zip((int(k) for k in saved["params"]), group["params"]))

        state = ParamState()
        for key, values in state_dict["state"].items():
            try:
                k = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: state keys must be parameter indices. Received: {key!r}") from None
            if k not in params:
                raise ValueError(f"{name}: the saved state has an entry for parameter {k}, which no saved "
                                 f"parameter group lists (they list {sorted(params)})")
            p = params[k]
            state[p] = {field: self._cast_state(name, k, field, v, p) for field, v in values.items()}

        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            for option, default in self.defaults.items():
                if isinstance(default, tuple) and isinstance(saved.get(option), list):
                    saved[option] = tuple(saved[option])  # JSON turns tuples (``betas``) into lists
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            self._check_options(saved)
            new_groups.append(saved)
        self._restore_options(new_groups)
        self.state = state
        self.param_groups = new_groups

    def _restore_options(self, groups):
        """Hook for subclasses that force options on loaded groups (AdamW is always decoupled)."""

    @staticmethod
    def _cast_state(name, index, field, value, p):
        if field == "step":
            return int(value.item() if hasattr(value, "item") else value)
        if not _is_array(value) or isinstance(value, (str, bytes)):
            return copy.deepcopy(value)
        xp = backend.get_array_module(p._data)
        host = backend.asnumpy(value) if not isinstance(value, np.ndarray) else value
        array = xp.array(host, dtype=p._data.dtype, copy=True)
        if array.shape != p._data.shape:
            raise ValueError(f"{name}: state '{field}' of parameter {index} has shape {array.shape} "
                             f"but the parameter has shape {p._data.shape}")
        return array


# ---------------------------------------------------------------------- array helpers shared by the optimizers
def zeros(param, *names):
    """``{name: zero array like param}`` for each name: the moment buffers most optimizers start from."""
    xp = backend.get_array_module(param)
    return {name: xp.zeros_like(param) for name in names}


def decayed_grad(xp, param, grad, weight_decay, maximize):
    """``±grad + weight_decay * param`` and whether it is a fresh array (the gradient is never written)."""
    if weight_decay != 0:
        d = xp.multiply(param, weight_decay)
        if maximize:
            d -= grad
        else:
            d += grad
        return d, True
    if maximize:
        return xp.negative(grad), True
    return grad, False


def lerp_(start, end, weight, tmp):
    """``start += weight * (end - start)`` in place, in PyTorch's two-sided form for accuracy near 1."""
    xp = backend.get_array_module(start)
    xp.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1 - weight
        xp.subtract(end, tmp, out=start)


def ema_square_(avg, g, beta, tmp):
    """``avg = beta * avg + (1 - beta) * g * g`` in place: the running mean of squared gradients."""
    xp = backend.get_array_module(avg)
    avg *= beta
    xp.multiply(g, 1 - beta, out=tmp)
    tmp *= g
    avg += tmp
