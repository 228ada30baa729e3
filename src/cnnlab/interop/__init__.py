"""Moving models to and from other engines: PyTorch state dicts (in and out) and ONNX export.
May import models, nn, optim, data, functional and below; not train, inspect or cli.

Example:
    >>> from cnnlab import models
    >>> from cnnlab.interop import export_onnx, load_torch_state_dict, to_torch_state_dict
    >>> model = models.get("resnet18")
    >>> load_torch_state_dict(model, "resnet18.safetensors")       # torchvision-named weights, no torch needed
    >>> export_onnx(model, "resnet18.onnx", (3, 224, 224))          # needs the onnx package
"""

from .torch_state import LoadReport, load_torch_state_dict, read_state_dict, save_torch_state_dict, to_torch_state_dict


def export_onnx(model, path, input_shape, **kwargs):
    """Write ``model`` as an ONNX graph; see :func:`cnnlab.interop.onnx_export.export_onnx` (needs ``onnx``)."""
    from .onnx_export import export_onnx as _export

    return _export(model, path, input_shape, **kwargs)


def to_onnx(model, input_shape, **kwargs):
    """The ``onnx.ModelProto`` of ``model``; see :func:`cnnlab.interop.onnx_export.to_onnx`."""
    from .onnx_export import to_onnx as _to_onnx

    return _to_onnx(model, input_shape, **kwargs)


__all__ = ["load_torch_state_dict", "to_torch_state_dict", "save_torch_state_dict", "read_state_dict", "LoadReport",
           "export_onnx", "to_onnx"]
