"""The MPI world and collectives on NumPy arrays: the engine under ``cnnlab.distributed`` and
``cnnlab.nn.parallel``.

Without an MPI launch (a plain ``python`` or ``cnnlab`` process) the world has one rank, ``mpi4py``
is never imported and every collective is a no-op. Under ``mpiexec -n N`` the launcher's
environment (``PMI_SIZE``, ``PMI_RANK``; Open MPI's ``OMPI_COMM_WORLD_SIZE``) says so, and
``init()`` joins the world. It sits low in the package (it needs only ``backend``) so that both the
layers (``nn.parallel``) and the trainer (``distributed``) can use it.
"""

import json
import os

import numpy as np

from . import backend

# What MPI launchers set to the world size: MPICH/Intel MPI (PMI), Open MPI, MVAPICH.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
INSTALL_HINT = "pip install cnnlab[mpi]"
OPS = ("sum", "max", "min", "product", "band", "bor", "bxor")


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


def world_size():
    """How many processes train together (1 without an MPI launch)."""
    return init()


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
def as_buffer(a, fn="distributed"):
    """``a`` if it is a NumPy array MPI can read; a TypeError naming ``fn`` otherwise."""
    if backend.get_array_module(a) is not np:
        raise TypeError(f"{fn}: arrays must be on the CPU (NumPy) for MPI. "
                        f"Received {type(a).__name__}")
    return a


def check_op(fn, op):
    """``op`` as one of ``OPS``; a ValueError naming ``fn`` otherwise."""
    if op not in OPS:
        raise ValueError(f"{fn}: `op` must be one of {', '.join(map(repr, OPS))}. "
                         f"Received: op={op!r}")
    return op


def _mpi_op(op):
    mpi = _world.mpi
    return {"sum": mpi.SUM, "max": mpi.MAX, "min": mpi.MIN, "product": mpi.PROD,
            "band": mpi.BAND, "bor": mpi.BOR, "bxor": mpi.BXOR}[op]


def all_reduce(array, op="sum"):
    """Sum (``op="sum"``), max, min, product, or bitwise and/or/xor of ``array`` across ranks, in
    place; returns it."""
    check_op("all_reduce", op)
    if world_size() == 1:
        return array
    buf = np.ascontiguousarray(as_buffer(array, "all_reduce"))
    _world.comm.Allreduce(_world.mpi.IN_PLACE, buf, op=_mpi_op(op))
    if buf is not array:
        array[...] = buf
    return array


class Request:
    """A collective in flight (``iall_reduce``): ``wait()`` finishes it, ``test()`` moves it on.

    MPICH advances a non-blocking collective only inside MPI calls, so whoever overlaps work with
    it calls ``test()`` now and then (``nn.parallel.DistributedDataParallel`` does, as each gradient
    is ready)."""

    def __init__(self, request, array=None, buf=None):
        self._request, self._array, self._buf = request, array, buf
        self.done = request is None

    def test(self):
        """Advance the collective; whether it has finished (then ``wait`` returns at once)."""
        if not self.done:
            self.done = bool(self._request.Test())
            if self.done:
                self._finish()
        return self.done

    def wait(self):
        """Block until the collective has finished on this rank; returns True."""
        if not self.done:
            self._request.Wait()
            self.done = True
            self._finish()
        return True

    def _finish(self):
        if self._buf is not None and self._buf is not self._array:
            self._array[...] = self._buf


def iall_reduce(array, op="sum"):
    """Start an all-reduce of ``array`` in place without waiting (``MPI_Iallreduce``); returns a
    ``Request``. Every rank must start its non-blocking collectives in the same order."""
    check_op("all_reduce", op)
    if world_size() == 1:
        return Request(None)
    buf = np.ascontiguousarray(as_buffer(array, "all_reduce"))
    request = _world.comm.Iallreduce(_world.mpi.IN_PLACE, buf, op=_mpi_op(op))
    return Request(request, array, buf)


def broadcast(array, root=0):
    """Rank ``root``'s ``array`` into every rank's ``array``, in place; returns it."""
    if world_size() == 1:
        return array
    buf = np.ascontiguousarray(as_buffer(array, "broadcast"))
    _world.comm.Bcast(buf, root=root)
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
    array = np.ascontiguousarray(as_buffer(array, "all_gather"))
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


def buckets(params, bucket_bytes):
    """Consecutive parameters of one dtype in buckets of at most ``bucket_bytes`` (or one each)."""
    out, current, size, dtype = [], [], 0, None
    for p in params:
        nbytes = p._data.size * p._data.dtype.itemsize
        if current and (p._data.dtype != dtype or size + nbytes > bucket_bytes):
            out.append(current)
            current, size = [], 0
        current.append(p)
        size += nbytes
        dtype = p._data.dtype
    if current:
        out.append(current)
    return out
