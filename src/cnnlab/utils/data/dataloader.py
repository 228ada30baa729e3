"""``DataLoader`` with PyTorch's signature: samplers, batch samplers, worker processes, collate_fn.

Batches come out in the sampler's order whatever ``num_workers`` is. Array-backed datasets without
per-sample transforms (``dataset.batchable``) are gathered with one fancy index per batch, as in
``cnnlab.data.DataLoader``; other datasets go sample by sample through ``collate_fn``.

Workers are processes, not threads: decoding and transforming images in Python holds the GIL,
so threads do not overlap that work (see ``docs/pytorch.md`` for the measured figures). Ops
called inside a worker run on the NumPy reference kernels: a process forked from one that used
Numba's OpenMP thread pool must not start it again.
"""

import itertools
import multiprocessing
import os
import queue
import sys
import time

import numpy as np

from ... import backend
from ...data.loader import default_collate
from ...tensor import Tensor
from ...validation import is_int
from . import _worker
from ._nested import map_nested
from .sampler import BatchSampler, RandomSampler, SequentialSampler


class IterableDataset:
    """A dataset read as a stream (``__iter__``), not by index; loaded with ``num_workers=0``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


def _as_tensor(leaf):
    return Tensor(leaf) if isinstance(leaf, np.ndarray) else leaf


def default_convert(sample):
    """One unbatched sample with its arrays turned into Tensors (``batch_size=None``)."""
    return map_nested(_as_tensor, sample)


class _Fetcher:
    """Turns a batch's indices into the batch (picklable, so spawned workers can use it too)."""

    def __init__(self, collate_fn, auto_collation):
        self.collate_fn = collate_fn
        self.auto_collation = auto_collation

    def __call__(self, dataset, indices):
        if not self.auto_collation:
            return (self.collate_fn or default_convert)(dataset[indices])
        if self.collate_fn is None and getattr(dataset, "batchable", False):
            return [Tensor(a) for a in dataset.get_batch(np.asarray(indices, dtype=np.int64))]
        return (self.collate_fn or default_collate)([dataset[i] for i in indices])


def _context(multiprocessing_context):
    if multiprocessing_context is None:
        # fork starts in milliseconds and shares the dataset without pickling it
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        return multiprocessing.get_context(method)
    if isinstance(multiprocessing_context, str):
        return multiprocessing.get_context(multiprocessing_context)
    return multiprocessing_context


