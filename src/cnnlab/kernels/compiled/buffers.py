"""Output arrays the compiled kernels hand out again, step after step, instead of new ones.

Why: glibc gives the memory of large freed arrays back to the system (``munmap``, or trimming the
heap's top), and a training step frees all its activations at its end, so a fresh process faults every
page of them in again the next step: 4,084 page faults per fashion_cnn step at batch 64, about a
quarter of its CPU time (``benchmarks/RESULTS.md``). So the kernels ask here for their large outputs.

The pool is a set of byte blocks. A request is served from an unused block of at least its size and
at most twice it (as an allocator's size classes: a smaller layer reuses a larger one's block), viewed
with the request's shape and dtype; else a new block is made. "Unused" is the block's reference count:
every array served from it is a view that holds it, and a Tensor, a saved activation or any further
view holds those, so a block is served again only once all of them are gone. When the pool must grow,
unused blocks beyond ``FREE_LIMIT`` bytes are let go, the oldest first. ``release()`` lets all unused ones
go; ``CNNLAB_REUSE_BUFFERS=0`` turns reuse off (every call is ``np.empty``).

Only while autograd records (``backend.recording()``): under ``no_grad`` each layer frees its input as
the next one runs, and glibc reuses that memory across sizes better than blocks can (resnet18
inference at batch 32 peaked at 418 MiB pooled, 302 MiB not).
"""

import math
import os
import sys
import threading

import numpy as np

from ... import backend

__all__ = ["empty", "empty_like", "zeros", "release", "pooled_bytes"]

MIN_BYTES = 1 << 17          # smaller arrays stay in glibc's heap, which keeps them without help
FREE_LIMIT = 128 << 20       # unused bytes kept when the pool grows (a new shape: evaluation, a last batch).
                             # The backward frees a stage's activations while the next stage's gradients
                             # want larger blocks: 64 MiB made 7-15 new blocks a step (resnet20, VGG b128)
_pool = {}                   # size class (bit length of the block's bytes) -> [uint8 blocks], oldest first
_lock = threading.Lock()     # two threads running kernels must not take the same block
_enabled = None


def _on():
    global _enabled
    if _enabled is None:     # read at the first large array, not at import
        _enabled = os.environ.get("CNNLAB_REUSE_BUFFERS", "1").strip() != "0"
    return _enabled


def _references(a):
    return sys.getrefcount(a)


def _calibrate():
    """What ``_references`` reads for a pooled array nobody else holds, when called as the pool's
    loops call it (the list's slot, the loop variable, the argument, ``getrefcount``'s own)."""
    for a in [np.empty(0)]:
        return _references(a)


_UNUSED = _calibrate()


def _idle(a):
    """Whether the pool's array ``a`` (passed from a loop over its list) is held by nobody else."""
    return sys.getrefcount(a) <= _UNUSED


def _make_room():
    """Let unused blocks go (size class by size class, oldest first in each) until at most
    ``FREE_LIMIT`` bytes of them remain."""
    spare = -FREE_LIMIT
    for blocks in _pool.values():
        for b in blocks:
            if _idle(b):
                spare += b.nbytes
    for size_class in list(_pool):
        if spare <= 0:
            break
        kept = []
        for b in _pool[size_class]:
            if spare > 0 and _idle(b):
                spare -= b.nbytes
            else:
                kept.append(b)
        if kept:
            _pool[size_class] = kept
        else:
            del _pool[size_class]


def _block(nbytes):
    """The smallest unused block of ``nbytes`` to ``2 * nbytes`` bytes, or a new one."""
    best = None
    size_class = nbytes.bit_length()          # blocks of 2**(k-1) to 2**k - 1 bytes are class k
    for k in (size_class, size_class + 1):
        for b in _pool.get(k, ()):
            if nbytes <= b.nbytes <= 2 * nbytes and (best is None or b.nbytes < best.nbytes) and _idle(b):
                best = b
    if best is None:
        _make_room()
        best = np.empty(nbytes, np.uint8)
        _pool.setdefault(size_class, []).append(best)
    return best


def empty(shape, dtype):
    """An uninitialised C-contiguous array, as ``np.empty``: a view of a pooled block when it is large."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or not backend.recording() or not _on():
        return np.empty(shape, dtype)
    with _lock:
        return _block(nbytes)[:nbytes].view(dtype).reshape(shape)


def zeros(shape, dtype):
    """As ``np.zeros``, through ``empty``."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def empty_like(a):
    """As ``np.empty_like(a)`` for the kernels' two layouts: C-contiguous, or (N, C, H, W) stored
    channels-last; any other layout gets a C-contiguous array."""
    if a.ndim == 4 and not a.flags.c_contiguous and a.transpose(0, 2, 3, 1).flags.c_contiguous:
        n, c, h, w = a.shape
        return empty((n, h, w, c), a.dtype).transpose(0, 3, 1, 2)
    return empty(a.shape, a.dtype)


def release():
    """Let every pooled block that nobody uses go back to the allocator."""
    with _lock:
        for size_class in list(_pool):
            kept = []
            for b in _pool[size_class]:
                if not _idle(b):
                    kept.append(b)
            if kept:
                _pool[size_class] = kept
            else:
                del _pool[size_class]


def pooled_bytes():
    """``(in use, unused)`` bytes of the pool's blocks."""
    used = idle = 0
    with _lock:
        for blocks in _pool.values():
            for b in blocks:
                if _idle(b):
                    idle += b.nbytes
                else:
                    used += b.nbytes
    return used, idle
