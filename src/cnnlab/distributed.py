"""Data-parallel training over MPI (mpi4py + MPICH): every rank holds the whole model and trains on
its shard of each global batch; gradients are averaged across ranks before every step, so N ranks
take the steps one process takes on the global batch.

Without an MPI launch (a plain ``python`` or ``cnnlab`` process) the world has one rank, ``mpi4py``
is never imported and every call here is a no-op. Under ``mpiexec -n N`` the launcher's
environment (``PMI_SIZE``, ``PMI_RANK``; Open MPI's ``OMPI_COMM_WORLD_SIZE``) says so, and
``init()`` joins the world.

Example:
    >>> from cnnlab import distributed as dist
    >>> dist.init()
    >>> dist.broadcast_parameters(model)                  # rank 0's weights on every rank
    >>> sampler = dist.DistributedSampler(train_set, seed=0)
    >>> loader = DataLoader(train_set, batch_size=64 // dist.world_size(), sampler=sampler)
    >>> for epoch in range(epochs):
    ...     sampler.set_epoch(epoch)
    ...     for x, y in loader:
    ...         opt.zero_grad(); loss_fn(model(x), y).backward()
    ...         dist.all_reduce_gradients(model); opt.step()
"""

import contextlib
import hashlib
import json
import math
import os
import sys
import time
import traceback

import numpy as np

from . import backend
from .autograd import Function
from .nn.normalization import BatchNorm1d, BatchNorm2d, _BatchNorm
from .tensor import Tensor
from .validation import int_arg

# What MPI launchers set to the world size: MPICH/Intel MPI (PMI), Open MPI, MVAPICH.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
INSTALL_HINT = "pip install cnnlab[mpi]"
BUCKET_BYTES = 32 << 20  # gradients travel in flat buffers of up to this size (a few per step)


class RankMismatchError(ValueError):
    """Ranks started with different settings (``check_consistent``); raised on every rank."""


class _World:
    comm = None        # mpi4py's COMM_WORLD when size > 1
    mpi = None         # the mpi4py.MPI module when size > 1
    rank = 0
    size = 1
    initialized = False


_world = _World()


def launched_size(environ=None):
    """The world size an MPI launcher put in the environment (1 without a launcher)."""
    environ = os.environ if environ is None else environ
    for name in _SIZE_VARS:
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def init():
    """Join the MPI world when started by ``mpiexec -n N`` with N > 1; returns the world size.

    A single process (no launcher, or ``-n 1``) stays world size 1 without importing mpi4py. Calling
    it again does nothing. Raises ImportError naming the pip command when a multi-process launch
    finds no mpi4py.
    """
    if _world.initialized:
        return _world.size
    size = launched_size()
    if size > 1:
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError(f"distributed.init: this process was started by an MPI launcher as "
                              f"one of {size} ranks but mpi4py is not installed: {INSTALL_HINT}",
                              name="mpi4py") from None
        _world.mpi, _world.comm = MPI, MPI.COMM_WORLD
        _world.rank, _world.size = _world.comm.Get_rank(), _world.comm.Get_size()
    _world.initialized = True
    return _world.size


def rank():
    """This process's rank, 0 .. world_size() - 1."""
    init()
    return _world.rank


_this_rank = rank   # for functions whose PyTorch signature has an argument named ``rank``


def world_size():
    """How many processes train together (1 without an MPI launch)."""
    return init()


def is_main():
    """Whether this is rank 0, the one that prints, writes checkpoints and reports."""
    return rank() == 0


def local_size(environ=None):
    """Ranks on this machine (MPICH's ``MPI_LOCALNRANKS``, Open MPI's ``..._LOCAL_SIZE``)."""
    environ = os.environ if environ is None else environ
    for name in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE"):
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return launched_size(environ)


def barrier():
    """Wait until every rank gets here."""
    if world_size() > 1:
        _world.comm.Barrier()


