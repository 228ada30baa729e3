"""Data-parallel training over MPI (mpi4py + MPICH): every rank holds the whole model and trains on
its shard of each global batch; gradients are averaged across ranks before every step, so N ranks
take the steps one process takes on the global batch.

Without an MPI launch (a plain ``python`` or ``cnnlab`` process) the world has one rank, ``mpi4py``
is never imported and every call here is a no-op. Under ``mpiexec -n N`` the launcher's
environment (``PMI_SIZE``, ``PMI_RANK``; Open MPI's ``OMPI_COMM_WORLD_SIZE``) says so, and
``init()`` joins the world (``cnnlab.collectives`` holds the world and the array collectives).

PyTorch's names work too (``init_process_group("mpi")``, ``get_rank``, ``get_world_size``,
``all_reduce``, ``broadcast``, ``barrier``, ``ReduceOp``), with
``cnnlab.nn.parallel.DistributedDataParallel`` for the model.

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
import enum
import hashlib
import importlib.util
import json
import math
import signal
import sys
import time
import traceback

import numpy as np

from . import backend, collectives
from .autograd import Function
from .collectives import (INSTALL_HINT, _world, abort, all_gather_json,  # noqa: F401
                          buckets, init, launched_size, local_size, rank, world_size)
from .nn.normalization import BatchNorm1d, BatchNorm2d, _BatchNorm
from .tensor import Tensor
from .validation import int_arg

BUCKET_BYTES = 32 << 20  # gradients travel in flat buffers of up to this size (a few per step)
_buckets = buckets


class RankMismatchError(ValueError):
    """Ranks started with different settings (``check_consistent``); raised on every rank."""


_this_rank = rank   # for functions whose PyTorch signature has an argument named ``rank``


def is_main():
    """Whether this is rank 0, the one that prints, writes checkpoints and reports."""
    return rank() == 0


# ---------------------------------------------------------------------------- PyTorch's API
# ``torch.distributed``'s names over the same MPI world, so a data-parallel PyTorch program runs
# with its imports renamed. The world is the launcher's (``mpiexec -n N``): ``init_process_group``
# records that the program asked for it, and the collectives also work without it (cnnlab's own
# calls above never needed it).
_BACKENDS = ("mpi", "gloo", "cpu:gloo")   # gloo: PyTorch's CPU backend; cnnlab runs it on MPI


class _ProcessGroup:
    _initialized = False
    backend = None


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' tensors (``torch.distributed.ReduceOp``)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class group:
    """``torch.distributed.group``: cnnlab has one process group, the whole world."""

    WORLD = "WORLD"


def _check_group(fn, value):
    if value is not None and value != group.WORLD:
        raise ValueError(f"{fn}: cnnlab has one process group, the whole world; pass group=None "
                         f"(new_group is not supported). Received: group={value!r}")


def is_available():
    """Whether several processes can train together: mpi4py is installed (one always can)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available():
    """Whether the ``"mpi"`` backend can join several ranks (mpi4py is installed)."""
    return is_available()


def is_gloo_available():
    """False: ``"gloo"`` is accepted by ``init_process_group`` as a name for cnnlab's MPI engine."""
    return False


def is_nccl_available():
    """False: cnnlab has no GPU collectives."""
    return False


