"""The model zoo: every architecture is a function returning an ``nn.Module``, declared as a config table."""

from .registry import get, input_size, list_models, register_model
from .small import fashion_cnn, lenet5

__all__ = ["get", "list_models", "register_model", "input_size", "lenet5", "fashion_cnn"]
