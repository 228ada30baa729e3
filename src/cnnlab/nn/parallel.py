"""Data-parallel training as PyTorch programs write it: ``DistributedDataParallel`` wraps a model on
every rank of an ``mpiexec -n N`` job, starts the replicas equal and averages their gradients,
overlapping the all-reduce with the backward pass.

How the overlap works: the parameters are grouped into buckets in reverse order (the order backward
reaches them: the last layers' gradients are ready first). Each parameter's post-accumulate hook
counts it ready; when a bucket is complete, its gradients are copied into one flat buffer and a
non-blocking all-reduce (``MPI_Iallreduce``) starts, while backward goes on with the earlier layers.
A callback at the end of backward starts what is left, waits for every bucket and writes the
averages back into ``.grad``. Buckets start strictly in bucket order on every rank (a complete
bucket waits for the ones before it), because MPI matches non-blocking collectives by order.

Example (``mpiexec -n 2 python train.py``):
    >>> import cnnlab.distributed as dist
    >>> from cnnlab.nn.parallel import DistributedDataParallel as DDP
    >>> dist.init_process_group("mpi")
    >>> model = DDP(net)                      # rank 0's weights on every rank
    >>> loss_fn(model(x), y).backward()       # gradients averaged over the ranks on return
    >>> opt.step()
"""

import contextlib
import time

import numpy as np

from .. import backend, collectives
from ..autograd import is_grad_enabled, queue_callback
from ..tensor import Tensor
from .module import Module

DEFAULT_BUCKET_CAP_MB = 25
# PyTorch's first bucket (the last layers, ready first) is small so that communication starts early.
FIRST_BUCKET_BYTES = 1 << 20


class _Bucket:
    """Consecutive parameters of one dtype reduced in one flat buffer: their gradients, then one
    "has a gradient" flag per parameter (one that no rank gave a gradient keeps ``grad=None``)."""

    def __init__(self, params):
        self.params = params
        self.numel = sum(p._data.size for p in params)
        self.flat = np.empty(self.numel + len(params), dtype=params[0]._data.dtype)
        self.ready = 0          # parameters whose gradient is final in this backward pass
        self.request = None     # the all-reduce in flight

    def start(self):
        flat, offset = self.flat, 0
        for k, p in enumerate(self.params):
            n = p._data.size
            if p.grad is None:
                flat[offset:offset + n] = 0
            else:
                flat[offset:offset + n] = backend.asnumpy(p.grad._data).reshape(-1)
            flat[self.numel + k] = p.grad is not None
            offset += n
        self.request = collectives.iall_reduce(flat)

    def finish(self, size):
        self.request.wait()
        self.request = None
        average = self.flat[:self.numel]
        average /= size
        offset = 0
        for p, has in zip(self.params, self.flat[self.numel:] > 0):
            n = p._data.size
            if has:
                value = average[offset:offset + n].reshape(p._data.shape)
                if p.grad is None:
                    p.grad = Tensor._wrap(value.copy())
                else:
                    p.grad._data[...] = value
            offset += n


def _make_buckets(params, cap_bytes, first_bytes):
    """``params`` in reverse order, in buckets of one dtype up to ``first_bytes`` (the first) and
    ``cap_bytes`` (the others); a parameter larger than the cap has a bucket of its own."""
    buckets, current, size = [], [], 0
    for p in reversed(params):
        nbytes = p._data.nbytes
        limit = first_bytes if not buckets else cap_bytes
        if current and (p._data.dtype != current[0]._data.dtype or size + nbytes > limit):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


