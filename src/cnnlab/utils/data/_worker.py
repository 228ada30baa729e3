"""Worker processes for ``DataLoader(num_workers=N)``: each loads whole batches and sends them back.

The main process sends ``(epoch, batch number, indices)`` to worker ``number % N`` and collects the
results in order, so batches come out as with ``num_workers=0``. Batches cross the process boundary
as plain arrays (``_pack``/``_unpack``); an exception in a worker comes back as its traceback
text and is raised in the main process; a worker that dies is noticed by polling, never waited
on forever.
"""

import os
import queue
import random
import traceback
from dataclasses import dataclass

import numpy as np

from ... import backend
from ...tensor import Tensor
from ._nested import map_nested

POLL_S = 0.1  # how often a waiting side checks that the other is still alive


@dataclass(frozen=True)
class WorkerInfo:
    """``get_worker_info()`` in a worker: its ``id``, ``num_workers``, ``seed`` and ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info = None


def get_worker_info():
    """In a DataLoader worker, its ``WorkerInfo``; in the main process, None (as PyTorch)."""
    return _worker_info


SHARED_MIN_BYTES = 1 << 16  # larger arrays travel through shared memory rather than the pipe


class _Packed:
    """A Tensor's array in transit (a Tensor itself does not pickle its graph links).

    A large array is copied once into a shared-memory block, and only the block's name crosses
    the pipe; the main process copies it out and frees the block (``_unpack``).
    """

    __slots__ = ("array", "shm_name", "shape", "dtype", "tensor")

    def __init__(self, array, tensor=True):
        self.tensor = tensor
        self.array = None
        self.shm_name = None
        if array.nbytes < SHARED_MIN_BYTES:
            self.array = array
            return
        from multiprocessing import shared_memory

        block = shared_memory.SharedMemory(create=True, size=array.nbytes)
        np.ndarray(array.shape, array.dtype, buffer=block.buf)[...] = array
        self.shm_name, self.shape, self.dtype = block.name, array.shape, array.dtype
        block.close()

    def take(self):
        """The array (freeing its shared block, if any)."""
        if self.shm_name is None:
            return self.array
        from multiprocessing import shared_memory

        block = shared_memory.SharedMemory(name=self.shm_name)
        try:
            return np.ndarray(self.shape, self.dtype, buffer=block.buf).copy()
        finally:
            block.close()
            block.unlink()


def release(obj):
    """Free the shared blocks of a result that will not be used (an abandoned epoch)."""
    if isinstance(obj, _Packed):
        obj.take()
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            release(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            release(x)


def _pack(obj):
    if isinstance(obj, Tensor):
        return _Packed(backend.asnumpy(obj._data))
    if isinstance(obj, np.ndarray) and obj.dtype != object:
        return _Packed(obj, tensor=False)
    if isinstance(obj, (list, tuple)):
        packed = [_pack(x) for x in obj]
        return tuple(packed) if type(obj) is tuple else packed
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    return obj


def _unpacked(leaf):
    if isinstance(leaf, _Packed):
        array = leaf.take()
        return Tensor(array) if leaf.tensor else array
    return leaf


def _unpack(obj):
    return map_nested(_unpacked, obj)


class WorkerError:
    """An exception raised in a worker, carried back as text and re-raised as the same type."""

    def __init__(self, exc, worker_id, where):
        self.type = type(exc)
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.worker_id = worker_id
        self.where = where

    def reraise(self):
        message = (f"Caught {self.type.__name__} in DataLoader worker process {self.worker_id} "
                   f"({self.where}). Original traceback:\n{self.text}")
        try:
            exc = self.type(message)
        except Exception:  # an exception class whose constructor needs other arguments
            exc = RuntimeError(message)
        raise exc


def _seed_worker(seed):
    """Seed every generator a dataset or transform may draw from: each worker repeats run to run."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    backend.manual_seed(seed)


def worker_loop(fetch, dataset, index_queue, result_queue, worker_id, num_workers, seed,
                worker_init_fn, parent_pid):
    """One worker process: load the batches it is sent until it gets None or the parent dies."""
    global _worker_info
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    _seed_worker(seed)
    # A forked child must not start Numba's thread pool (GNU OpenMP aborts a child forked from a
    # process that used it), so ops in a worker run on the NumPy reference kernels. PyTorch's
    # workers likewise run single-threaded.
    backend.set_kernels("reference")
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception as exc:
        result_queue.put((None, None, WorkerError(exc, worker_id, "in worker_init_fn")))
        return
    while True:
        try:
            task = index_queue.get(timeout=POLL_S)
        except queue.Empty:
            if os.getppid() != parent_pid:  # the main process is gone: nobody will read the results
                return
            continue
        if task is None:
            return
        epoch, number, indices = task
        try:
            result = _pack(fetch(dataset, indices))
        except Exception as exc:
            result = WorkerError(exc, worker_id, f"loading batch {number}")
        result_queue.put((epoch, number, result))
