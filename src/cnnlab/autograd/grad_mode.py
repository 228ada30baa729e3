"""Global switch for recording the graph: ``no_grad`` turns it off inside a block."""

import functools

_enabled = True


def is_grad_enabled():
    return _enabled


def set_grad_enabled(mode):
    global _enabled
    _enabled = bool(mode)


class _GradMode:
    mode = True

    def __enter__(self):
        self._prev = _enabled
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
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
            set_grad_enabled(False)
        return self

    def __call__(self, fn):
        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(enabled):
                return fn(*args, **kwargs)

        return wrapper