def _check_worker_args(num_workers, timeout, prefetch_factor, persistent_workers, collate_fn, worker_init_fn):
    """The DataLoader's process arguments: worker count, timeout, prefetching and the callables."""
    if not is_int(num_workers) or num_workers < 0:
        raise ValueError(f"DataLoader: `num_workers` must be a non-negative int. Received: "
                         f"num_workers={num_workers!r}")
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"DataLoader: `timeout` must be a non-negative number. "
                         f"Received: timeout={timeout!r}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("DataLoader: `prefetch_factor` needs num_workers > 0 (it counts "
                         f"batches each worker loads ahead). Received: "
                         f"prefetch_factor={prefetch_factor!r}, num_workers=0")
    if prefetch_factor is not None and (not is_int(prefetch_factor) or prefetch_factor < 1):
        raise ValueError(f"DataLoader: `prefetch_factor` must be a positive int. Received: "
                         f"prefetch_factor={prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
    for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
        if fn is not None and not callable(fn):
            raise TypeError(f"DataLoader: `{name}` must be callable or None. "
                            f"Received {type(fn).__name__}")


def _check_batching_args(dataset, iterable, batch_size, shuffle, sampler, batch_sampler, num_workers, drop_last):
    """The DataLoader's ordering and batching arguments, which exclude one another in PyTorch's ways;
    returns ``batch_size`` (None when a ``batch_sampler`` gives whole batches)."""
    map_style = hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")
    if not iterable and not map_style:
        raise TypeError(f"DataLoader: `dataset` must define __len__ and __getitem__ (or be an "
                        f"IterableDataset). Received an object of type "
                        f"{type(dataset).__name__}")
    if iterable:
        if shuffle or sampler is not None or batch_sampler is not None:
            raise ValueError("DataLoader: an IterableDataset gives its own order; `shuffle`, "
                             "`sampler` and `batch_sampler` must be left unset")
        if num_workers:
            raise ValueError("DataLoader: an IterableDataset is loaded with num_workers=0 in "
                             f"cnnlab. Received: num_workers={num_workers}")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("DataLoader: `batch_sampler` gives whole batches; it excludes "
                             "`batch_size`, `shuffle`, `sampler` and `drop_last`")
        batch_size = None
    elif batch_size is None:
        if drop_last:
            raise ValueError("DataLoader: batch_size=None (no batching) excludes "
                             "drop_last=True")
    elif not is_int(batch_size) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"DataLoader: `batch_size` must be a positive int or None. Received: "
                         f"batch_size={batch_size!r}")
    return batch_size


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style dataset (``len`` and ``[i]``) or an ``IterableDataset``.
        batch_size: samples per batch; None yields the samples one by one, unbatched. Default: 1.
        shuffle: a fresh permutation every epoch (a ``RandomSampler``). Default: False.
        sampler: the order of the indices (a sized iterable); excludes ``shuffle``.
        batch_sampler: yields whole lists of indices; excludes ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``.
        num_workers: 0 loads in the calling process; N > 0 starts N worker processes.
        collate_fn: turns a list of samples into a batch (default: stack into Tensors).
        pin_memory: accepted; no effect on the CPU (page-locked memory only speeds GPU copies).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for one batch from the workers before raising (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: ``"fork"``, ``"spawn"``, ``"forkserver"`` or a context;
            default fork on Linux, else spawn (which needs a picklable dataset).
        generator: a NumPy ``Generator`` or ``cnnlab.data.Generator`` for the shuffling and the
            workers' seeds; None draws from ``cnnlab.backend.get_rng()`` (``cnnlab.manual_seed``).
        prefetch_factor: batches each worker loads ahead. Default: 2 with workers.
        persistent_workers: keep the workers alive between epochs.
        pin_memory_device, in_order: accepted for PyTorch's signature; batches always come in order.

    Example:
        >>> loader = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=2)
        >>> len(loader.sampler), len(loader)
        (60000, 938)
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        _check_worker_args(num_workers, timeout, prefetch_factor, persistent_workers, collate_fn,
                           worker_init_fn)
        iterable = isinstance(dataset, IterableDataset)
        batch_size = _check_batching_args(dataset, iterable, batch_size, shuffle, sampler, batch_sampler,
                                          num_workers, drop_last)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: `sampler` gives the order; it excludes shuffle=True")
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_sampler is None and batch_size is not None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        if prefetch_factor is None and num_workers:
            prefetch_factor = 2
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self._iterable = iterable
        self._pool = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self):
        if self._iterable:
            raise TypeError("DataLoader: an IterableDataset has no length")
        return len(self._index_sampler())

    def __iter__(self):
        fetch = _Fetcher(self.collate_fn, self._auto_collation)
        if self._iterable:
            return self._iterate_stream(fetch)
        # Drawn whatever num_workers is (as PyTorch does), so the order does not depend on it.
        rng = getattr(self.generator, "rng", self.generator)
        base_seed = int((rng if rng is not None else backend.get_rng()).integers(0, 2 ** 62))
        if self.num_workers == 0:
            return (fetch(self.dataset, indices) for indices in self._index_sampler())
        if self._pool is None or not self._pool.usable():
            self._pool = _WorkerPool(self, fetch, base_seed)
        return self._pool.epoch(iter(self._index_sampler()))

    def _iterate_stream(self, fetch):
        stream = iter(self.dataset)
        if not self._auto_collation:
            yield from ((self.collate_fn or default_convert)(s) for s in stream)
            return
        while True:
            chunk = list(itertools.islice(stream, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                return
            yield (self.collate_fn or default_collate)(chunk)

    def _shutdown_workers(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"sampler={type(self.sampler).__name__}, num_workers={self.num_workers})")


class _WorkerPool:
    """N worker processes, their task queues and one result queue; serves one epoch at a time."""

    def __init__(self, loader, fetch, base_seed):
        self.loader = loader
        self.n = loader.num_workers
        ctx = _context(loader.multiprocessing_context)
        # One resource tracker for all: started here, it is inherited by the workers, so the
        # shared-memory blocks they create and this process frees are accounted in one place.
        from multiprocessing import resource_tracker
        resource_tracker.ensure_running()
        self.result_queue = ctx.Queue()
        self.index_queues = []
        self.workers = []
        self.epoch_id = 0
        for worker_id in range(self.n):
            index_queue = ctx.Queue()
            args = (fetch, loader.dataset, index_queue, self.result_queue, worker_id, self.n,
                    base_seed + worker_id, loader.worker_init_fn, os.getpid())
            process = ctx.Process(target=_worker.worker_loop, args=args, daemon=True,
                                  name=f"cnnlab-DataLoader-{worker_id}")
            process.start()
            self.index_queues.append(index_queue)
            self.workers.append(process)
        self.closed = False

    def usable(self):
        return not self.closed and all(w.is_alive() for w in self.workers)

    def epoch(self, batches):
        """Yield this epoch's batches in order, ``prefetch_factor`` per worker in flight."""
        self.epoch_id += 1
        epoch_id = self.epoch_id
        pending = {}
        sent = 0
        received = 0
        exhausted = False
        ahead = self.loader.prefetch_factor * self.n
        try:
            while True:
                while not exhausted and sent - received < ahead:
                    indices = next(batches, None)
                    if indices is None:
                        exhausted = True
                        break
                    self.index_queues[sent % self.n].put((epoch_id, sent, indices))
                    sent += 1
                if received == sent and exhausted:
                    return
                while received not in pending:
                    got_epoch, number, result = self._get()
                    if got_epoch is None:  # worker_init_fn failed
                        result.reraise()
                    if got_epoch == epoch_id:
                        pending[number] = result
                    else:
                        _worker.release(result)
                result = pending.pop(received)
                received += 1
                if isinstance(result, _worker.WorkerError):
                    result.reraise()
                yield _worker._unpack(result)
        finally:
            for result in pending.values():
                _worker.release(result)
            if not self.loader.persistent_workers or received < sent:
                # an abandoned epoch leaves batches in flight: start afresh next time
                self.shutdown()

    def _get(self):
        """The next result, raising (never hanging) if a worker died or ``timeout`` passed."""
        start = time.monotonic()
        timeout = self.loader.timeout
        while True:
            try:
                return self.result_queue.get(timeout=_worker.POLL_S)
            except queue.Empty:
                pass
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                codes = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                self.shutdown()
                raise RuntimeError(f"DataLoader: worker process(es) exited unexpectedly ({codes}); "
                                   f"a negative exit code is the signal that killed it (-9: often "
                                   f"out of memory). Run with num_workers=0 to see the error here")
            if timeout and time.monotonic() - start > timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader: timed out after {timeout} seconds waiting for a "
                                   f"batch from the workers")

    def shutdown(self):
        if self.closed:
            return
        self.closed = True
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2.0
        for w in self.workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        while True:  # results nobody will read: free their shared-memory blocks
            try:
                _worker.release(self.result_queue.get(timeout=0.05)[2])
            except (queue.Empty, OSError, ValueError, EOFError):
                break
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()
            q.close()
        if self.loader._pool is self:
            self.loader._pool = None
