"""Output arrays the compiled kernels hand out again, step after step, instead of new ones.

Why: glibc gives the memory of large freed arrays back to the system (``munmap``, or trimming the
heap's top), and a training step frees all its activations at its end, so a fresh process faults every
page of them in again the next step: 4,084 page faults per fashion_cnn step at batch 64, about a
quarter of its CPU time (``benchmarks/RESULTS.md``). The kernels ask for the same shapes every step:
an array of that shape and dtype that nothing references any more is handed out again.

"Nothing references it" is its reference count: a Tensor, a saved-for-backward slot and every view
(views hold their base) each count, so an array is reused only once all of them are gone. What the
pool keeps is bounded: when it must grow, arrays nobody uses are let go, oldest first, until at most
``FREE_LIMIT`` bytes of them remain. ``release()`` lets all unused ones go (after training, say).
``CNNLAB_REUSE_BUFFERS=0`` turns reuse off (every call is ``np.empty``).
"""

import math
import os
import sys
import threading

import numpy as np

__all__ = ["empty", "empty_like", "zeros", "release", "pooled_bytes"]

MIN_BYTES = 1 << 17          # smaller arrays stay in glibc's heap, which keeps them without help
FREE_LIMIT = 256 << 20       # unused bytes kept when the pool grows (a new shape: evaluation, a last batch)
_pool = {}                   # (shape, dtype) -> [arrays], oldest first
_lock = threading.Lock()     # two threads running kernels must not take the same array
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
    """Let unused arrays go, oldest first, until at most ``FREE_LIMIT`` bytes of them remain."""
    spare = -FREE_LIMIT
    for arrays in _pool.values():
        for a in arrays:
            if _idle(a):
                spare += a.nbytes
    for key in list(_pool):
        if spare <= 0:
            break
        kept = []
        for a in _pool[key]:
            if spare > 0 and _idle(a):
                spare -= a.nbytes
            else:
                kept.append(a)
        if kept:
            _pool[key] = kept
        else:
            del _pool[key]


def empty(shape, dtype):
    """An uninitialised C-contiguous array, as ``np.empty``: a pooled one when it is large."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    if math.prod(shape) * dtype.itemsize < MIN_BYTES or not _on():
        return np.empty(shape, dtype)
    key = (shape, dtype.str)
    with _lock:
        for found in _pool.get(key, ()):
            if _idle(found):
                return found
        _make_room()
        found = np.empty(shape, dtype)
        _pool.setdefault(key, []).append(found)
        return found


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
    """Let every pooled array that nobody uses go back to the allocator."""
    with _lock:
        for key in list(_pool):
            kept = []
            for a in _pool[key]:
                if not _idle(a):
                    kept.append(a)
            if kept:
                _pool[key] = kept
            else:
                del _pool[key]


def pooled_bytes():
    """``(in use, unused)`` bytes the pool holds."""
    used = idle = 0
    with _lock:
        for arrays in _pool.values():
            for a in arrays:
                if _idle(a):
                    idle += a.nbytes
                else:
                    used += a.nbytes
    return used, idle