def is_initialized():
    """Whether ``init_process_group`` was called (and not undone by ``destroy_process_group``)."""
    return _ProcessGroup._initialized


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the processes ``mpiexec -n N`` started (``torch.distributed.init_process_group``).

    ``backend`` is ``"mpi"`` (or None). ``"gloo"``, PyTorch's CPU backend, is accepted as a name
    for the same thing, so a CPU program runs unchanged; ``"nccl"`` (GPU) is refused. The world
    comes from the MPI launcher, so ``init_method`` and ``store`` (rendezvous for ``torchrun``) are
    not used; ``world_size`` and ``rank``, when given, must match what the launcher started.

    Example:
        >>> dist.init_process_group("mpi")      # mpiexec -n 2 python train.py
        >>> dist.get_rank(), dist.get_world_size()
        (0, 2)
    """
    fn = "init_process_group"
    if _ProcessGroup._initialized:
        raise RuntimeError(f"{fn}: the default process group is already initialized; call "
                           f"destroy_process_group() first to initialize it again")
    name = "mpi" if backend is None else backend
    if not isinstance(name, str) or name.lower() not in _BACKENDS:
        raise ValueError(f"{fn}: cnnlab's processes communicate through MPI: use backend='mpi' "
                         f"(programs written for 'gloo' run as they are; 'nccl' needs GPUs cnnlab "
                         f"does not drive). Received: backend={backend!r}")
    size = init()
    for arg, value, actual in (("world_size", world_size, size), ("rank", rank, _world.rank)):
        if value is None or value == -1:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value != actual:
            raise ValueError(f"{fn}: {arg}={value!r} but this process was started as rank "
                             f"{_world.rank} of {size}; cnnlab's ranks meet through MPI: start "
                             f"them with mpiexec -n N python program.py")
    _ProcessGroup._initialized, _ProcessGroup.backend = True, name.lower()


def destroy_process_group(group=None):
    """Leave the default process group (MPI itself stays up until the process exits)."""
    _check_group("destroy_process_group", group)
    _ProcessGroup._initialized, _ProcessGroup.backend = False, None


def get_backend(group=None):
    """The backend name given to ``init_process_group`` (``"mpi"`` or ``"gloo"``)."""
    _check_group("get_backend", group)
    if not _ProcessGroup._initialized:
        raise ValueError("get_backend: the default process group has not been initialized; "
                         "call init_process_group('mpi') first")
    return _ProcessGroup.backend


def get_rank(group=None):
    """This process's rank (``torch.distributed.get_rank``)."""
    _check_group("get_rank", group)
    return rank()


def get_world_size(group=None):
    """The number of ranks (``torch.distributed.get_world_size``)."""
    _check_group("get_world_size", group)
    return world_size()


class Work:
    """A collective started with ``async_op=True``: ``wait()`` finishes it (``torch``'s Work)."""

    def __init__(self, request=None, then=None):
        self._request, self._then = request, then

    def is_completed(self):
        if self._request is not None and self._request.test():
            self.wait()
        return self._request is None

    def wait(self, timeout=None):
        if self._request is not None:
            self._request.wait()
            self._request = None
            if self._then is not None:
                self._then()
        return True


