"""Global switch for recording the graph: ``no_grad`` turns it off inside a block."""

import functools

_enabled = True


def is_grad_enabled():
    return _enabled


def _set_enabled(mode):
    global _enabled
    _enabled = bool(mode)


class _GradMode:
    mode = True

    def __enter__(self):
        self._prev = _enabled
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
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

    def __call__(self, fn):
        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(enabled):
                return fn(*args, **kwargs)

        return wrapper


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

    def __call__(self, fn):
        _set_enabled(self._prev)  # used as a decorator: the switch applies inside fn only
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