class DistributedDataParallel(Module):
    """Keeps ``module``'s replicas on every rank equal: rank 0's parameters and buffers are copied
    to every rank at construction (buffers again before each training forward) and the gradients are
    averaged over the ranks during every backward pass (``torch.nn.parallel``'s name and arguments).

    Args:
        module: the model; ``ddp.module`` gives it back, and ``state_dict`` keys start with
            ``module.`` as PyTorch's.
        device_ids, output_device: None (the ranks compute on CPUs).
        broadcast_buffers: copy rank 0's buffers (batch-norm statistics) before each forward in
            training mode (default True).
        init_sync: copy rank 0's parameters and buffers at construction (default True).
        process_group: None (the world: cnnlab has one group).
        bucket_cap_mb: gradients travel in buckets of this many MB (default 25); the first bucket
            holds at most 1 MB so communication starts early.
        find_unused_parameters, check_reduction, gradient_as_bucket_view, static_graph, dim:
            accepted for PyTorch programs; a parameter no backward reached counts as zero on its
            rank anyway (``grad=None`` when no rank has a gradient).

    ``overlap`` (an attribute, True by default) set to False starts every all-reduce after the
    backward pass instead: the same result, for measuring what the overlap gains.

    Shape: as ``module``'s.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        fn = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise TypeError(f"{fn}: `module` must be a cnnlab.nn.Module. "
                            f"Received {type(module).__name__}")
        for name, value in (("device_ids", device_ids), ("output_device", output_device)):
            if value not in (None, [], "cpu"):
                raise ValueError(f"{fn}: `{name}` must be None: cnnlab's ranks compute on CPUs, "
                                 f"one process per rank (mpiexec -n N). Received: {name}={value!r}")
        if process_group not in (None, "WORLD"):
            raise ValueError(f"{fn}: cnnlab has one process group, the whole world; pass "
                             f"process_group=None. Received: process_group={process_group!r}")
        cap = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not 0 < cap < float("inf"):
            raise ValueError(f"{fn}: `bucket_cap_mb` must be a positive number. "
                             f"Received: bucket_cap_mb={bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters, self.static_graph = find_unused_parameters, static_graph
        self.require_backward_grad_sync = True
        self.overlap = True
        self._size = collectives.init()
        if init_sync:
            for t in list(module.parameters()) + list(module.buffers()):
                collectives.broadcast(t._data, 0)
        params = [p for p in module.parameters() if p.requires_grad]
        cap_bytes = int(cap * (1 << 20))
        self._buckets = _make_buckets(params, cap_bytes, min(FIRST_BUCKET_BYTES, cap_bytes))
        self._where = {id(p): b for b in self._buckets for p in b.params}
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]
        self._armed = False     # this backward pass averages the gradients
        self._queued = False    # the end-of-backward callback is queued
        self._next = 0          # the next bucket to start
        self.comm_wait_seconds = 0.0   # time spent at the end of backward waiting for the buckets
        self.buckets_started_early = 0  # buckets started while backward was still running

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self._size > 1 and self.module.training:
            for b in self.module.buffers():
                collectives.broadcast(b._data, 0)
        self._armed = self.require_backward_grad_sync and is_grad_enabled() and self.training
        self._queued, self._next = False, 0
        for b in self._buckets:
            b.ready = 0
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context the gradients are accumulated locally, not averaged; the first
        backward after it averages everything accumulated (gradient accumulation)."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ---------------------------------------------------------------- the reducer
    def _grad_ready(self, param):
        """A parameter's gradient for this pass is final: start every bucket that is complete."""
        if not self._armed:
            return
        if not self._queued:
            queue_callback(self._finish_backward)
            self._queued = True
        bucket = self._where[id(param)]
        bucket.ready += 1
        if not self.overlap:
            return
        while self._next < len(self._buckets):
            b = self._buckets[self._next]
            if b.ready < len(b.params):
                break
            b.start()
            self._next += 1
            self.buckets_started_early += 1
        for b in self._buckets[:self._next]:   # MPI moves a non-blocking collective on only
            if b.request is not None:          # inside MPI calls
                b.request.test()

    def _finish_backward(self):
        """After backward: start the buckets left (unused parameters count as zero), wait for
        all, write the averages into ``.grad``."""
        start = time.perf_counter()
        for b in self._buckets[self._next:]:
            b.start()
        self._next = len(self._buckets)
        for b in self._buckets:
            b.finish(self._size)
        self._armed = False
        self.comm_wait_seconds += time.perf_counter() - start

    def extra_repr(self):
        sizes = [b.flat.nbytes for b in self._buckets]
        return f"ranks={self._size}, buckets={len(sizes)}, bucket_bytes={sizes}"
