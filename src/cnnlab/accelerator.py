"""``cnnlab.accelerator``: PyTorch's ``torch.accelerator`` questions, answered from ``backend``.

The only accelerator cnnlab drives is a CUDA GPU through CuPy; without one, ``is_available()``
is False and ``current_accelerator()`` None, so ``torch.accelerator.current_accelerator().type
if torch.accelerator.is_available() else "cpu"`` picks the CPU.
"""

from . import backend


def is_available():
    return backend.cuda_available()


def current_accelerator(check_available=False):
    """``device('cuda')`` when a GPU is there, else None."""
    return backend.device("cuda") if backend.cuda_available() else None


def device_count():
    if not backend.cuda_available():
        return 0
    import cupy

    return int(cupy.cuda.runtime.getDeviceCount())