def abort(code=1):
    """Stop every rank now (``MPI_Abort``); with one process, exit with ``code``."""
    if world_size() > 1:
        _world.comm.Abort(code)
    raise SystemExit(code)


# ---------------------------------------------------------------------------- collectives on arrays
def _as_buffer(a):
    if backend.get_array_module(a) is not np:
        raise TypeError(f"distributed: arrays must be on the CPU (NumPy) for MPI. "
                        f"Received {type(a).__name__}")
    return a


def all_reduce(array, op="sum"):
    """Sum (``op="sum"``), max or min of ``array`` across ranks, in place; returns it."""
    if op not in ("sum", "max", "min"):
        raise ValueError(f"all_reduce: `op` must be 'sum', 'max' or 'min'. Received: op={op!r}")
    if world_size() == 1:
        return array
    mpi = _world.mpi
    ops = {"sum": mpi.SUM, "max": mpi.MAX, "min": mpi.MIN}
    buf = np.ascontiguousarray(_as_buffer(array))
    _world.comm.Allreduce(mpi.IN_PLACE, buf, op=ops[op])
    if buf is not array:
        array[...] = buf
    return array


def _gather_counts(n):
    """Every rank's integer ``n``, an int64 array in rank order (a plain buffer, not pickled)."""
    counts = np.empty(world_size(), dtype=np.int64)
    _world.comm.Allgather(np.array([n], dtype=np.int64), counts)
    return counts


def all_gather(array):
    """Every rank's ``array`` concatenated along axis 0 in rank order (their lengths may differ).

    A rank with no rows (an empty evaluation shard) may hold any trailing shape and dtype; the
    others must agree on theirs.
    """
    array = np.ascontiguousarray(_as_buffer(array))
    if world_size() == 1:
        return array
    if array.ndim == 0:
        array = array.reshape(1)
    shapes = all_gather_json([list(array.shape), array.dtype.str])
    filled = [(tuple(shape[1:]), dtype) for shape, dtype in shapes if shape[0] > 0]
    if len(set(filled)) > 1:
        raise ValueError(f"all_gather: ranks hold arrays of different trailing shapes or dtypes: "
                         f"{[(list(shape), dtype) for shape, dtype in shapes]}")
    trailing, dtype = filled[0] if filled else (array.shape[1:], array.dtype.str)
    if array.shape[0] == 0:
        array = np.zeros((0,) + trailing, dtype=dtype)
    rows = [shape[0] for shape, _ in shapes]
    out = np.empty((sum(rows),) + trailing, dtype=dtype)
    counts = np.array(rows, dtype=np.int64) * int(np.prod(trailing, dtype=np.int64))
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    _world.comm.Allgatherv(array.reshape(-1), [out.reshape(-1), (counts.tolist(), displs.tolist())])
    return out


