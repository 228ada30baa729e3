"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict`` and the pass-through ``Identity``.

Children are registered under their index (``"0"``, ``"1"``, ...) or key, so state-dict names are
PyTorch's (``features.0.weight``).
"""

import operator
from collections import OrderedDict
from collections.abc import Mapping

from . import fusion
from .module import Module, _addindent


def _abs_index(fn, idx, size):
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(f"{fn}: index must be an int or a slice. Received: {idx!r} "
                        f"of type {type(idx).__name__}") from None
    if not -size <= idx < size:
        raise IndexError(f"{fn}: index {idx} is out of range for a container of length {size}")
    return idx % size if size else idx


class _IndexedModules(Module):
    """What ``Sequential`` and ``ModuleList`` share: children in order, addressed by position, and
    renumbered ``"0"``, ``"1"``, ... after a deletion (as PyTorch does)."""

    _owner = None  # the container's name in messages

    def _key(self, idx):
        """The registered name of the child at position ``idx`` (negative counts from the end)."""
        return list(self._modules.keys())[_abs_index(self._owner, idx, len(self._modules))]

    def __setitem__(self, idx, module):
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())[idx] if isinstance(idx, slice) else [self._key(idx)]
        for key in keys:
            delattr(self, key)
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add ``module`` at the end (named by its position)."""
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key):
        module = self[key]
        del self[key]
        return module


class Sequential(_IndexedModules):
    """Modules applied one after another; the output of each is the input of the next.

    Args:
        *args: modules, registered as ``"0"``, ``"1"``, ...; or a single OrderedDict of name -> module.

    Example:
        >>> model = Sequential(Conv2d(1, 8, 3), ReLU(), Flatten())
        >>> model[0]            # Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))
        >>> model[1:]           # a Sequential of the last two
    """

    _owner = "Sequential"

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise TypeError(f"Sequential: can only add another Sequential. Received an object of type "
                            f"{type(other).__name__}")
        result = Sequential()
        for module in list(self) + list(other):
            result.append(module)
        return result

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise TypeError(f"Sequential: can only add another Sequential. Received an object of type "
                            f"{type(other).__name__}")
        return self.extend(list(other))

    def insert(self, index, module):
        """Put ``module`` before position ``index``; later modules shift by one."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: `module` must be a Module. Received an object of type "
                            f"{type(module).__name__}")
        n = len(self._modules)
        index = operator.index(index)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for length {n}")
        if index < 0:
            index += n
        modules = list(self._modules.values())
        modules.insert(index, module)
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(modules))
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def forward(self, input):
        modules = list(self._modules.values())
        i = 0
        while i < len(modules):
            after = modules[i + 1:i + 3] + [None, None]
            if fusion.folds(modules[i], after[0]):       # inference: Conv2d, BatchNorm2d (, ReLU) as one op
                relu = after[1] if fusion.folds(modules[i], after[0], after[1]) else None
                input = fusion.conv_bn_relu(modules[i], after[0], relu, input)
                i += 2 if relu is None else 3
            elif i + 1 < len(modules) and fusion.fusable(modules[i], modules[i + 1]):
                input = modules[i].forward_relu(input)   # BatchNorm then ReLU as one op
                i += 2
            else:
                input = modules[i](input)
                i += 1
        return input


class ModuleList(_IndexedModules):
    """A list of modules, registered under their index; it has no forward of its own.

    Args:
        modules: an iterable of modules (optional).
    """

    _owner = "ModuleList"

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        result = ModuleList()
        for module in list(self) + list(other):
            result.append(module)
        return result

    def extend(self, modules):
        if not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleList.extend: `modules` must be an iterable of modules. Received an object "
                            f"of type {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self.__dict__["_modules"] = OrderedDict()
        for m in modules:
            self.append(m)

    def __repr__(self):
        # Runs of identical children print once, as "(0-2): 3 x Linear(...)" (PyTorch's style).
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        blocks = []  # [start, end, repr]
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = []
        for start, end, r in blocks:
            line = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_addindent(line, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules, registered under their keys; it has no forward of its own.

    Args:
        modules: a mapping of name -> module, or an iterable of (name, module) pairs (optional).
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add or replace entries from a mapping or from an iterable of (name, module) pairs."""
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        if not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleDict.update: `modules` must be a mapping or an iterable of (name, module) "
                            f"pairs. Received an object of type {type(modules).__name__}")
        for j, entry in enumerate(modules):
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise ValueError(f"ModuleDict.update: element {j} of `modules` must be a (name, module) pair. "
                                 f"Received: {entry!r}")
            self[entry[0]] = entry[1]


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are accepted and ignored.

    Useful to remove a layer without changing the model's structure (``model.fc = Identity()``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
