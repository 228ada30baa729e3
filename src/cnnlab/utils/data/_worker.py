"""Worker processes for ``DataLoader(num_workers=N)``: each loads whole batches and sends them back.

The main process sends ``(epoch, batch number, indices)`` to worker ``number % N`` and collects the
results in order, so batches come out as with ``num_workers=0``. Batches cross the process boundary
as plain arrays (``_pack``/``_unpack``); an exception in a worker comes back as its traceback text and
is raised in the main process; a worker that dies is noticed by polling, never waited on forever.
"""

import os
import queue
import random
import traceback
from dataclasses import dataclass

import numpy as np

from ... import backend
from ...tensor import Tensor

POLL_S = 0.1  # how often a waiting side checks that the other is still alive


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info = None


def get_worker_info():
    """In a DataLoader worker process, its ``WorkerInfo``; in the main process, None (as PyTorch)."""
    return _worker_info


class _Packed:
    """A Tensor's array in transit (a Tensor itself does not pickle its graph links)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _pack(obj):
    if isinstance(obj, Tensor):
        return _Packed(backend.asnumpy(obj._data))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pack(x) for x in obj) if type(obj) in (list, tuple) else [_pack(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    return obj


def _unpack(obj):
    if isinstance(obj, _Packed):
        return Tensor(obj.array)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unpack(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _unpack(v) for k, v in obj.items()}
    return obj


class WorkerError:
    """An exception raised in a worker, carried back as text and re-raised as the same type if it can be."""

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
    """Seed every generator a dataset or transform may draw from, so each worker repeats run after run."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    backend.manual_seed(seed)


def worker_loop(fetch, dataset, index_queue, result_queue, worker_id, num_workers, seed, worker_init_fn,
                parent_pid):
    """Body of one worker process: load the batches it is sent until it gets None or the parent dies."""
    global _worker_info
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    _seed_worker(seed)
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