def _reduce_op(fn, op):
    """``op`` (a ReduceOp or its lower-case name) as a ReduceOp; one line naming ``fn`` if not."""
    if isinstance(op, ReduceOp):
        return op
    try:
        return ReduceOp(op)
    except ValueError:
        names = ", ".join(f"ReduceOp.{o.name}" for o in ReduceOp)
        raise ValueError(f"{fn}: `op` must be one of {names} (or its lower-case name). "
                         f"Received: op={op!r}") from None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across the ranks in place (``torch.distributed.all_reduce``).

    ``tensor`` is a cnnlab Tensor (its data is replaced in place; returns None, or a ``Work`` with
    ``async_op=True``) or a NumPy array (returned, as cnnlab's own callers use it). ``op`` is a
    ``ReduceOp``: ``AVG`` divides the sum by the world size.
    """
    fn = "all_reduce"
    op = _reduce_op(fn, op)
    _check_group(fn, group)
    array = tensor._data if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{fn}: `tensor` must be a cnnlab Tensor or a NumPy array on the CPU. "
                        f"Received {type(tensor).__name__}")
    if op is ReduceOp.AVG and array.dtype.kind not in "fc":
        raise TypeError(f"{fn}: ReduceOp.AVG needs a floating-point tensor. "
                        f"Received dtype {array.dtype}")
    mpi_op = "sum" if op is ReduceOp.AVG else op.value

    def average():
        if op is ReduceOp.AVG:
            array[...] /= world_size()

    if async_op:
        return Work(collectives.iall_reduce(array, mpi_op), then=average)
    collectives.all_reduce(array, mpi_op)
    average()
    return array if tensor is array else None


def broadcast(tensor, src=0, group=None, async_op=False):
    """Rank ``src``'s ``tensor`` into every rank's, in place (``torch.distributed.broadcast``)."""
    fn = "broadcast"
    _check_group(fn, group)
    size = world_size()
    if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < size:
        raise ValueError(f"{fn}: `src` must be a rank in [0, {size - 1}]. Received: src={src!r}")
    array = tensor._data if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{fn}: `tensor` must be a cnnlab Tensor or a NumPy array on the CPU. "
                        f"Received {type(tensor).__name__}")
    collectives.broadcast(array, src)
    if async_op:
        return Work()
    return array if tensor is array else None


def _array_of(fn, tensor):
    array = tensor._data if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{fn}: `tensor` must be a cnnlab Tensor or a NumPy array on the CPU. "
                        f"Received {type(tensor).__name__}")
    return array


def all_gather(tensor_list, tensor=None, group=None, async_op=False):
    """Every rank's tensor, in two forms.

    PyTorch's, ``all_gather(tensor_list, tensor)``: ``tensor_list`` holds one tensor per rank, of
    ``tensor``'s shape, and receives rank i's ``tensor`` in ``tensor_list[i]`` (returns None).
    cnnlab's, ``all_gather(array)``: every rank's array concatenated along axis 0 in rank order
    (their lengths may differ; used to gather evaluation results).
    """
    if tensor is None:
        return collectives.all_gather(tensor_list)
    fn = "all_gather"
    _check_group(fn, group)
    array = _array_of(fn, tensor)
    size = world_size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != size:
        got = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list)
        raise ValueError(f"{fn}: `tensor_list` must be a list of {size} tensors, one per rank. "
                         f"Received {got!r}")
    targets = [_array_of(fn, t) for t in tensor_list]
    if any(t.shape != array.shape for t in targets):
        raise ValueError(f"{fn}: every tensor in `tensor_list` must have `tensor`'s shape "
                         f"{array.shape}. Received shapes {[t.shape for t in targets]}")
    gathered = collectives.all_gather(np.ascontiguousarray(array).reshape((1,) + array.shape))
    for target, part in zip(targets, gathered):
        target[...] = part
    return Work() if async_op else None


def all_gather_object(object_list, obj, group=None):
    """Every rank's ``obj`` into ``object_list[i]`` (PyTorch's name). Objects travel as JSON, never
    pickled: numbers, strings, None, lists, dicts with string keys (tuples come back as lists)."""
    fn = "all_gather_object"
    _check_group(fn, group)
    if not isinstance(object_list, list) or len(object_list) != world_size():
        raise ValueError(f"{fn}: `object_list` must be a list of {world_size()} items, one per "
                         f"rank. Received {object_list!r}")
    object_list[:] = all_gather_json(_json_only(fn, obj))


def broadcast_object_list(object_list, src=0, group=None):
    """Rank ``src``'s ``object_list`` items into every rank's, in place (PyTorch's name); JSON-able
    objects only, as ``all_gather_object``."""
    fn = "broadcast_object_list"
    _check_group(fn, group)
    if not isinstance(object_list, list):
        raise TypeError(f"{fn}: `object_list` must be a list. Received "
                        f"{type(object_list).__name__}")
    size = world_size()
    if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < size:
        raise ValueError(f"{fn}: `src` must be a rank in [0, {size - 1}]. Received: src={src!r}")
    mine = _json_only(fn, object_list) if rank() == src else None
    object_list[:] = all_gather_json(mine)[src]


def _json_only(fn, value):
    try:
        json.dumps(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fn}: cnnlab sends objects between ranks as JSON, never pickled; "
                        f"{e}") from None
    return value


# torch.distributed names cnnlab leaves out, each answered in one line.
_NOT_HERE = {name: "point-to-point messages are not supported; data-parallel training needs only "
                   "the collectives" for name in ("send", "recv", "isend", "irecv")}
_NOT_HERE.update({name: "cnnlab has one process group, the whole world (group=None everywhere)"
                  for name in ("new_group", "new_subgroups", "get_process_group_ranks")})
_NOT_HERE.update({name: "use all_reduce (every rank gets the result) or all_gather"
                  for name in ("reduce", "gather", "scatter", "reduce_scatter", "all_to_all",
                               "reduce_scatter_tensor", "all_gather_into_tensor",
                               "gather_object", "scatter_object_list")})


def __getattr__(name):
    if name in _NOT_HERE:
        raise AttributeError(f"cnnlab.distributed has no `{name}` ({_NOT_HERE[name]})")
    raise AttributeError(f"module 'cnnlab.distributed' has no attribute {name!r}")


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank gets here (``torch.distributed.barrier``)."""
    _check_group("barrier", group)
    collectives.barrier()
    return Work() if async_op else None


# ---------------------------------------------------------------------------- model state
def broadcast_parameters(model, root=0):
    """Copy rank ``root``'s parameters and buffers (running statistics too) into every rank."""
    if world_size() == 1:
        return model
    for t in list(model.parameters()) + list(model.buffers()):
        collectives.broadcast(t._data, root)
    return model


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
        return None if extra is None else collectives.all_reduce(extra.copy())
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
    the next all-reduce. An interrupt that escapes training's step boundaries (during start-up or
    the final test) stops every rank with status 130. A ``RankMismatchError`` is raised on every
    rank at once, so rank 0 alone reports it and the others exit with status 2. With one process
    the exception propagates.
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
        if isinstance(e, KeyboardInterrupt):  # an interrupt outside training's step boundaries
            detail = f" ({e})" if str(e) else ""
            print(f"{prefix}: interrupted on rank {rank()} of {world_size()}{detail}; stopping "
                  f"all ranks", file=sys.stderr, flush=True)
            sys.stdout.flush()
            _world.comm.Abort(130)
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
        collectives.all_reduce(stats)
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
            both = collectives.all_reduce(np.concatenate([sum_g, sum_gx]))  # global batch's sums
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

    A stop request (SIGINT, SIGTERM) on any rank travels in the same all-reduce, one number per
    rank, so every rank learns of it after the same step and stops there: ``stop_reason`` is then
    set on every rank (``"SIGTERM on rank 1"``). A request that arrives after the last step is
    agreed on by ``agree_stop``, one more small all-reduce when training ends.
    """

    def __init__(self, model, bucket_bytes=BUCKET_BYTES):
        init()
        self.model, self.bucket_bytes = model, bucket_bytes
        self.rank, self.size = rank(), world_size()
        self.is_main = self.rank == 0
        self.comm_seconds, self.steps = 0.0, 0
        self.bytes_per_step = sum(p._data.nbytes for p in model.parameters() if p.requires_grad)
        self.stop_reason = None
        broadcast_parameters(model)

    def after_backward(self, loss_sum, correct, count, stop=None):
        """Average the gradients; return the global batch's (loss sum, correct, count).

        ``stop``: this rank's pending stop request (a signal name such as ``"SIGTERM"``, or None);
        if any rank has one, ``stop_reason`` is set on every rank.
        """
        start = time.perf_counter()
        extra = [loss_sum, correct, count] + self._stop_slots(stop)
        total = all_reduce_gradients(self.model, self.bucket_bytes, extra)
        self.comm_seconds += time.perf_counter() - start
        self.steps += 1
        self._read_stop_slots(total[3:])
        return float(total[0]), int(round(total[1])), int(round(total[2]))

    def agree_stop(self, stop=None):
        """Share this rank's pending ``stop`` request with every rank (one all-reduce); returns
        the agreed ``stop_reason`` (None if no rank asked). All ranks call it at the same point."""
        if self.stop_reason is None:
            slots = np.asarray(self._stop_slots(stop), dtype=np.float64)
            self._read_stop_slots(collectives.all_reduce(slots))
        return self.stop_reason

    def _stop_slots(self, stop):
        """One number per rank, this rank's filled in: the signal number of its request, 255 for
        a request that is not a signal; 0 for none. Summed, every rank sees every rank's request."""
        slots = [0.0] * self.size
        if stop is not None:
            number = getattr(signal.Signals, stop, None) if isinstance(stop, str) else None
            slots[self.rank] = float(number.value if number is not None else 255)
        return slots

    def _read_stop_slots(self, slots):
        if self.stop_reason is not None:
            return
        asked = [(r, int(round(v))) for r, v in enumerate(slots) if v > 0]
        if asked:
            names = []
            for r, number in asked:
                try:
                    what = "a stop request" if number == 255 else signal.Signals(number).name
                except ValueError:
                    what = "a stop request"
                names.append(f"{what} on rank {r}")
            self.stop_reason = ", ".join(names)

    def sum(self, *values):
        return tuple(collectives.all_reduce(np.asarray(values, dtype=np.float64)).tolist())

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