def all_gather_json(value):
    """Every rank's JSON-able ``value`` as a list in rank order (sent as UTF-8, never pickled)."""
    if world_size() == 1:
        return [value]
    data = np.frombuffer(json.dumps(value, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    counts = _gather_counts(data.size)
    out = np.empty(int(counts.sum()), dtype=np.uint8)
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    _world.comm.Allgatherv(data, [out, (counts.tolist(), displs.tolist())])
    return [json.loads(out[o:o + c].tobytes().decode("utf-8")) for o, c in zip(displs, counts)]


# ---------------------------------------------------------------------------- model state
def broadcast_parameters(model, root=0):
    """Copy rank ``root``'s parameters and buffers (running statistics too) into every rank."""
    if world_size() == 1:
        return model
    for t in list(model.parameters()) + list(model.buffers()):
        buf = np.ascontiguousarray(_as_buffer(t._data))
        _world.comm.Bcast(buf, root=root)
        if buf is not t._data:
            t._data[...] = buf
    return model


def _buckets(params, bucket_bytes):
    """Consecutive parameters of one dtype in buckets of at most ``bucket_bytes`` (or one each)."""
    buckets, current, size, dtype = [], [], 0, None
    for p in params:
        nbytes = p._data.size * p._data.dtype.itemsize
        if current and (p._data.dtype != dtype or size + nbytes > bucket_bytes):
            buckets.append(current)
            current, size = [], 0
        current.append(p)
        size += nbytes
        dtype = p._data.dtype
    if current:
        buckets.append(current)
    return buckets


def all_reduce_gradients(model, bucket_bytes=BUCKET_BYTES, extra=None):
    """Replace every parameter's ``.grad`` by its average over the ranks, in a few flat buffers.

    Each bucket holds consecutive gradients of one dtype copied into one contiguous array: one
    all-reduce per bucket, not one per tensor. A parameter without a gradient on a rank counts as
    zero there; it keeps ``grad=None`` only when no rank has one. ``extra`` (numbers such as a
    batch's loss sum and size) is summed across ranks in the same message. Returns ``extra`` summed
    (float64), or None without ``extra``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    extra = None if extra is None else np.asarray(extra, dtype=np.float64).reshape(-1)
    if world_size() == 1:
        return extra
    if not params:
        return None if extra is None else all_reduce(extra.copy())
    size = world_size()
    buckets = _buckets(params, bucket_bytes)
    averaged = []   # one view per parameter into its bucket, in the order of ``params``
    for k, bucket in enumerate(buckets):
        dtype = bucket[0]._data.dtype
        last = k == len(buckets) - 1
        # The last bucket also carries a "has a gradient" flag per parameter, then ``extra``.
        tail = (len(params) + (0 if extra is None else extra.size)) if last else 0
        flat = np.empty(sum(p._data.size for p in bucket) + tail, dtype=dtype)
        offset = 0
        for p in bucket:
            n = p._data.size
            if p.grad is None:
                flat[offset:offset + n] = 0
            else:
                flat[offset:offset + n] = backend.asnumpy(p.grad._data).reshape(-1)
            offset += n
        if last:
            flat[offset:offset + len(params)] = [p.grad is not None for p in params]
            if extra is not None:
                flat[offset + len(params):] = extra
        _world.comm.Allreduce(_world.mpi.IN_PLACE, flat, op=_world.mpi.SUM)
        if last:
            has_grad = flat[offset:offset + len(params)] > 0
            if extra is not None:
                extra = flat[offset + len(params):].astype(np.float64)
        flat[:flat.size - tail] /= size
        offset = 0
        for p in bucket:
            averaged.append(flat[offset:offset + p._data.size].reshape(p._data.shape))
            offset += p._data.size
    for p, avg, has in zip(params, averaged, has_grad):
        if not has:
            p.grad = None
        elif p.grad is None:
            p.grad = Tensor(avg.copy())
        else:
            p.grad._data[...] = avg
    return extra


def parameters_digest(model):
    """SHA-256 of the model's parameters and buffers, bit for bit (equal digests: equal weights)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        a = np.ascontiguousarray(backend.asnumpy(getattr(t, "data", t)))
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------- start-up check
def model_fingerprint(model):
    """A short hash of a model's class and its state's names, shapes and dtypes (not values)."""
    state = model.state_dict().items()
    parts = [type(model).__name__] + [f"{k}:{tuple(v.shape)}:{v.dtype}" for k, v in state]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def check_consistent(facts):
    """Compare ``facts`` (JSON-able settings: model, seed, dataset length, ...) across the ranks.

    Raises RankMismatchError on every rank when a rank's facts differ from rank 0's, naming the
    rank, the setting and both values.
    """
    every = all_gather_json(dict(facts))
    base = every[0]
    problems = []
    for r, theirs in enumerate(every[1:], start=1):
        for key in sorted(set(base) | set(theirs)):
            if base.get(key) != theirs.get(key):
                problems.append(f"rank {r} has {key}={theirs.get(key)!r} where rank 0 has "
                                f"{key}={base.get(key)!r}")
    if problems:
        raise RankMismatchError("distributed: the ranks were started differently: "
                                + "; ".join(problems)
                                + ". Start every rank with the same command, code and data")
    return base


@contextlib.contextmanager
def abort_on_error(prefix="cnnlab"):
    """Under MPI, turn an exception on one rank into a stop of every rank within seconds.

    The failing rank prints one line naming itself and the error (and the traceback for errors that
    are not the user's) and calls ``MPI_Abort``: the other ranks would otherwise wait forever in
    the next all-reduce. A ``RankMismatchError`` is raised on every rank at once, so rank 0 alone
    reports it and the others exit with status 2. With one process the exception propagates.
    """
    try:
        yield
    except RankMismatchError:
        if world_size() > 1 and not is_main():
            raise SystemExit(2) from None
        raise
    except BaseException as e:
        if world_size() == 1 or (isinstance(e, SystemExit) and not e.code):
            raise
        user = isinstance(e, (ValueError, TypeError, FileNotFoundError))
        if not user and not isinstance(e, (KeyboardInterrupt, SystemExit)):
            traceback.print_exc(file=sys.stderr)
        print(f"{prefix}: error on rank {rank()} of {world_size()}: {type(e).__name__}: {e}; "
              f"stopping all ranks", file=sys.stderr, flush=True)
        sys.stdout.flush()
        _world.comm.Abort(2 if user else 1)


# ---------------------------------------------------------------------------- sharding data
class DistributedSampler:
    """The indices of this rank's shard of one global shuffle per epoch (as PyTorch's sampler).

    The global order of epoch ``e`` is the ``e``-th permutation drawn by
    ``numpy.random.default_rng(seed)``: the order ``DataLoader(dataset, shuffle=True, seed=seed)``
    gives in its epoch ``e``. Rank ``r`` takes positions ``r, r + R, r + 2R, ...`` of it, so batch
    ``k`` of all ranks together (per-rank batch ``B / R``) is batch ``k`` of one process with batch
    ``B``. When ``len(dataset)`` is not a multiple of ``R`` the order is padded with its own first
    indices up to the next multiple (those samples are seen twice per epoch, as with PyTorch's
    sampler); ``drop_last=True`` drops the tail instead.

    Args:
        dataset: a sized dataset.
        num_replicas: ranks sharing the data (default: ``world_size()``).
        rank: this rank (default: ``rank()``).
        shuffle: shuffle every epoch (else the dataset's order).
        seed: seed of the global shuffle; must be the same on every rank.
        drop_last: drop the tail that does not divide evenly instead of padding.

    Call ``set_epoch(epoch)`` before each epoch so every epoch has a fresh shuffle.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        fn = "DistributedSampler"
        if num_replicas is None:
            num_replicas = world_size()
        num_replicas = int_arg(fn, "num_replicas", num_replicas, minimum=1)
        rank = _this_rank() if rank is None else int_arg(fn, "rank", rank, 0, num_replicas - 1)
        self.seed = int_arg(fn, "seed", seed, minimum=0)
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % num_replicas:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.epoch = 0
        self._rng, self._rng_epoch, self._order = None, -1, None  # state after epoch _rng_epoch

    def set_epoch(self, epoch):
        """Use epoch ``epoch``'s global shuffle in the next iteration."""
        self.epoch = int_arg("DistributedSampler.set_epoch", "epoch", epoch, minimum=0)

    def _global_order(self):
        """Epoch ``self.epoch``'s permutation of the whole dataset (replayed from the seed when an
        earlier epoch is asked for, e.g. on resume)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self._rng is None or self._rng_epoch > self.epoch:
            self._rng, self._rng_epoch, self._order = np.random.default_rng(self.seed), -1, None
        while self._rng_epoch < self.epoch:  # one permutation per epoch, as DataLoader draws them
            self._order = self._rng.permutation(n)
            self._rng_epoch += 1
        return self._order

    def indices(self):
        """This rank's indices for the current epoch, an int64 array of ``len(self)``."""
        order = self._global_order()
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > len(order):
            pad = self.total_size - len(order)
            order = np.concatenate([order, np.resize(order, pad)])  # np.resize repeats when pad > n
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")


def shard_indices(length, num_replicas=None, rank=None):
    """This rank's contiguous slice of ``range(length)`` for evaluation: unpadded, each index once.

    Rank ``r`` gets ``[length * r // R, length * (r + 1) // R)``, so the shards in rank order are
    the dataset in order (``all_gather`` of per-sample results restores it).
    """
    num_replicas = world_size() if num_replicas is None else num_replicas
    r = _this_rank() if rank is None else rank
    return np.arange(length * r // num_replicas, length * (r + 1) // num_replicas, dtype=np.int64)


# ---------------------------------------------------------------------------- SyncBatchNorm
class _SyncBatchNormFn(Function):
    """Batch normalisation with the global batch's statistics: the sums behind them are all-reduced.

    Forward all-reduces per-channel sum(x), sum(x^2) and the count (float64, so var = E[x^2] -
    E[x]^2 loses nothing to cancellation at float32 inputs). With g = dL/dy, xhat = (x - mean) / std
    and N the global count, backward needs sum(g) and sum(g xhat) over the global batch:
    dx = weight / std (g - sum(g) / N - xhat sum(g xhat) / N); those two sums are all-reduced too.
    The weight and bias gradients stay this rank's sums: ``all_reduce_gradients`` averages them like
    every other parameter's.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean=None, running_var=None, momentum=0.1, eps=1e-5):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        x64 = x.astype(np.float64)
        stats = np.concatenate([x64.sum(axis=axes), (x64 * x64).sum(axis=axes),
                                [x.size // x.shape[1]]])   # (2C + 1,)
        all_reduce(stats)
        c = x.shape[1]
        count = stats[-1]
        mean = stats[:c] / count
        var = np.maximum(stats[c:2 * c] / count - mean * mean, 0.0)   # biased: normalises the batch
        inv_std = 1.0 / np.sqrt(var + eps)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mean).astype(running_mean.dtype)
        if running_var is not None:
            unbiased = var * (count / max(count - 1, 1))   # PyTorch tracks the unbiased variance
            running_var *= 1 - momentum
            running_var += (momentum * unbiased).astype(running_var.dtype)
        xhat = ((x64 - mean.reshape(shape)) * inv_std.reshape(shape)).astype(x.dtype)
        out = xhat if weight is None else xhat * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
        ctx.save_for_backward(xhat, inv_std.astype(x.dtype), weight)
        ctx.count, ctx.axes, ctx.shape = count, axes, shape
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        xhat, inv_std, weight = ctx.saved_tensors
        axes, shape = ctx.axes, ctx.shape
        sum_g = g.sum(axis=axes, dtype=np.float64)                 # (C,) this rank's = d bias
        sum_gx = (g * xhat).sum(axis=axes, dtype=np.float64)       # (C,) this rank's = d weight
        gx = None
        if ctx.needs_input_grad[0]:
            both = all_reduce(np.concatenate([sum_g, sum_gx]))     # the global batch's sums
            c = sum_g.size
            mean_g = (both[:c] / ctx.count).astype(g.dtype).reshape(shape)
            mean_gx = (both[c:] / ctx.count).astype(g.dtype).reshape(shape)
            scale = inv_std if weight is None else inv_std * weight
            gx = scale.reshape(shape) * (g - mean_g - xhat * mean_gx)
        gw = sum_gx.astype(g.dtype) if ctx.needs_input_grad[1] else None
        gb = sum_g.astype(g.dtype) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose training statistics are those of the global batch across all ranks.

    With one rank it is exactly ``BatchNorm``; in evaluation it uses the running statistics, the
    same on every rank because every rank updates them with the same global statistics.

    Args: as ``BatchNorm2d`` (``num_features``, ``eps``, ``momentum``, ``affine``,
    ``track_running_stats``).

    Shape: ``(N, C, *)``, unchanged.
    """

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"SyncBatchNorm: `input` must have at least 2 dimensions (N, C, *). "
                             f"Received shape {tuple(input.shape)}")

    def forward(self, input):
        if not self.training or world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        track = self.track_running_stats and self.running_mean is not None
        if track:
            self.num_batches_tracked._data[...] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        return _SyncBatchNormFn.apply(input, self.weight, self.bias,
                                      running_mean=self.running_mean._data if track else None,
                                      running_var=self.running_var._data if track else None,
                                      momentum=factor, eps=self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module):
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm of the same state."""
        return convert_sync_batchnorm(module)


def convert_sync_batchnorm(module):
    """Replace every ``BatchNorm1d``/``BatchNorm2d`` in ``module`` by a ``SyncBatchNorm`` with the
    same settings, parameters and running statistics; returns the module (a new one if ``module``
    itself was a batch norm)."""
    if isinstance(module, (BatchNorm1d, BatchNorm2d)) and not isinstance(module, SyncBatchNorm):
        sync = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                             module.track_running_stats, bias=module.bias is not None)
        for name in ("weight", "bias"):
            if getattr(module, name, None) is not None:
                setattr(sync, name, getattr(module, name))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            if getattr(module, name, None) is not None:
                setattr(sync, name, getattr(module, name))
        sync.train(module.training)
        return sync
    for name, child in list(module.named_children()):
        new = convert_sync_batchnorm(child)
        if new is not child:
            setattr(module, name, new)
    return module


# ---------------------------------------------------------------------------- the trainer's view
class Synchronizer:
    """Keeps a ``Trainer``'s ranks in step (``Trainer(..., parallel=Synchronizer(model))``) and
    times the communication. Not a module wrapper like PyTorch's ``DistributedDataParallel``: the
    Trainer calls it after every backward.

    Made once per run: broadcasts rank 0's weights, then after every backward averages the gradients
    (and sums the batch's loss, correct count and size, so every rank logs the global batch's
    numbers), and gathers evaluation results. ``epoch_report`` gives the all-reduce's share of the
    step time.
    """

    def __init__(self, model, bucket_bytes=BUCKET_BYTES):
        init()
        self.model, self.bucket_bytes = model, bucket_bytes
        self.rank, self.size = rank(), world_size()
        self.is_main = self.rank == 0
        self.comm_seconds, self.steps = 0.0, 0
        self.bytes_per_step = sum(p._data.nbytes for p in model.parameters() if p.requires_grad)
        broadcast_parameters(model)

    def after_backward(self, loss_sum, correct, count):
        """Average the gradients; return the global batch's (loss sum, correct, count)."""
        start = time.perf_counter()
        total = all_reduce_gradients(self.model, self.bucket_bytes, [loss_sum, correct, count])
        self.comm_seconds += time.perf_counter() - start
        self.steps += 1
        return float(total[0]), int(round(total[1])), int(round(total[2]))

    def sum(self, *values):
        return tuple(all_reduce(np.asarray(values, dtype=np.float64)).tolist())

    def gather(self, array):
        return all_gather(array)

    def epoch_report(self, train_seconds):
        """One line: the all-reduce's share of the epoch's training time; resets the counters."""
        share = self.comm_seconds / train_seconds if train_seconds > 0 else 0.0
        per_step = self.comm_seconds / max(self.steps, 1)
        ranks = f"{self.size} rank" + ("s" if self.size != 1 else "")
        line = (f"{ranks}, all-reduce {share * 100:.1f}% of step time "
                f"({per_step * 1e3:.1f} ms/step, {self.bytes_per_step / 1e6:.2f} MB of gradients)")
        self.comm_seconds, self.steps = 0.0, 0
        return line
