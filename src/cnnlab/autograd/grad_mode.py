"""Global switch for recording the graph: ``no_grad`` turns it off inside a block."""

import functools

from .. import backend

_enabled = True


def is_grad_enabled():
    return _enabled


def _set_enabled(mode):
    global _enabled
    _enabled = backend._recording = bool(mode)


class _GradMode:
    mode = True

    def __enter__(self):
        self._prev = _enabled
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._prev)
        return False

    def _fresh(self):
        """A new manager with this one's setting: each call of a decorated function enters its own,
        so calls may nest or recurse without sharing the saved previous mode."""
        return self.__class__()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record no graph (inference, optimizer steps)."""

    mode = False


class enable_grad(_GradMode):
    """Context manager and decorator: record the graph even inside ``no_grad``."""

    mode = True


class inference_mode(_GradMode):
    """Context manager and decorator for inference: like ``no_grad`` (cnnlab has no separate
    inference tensors, so outputs can later be used in ops that record a graph, unlike PyTorch).

    ``inference_mode(False)`` changes nothing; ``@inference_mode`` and ``@inference_mode()``
    both work.
    """

    def __new__(cls, mode=True):
        if callable(mode):  # used as a bare decorator: @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.enabled = bool(mode)

    def __enter__(self):
        self._prev = _enabled
        if self.enabled:
            _set_enabled(False)
        return self

    def _fresh(self):
        return inference_mode(self.enabled)


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off, as PyTorch's ``set_grad_enabled``.

    Called, it switches at once and stays switched: ``set_grad_enabled(False)``. As a context
    manager, ``with set_grad_enabled(phase == "train"):`` switches for the block and restores the
    mode from before the call on exit. As a decorator, it applies ``mode`` inside the function only.
    """

    def __init__(self, mode):
        self._prev = _enabled
        self.mode = bool(mode)
        _set_enabled(self.mode)

    def __enter__(self):
        _set_enabled(self.mode)
        return self

    def _fresh(self):
        return set_grad_enabled(self.mode)

    def __call__(self, fn):
        _set_enabled(self._prev)  # used as a decorator: the switch applies inside fn only
        return super().__call__(fn)
