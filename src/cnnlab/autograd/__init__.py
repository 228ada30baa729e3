"""Reverse-mode automatic differentiation: Function, the backward engine and grad mode.
One unit with ``tensor``; may import backend and validation only.
"""

from .engine import backward, unbroadcast
from .function import Context, Function, Node
from .hooks import queue_callback
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "Context", "Node", "backward", "unbroadcast", "no_grad", "enable_grad", "inference_mode",
           "is_grad_enabled", "set_grad_enabled", "queue_callback"]
