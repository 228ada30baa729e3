"""``DataLoader``: batches of a dataset as Tensors, shuffled reproducibly, optionally prefetched by a thread.

Each ``iter(loader)`` is one epoch. With ``shuffle=True`` every epoch draws a fresh permutation from the
loader's own generator, which is seeded from ``seed`` or, without one, from ``cnnlab.backend.get_rng()``
(so ``cnnlab.manual_seed`` makes runs repeat). ``loader.state_dict()`` records where an epoch is (the
generator state at the epoch's start and the batches already delivered) as plain JSON-able data, so a
run resumed from a checkpoint sees exactly the batches it would have seen.
"""

import numbers
import queue
import threading

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..validation import bool_arg, is_int


def _plain(value):
    """A JSON-able copy of a bit-generator state (ndarrays become lists, NumPy scalars Python numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restore(value):
    """Undo ``_plain`` where the bit generator needs arrays (MT19937's key)."""
    if isinstance(value, dict):
        return {k: (np.asarray(v, dtype=np.uint32) if k == "key" else _restore(v)) for k, v in value.items()}
    return value


class Generator:
    """A seeded NumPy ``Generator`` whose state can be saved and restored as plain data.

    Args:
        seed: an int, or None to draw one from ``cnnlab.backend.get_rng()``.

    Example:
        >>> g = Generator(0); state = g.state_dict(); a = g.permutation(5)
        >>> g.load_state_dict(state); (g.permutation(5) == a).all()
        True
    """

    def __init__(self, seed=None):
        self.manual_seed(seed)

    def manual_seed(self, seed=None):
        if seed is None:
            seed = int(backend.get_rng().integers(0, 2 ** 63 - 1))
        if not is_int(seed) or seed < 0:
            raise ValueError(f"Generator: `seed` must be a non-negative int or None. Received: seed={seed!r}")
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed

    def permutation(self, n):
        return self.rng.permutation(n)

    def state_dict(self):
        """The bit generator's state as JSON-able data (``json.dumps`` works on it)."""
        return {"seed": self._seed, "bit_generator": _plain(self.rng.bit_generator.state)}

    def load_state_dict(self, state):
        if not isinstance(state, dict) or "bit_generator" not in state:
            raise ValueError(f"Generator.load_state_dict: expected a dict from state_dict() with key 'bit_generator'. "
                             f"Received {type(state).__name__} {list(state) if isinstance(state, dict) else ''}")
        bg_state = _restore(state["bit_generator"])
        kind = bg_state.get("bit_generator")
        if kind != type(self.rng.bit_generator).__name__:
            bit_generator = getattr(np.random, str(kind), None)
            if bit_generator is None:
                raise ValueError(f"Generator.load_state_dict: unknown bit generator {kind!r}")
            self.rng = np.random.Generator(bit_generator())
        self.rng.bit_generator.state = bg_state
        self._seed = state.get("seed", self._seed)

    get_state = state_dict
    set_state = load_state_dict


def _stack(items):
    if isinstance(items[0], Tensor):
        return Tensor(np.stack([t._data for t in items]))
    return Tensor(np.stack([np.asarray(t) for t in items]))


def default_collate(batch):
    """Stack a list of samples into a batch: Tensors/arrays are stacked along a new first axis, ints become an
    int64 Tensor, floats a Tensor of the default float dtype, tuples/lists are collated position by position
    (giving a list, as PyTorch does), dicts key by key.
    """
    if not batch:
        raise ValueError("default_collate: received an empty batch")
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray)):
        return _stack(batch)
    if isinstance(elem, bool) or isinstance(elem, np.bool_):
        return Tensor(np.asarray(batch, dtype=bool))
    if isinstance(elem, numbers.Integral):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return Tensor(np.asarray(batch, dtype=backend.get_default_dtype()))
    if isinstance(elem, dict):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, (tuple, list)):
        sizes = {len(s) for s in batch}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples in a batch have different lengths {sorted(sizes)}")
        return [default_collate(list(field)) for field in zip(*batch)]
    if isinstance(elem, str):
        return list(batch)
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}; expected Tensors, "
                    f"arrays, numbers, or tuples/lists/dicts of them. Pass a collate_fn for other types")


_DONE = object()


def _has_own_generator(transform):
    """Whether any transform inside ``transform`` (a Compose, possibly nested) was given a generator."""
    if getattr(transform, "generator", None) is not None:
        return True
    inner = getattr(transform, "transforms", None)
    if inner is None:
        return False
    return any(_has_own_generator(t) for t in (inner if isinstance(inner, (list, tuple)) else [inner]))


class DataLoader:
    """Iterate over ``dataset`` in batches of Tensors.

    Array-backed datasets without per-sample transforms (``dataset.batchable``) are batched with one fancy
    index (``dataset.get_batch``); others go sample by sample through ``collate_fn``. Image datasets give
    ``[images (N, C, H, W) float32 in [0, 1], labels (N,) int64]``.

    Args:
        dataset: a map-style dataset (``len`` and ``[i]``).
        batch_size: samples per batch.
        shuffle: draw a new permutation every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: seed of the shuffling generator; None draws one from ``cnnlab.backend.get_rng()``.
        generator: a ``cnnlab.data.Generator`` to shuffle with (instead of ``seed``).
        num_workers: 0 loads in the calling thread; a positive number loads in one background thread
            (threads, not processes: the NumPy work releases the GIL), ``prefetch`` batches ahead.
        prefetch: batches prepared ahead by the background thread (0 = none unless ``num_workers`` > 0,
            which implies 2).
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`); giving one
            disables the fast path.
        sampler: a sized iterable of dataset indices: each epoch's order instead of ``shuffle``,
            e.g. a ``cnnlab.distributed.DistributedSampler`` (call its ``set_epoch`` every epoch).
        batch_transform: callable applied to the input array of every batch, e.g. a vectorised
            standardisation ``lambda x: (x - mean) / std``; gets and returns an array (N, C, H, W).
            Random transforms (a ``transforms.Compose``) that were given no generator of their own draw
            from ``batch_generator``, which the loader seeds afresh for every batch from its seed, the
            epoch and the batch's number: augmentations repeat run after run, and a run resumed in the
            middle of an epoch sees exactly the augmented batches it would have seen.
        pin_memory: accepted for PyTorch's signature (bool). It has no effect: batches are built
            in ordinary host memory, which is all the CPU needs (page-locked buffers only speed up
            copies to a GPU).

    Example:
        >>> loader = DataLoader(FashionMNIST(train=True), batch_size=128, shuffle=True, seed=0)
        >>> for images, labels in loader: ...          # images (128, 1, 28, 28) float32, labels (128,) int64
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, *, drop_last=False, seed=None, generator=None,
                 num_workers=0, prefetch=0, collate_fn=None, batch_transform=None,
                 pin_memory=False, sampler=None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: `dataset` must define __len__ and __getitem__. "
                            f"Received an object of type {type(dataset).__name__}")
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"DataLoader: `batch_size` must be a positive int. Received: batch_size={batch_size!r}")
        for name, value in (("num_workers", num_workers), ("prefetch", prefetch)):
            if not is_int(value) or value < 0:
                raise ValueError(f"DataLoader: `{name}` must be a non-negative int. Received: {name}={value!r}")
        for name, fn in (("collate_fn", collate_fn), ("batch_transform", batch_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: `{name}` must be callable or None. Received {type(fn).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: `sampler` gives the order; it cannot be combined with "
                             "shuffle=True")
        sized = hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")
        if sampler is not None and not sized:
            raise TypeError(f"DataLoader: `sampler` must be a sized iterable of indices. "
                            f"Received {type(sampler).__name__}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give `seed` or `generator`, not both")
        bool_arg("DataLoader", "pin_memory", pin_memory)
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: `generator` must be a cnnlab.data.Generator. "
                            f"Received {type(generator).__name__}")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = int(num_workers)
        self.prefetch = int(prefetch) if prefetch or not num_workers else 2
        self.collate_fn = collate_fn
        self.batch_transform = batch_transform
        self.pin_memory = pin_memory  # no effect (see the docstring)
        self.generator = generator if generator is not None else Generator(seed)
        self.batch_generator = Generator(0)   # re-seeded before every batch_transform call (_load)
        if hasattr(batch_transform, "set_generator") and not _has_own_generator(batch_transform):
            batch_transform.set_generator(self.batch_generator)
        self.epoch = 0
        self._position = None      # the epoch in progress: {"generator": start state, "batch_index": k}
        self._resume_at = 0

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    # ------------------------------------------------------------------ resumable state
    def state_dict(self):
        """Where the loader is, as JSON-able data: the epoch, the generator state at that epoch's start, and
        how many of its batches were already delivered.

        Loading it into a loader over the same dataset makes the next ``iter()`` redo that epoch's
        permutation and skip the delivered batches.
        """
        if self._position is not None:
            return {"epoch": self.epoch, "batch_index": self._position["batch_index"],
                    "generator": self._position["generator"]}
        return {"epoch": self.epoch, "batch_index": self._resume_at, "generator": self.generator.state_dict()}

    def load_state_dict(self, state):
        try:
            epoch, batch_index, gen = int(state["epoch"]), int(state["batch_index"]), state["generator"]
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"DataLoader.load_state_dict: expected a dict with keys 'epoch', 'batch_index', "
                             f"'generator' (from state_dict()). Received {state!r:.200}") from None
        if not 0 <= batch_index <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: `batch_index` {batch_index} is outside 0..{len(self)} "
                             f"for this loader ({len(self)} batches per epoch)")
        self.generator.load_state_dict(gen)
        self.epoch = epoch
        self._resume_at = batch_index
        self._position = None

    # ------------------------------------------------------------------ batching
    def _batches_of_indices(self):
        """This epoch's batches as (epoch, batch number, sample indices)."""
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        else:
            n = len(self.dataset)
            order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        return [(self.epoch, k, order[i:i + self.batch_size]) for k, i in enumerate(range(0, stop, self.batch_size))]

    def _load(self, batch_id):
        """One batch: the fast path (one fancy index) when possible, else sample by sample."""
        epoch, number, indices = batch_id
        if self.collate_fn is None and getattr(self.dataset, "batchable", False):
            batch = [Tensor(a) for a in self.dataset.get_batch(indices)]
        else:
            collate = self.collate_fn or default_collate
            batch = collate([self.dataset[int(i)] for i in indices])
        if self.batch_transform is not None:
            # A stream of its own for every batch: the draws depend on where the batch is, not on how
            # many batches were augmented before it in this process.
            self.batch_generator.rng = np.random.default_rng([self.generator.initial_seed(), epoch, number])
            batch = self._apply_batch_transform(batch)
        return batch

    def _apply_batch_transform(self, batch):
        if isinstance(batch, (list, tuple)):
            first = batch[0]
            x = self.batch_transform(first._data if isinstance(first, Tensor) else first)
            return type(batch)([x if isinstance(x, Tensor) else Tensor(x), *batch[1:]])
        x = self.batch_transform(batch._data if isinstance(batch, Tensor) else batch)
        return x if isinstance(x, Tensor) else Tensor(x)

    def __iter__(self):
        start_state = self.generator.state_dict()
        all_batches = self._batches_of_indices()
        skip, self._resume_at = self._resume_at, 0
        position = {"generator": start_state, "batch_index": skip}
        self._position = position
        return self._iterate(all_batches[skip:], position)

    def _finish_epoch(self, position):
        if self._position is position:   # a newer iter() has not taken over
            self._position = None
            self.epoch += 1

    def _iterate(self, batches, position):
        if self.prefetch > 0:
            source = self._prefetched(batches)
        else:
            source = (self._load(b) for b in batches)
        try:
            for batch in source:
                position["batch_index"] += 1   # counted as delivered once the caller holds it
                yield batch
            self._finish_epoch(position)
        finally:
            source.close()

    def _prefetched(self, batches):
        """Load ``batches`` in a background thread, up to ``prefetch`` ahead; same order, same values."""
        q = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item):
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def work():
            try:
                for b in batches:
                    if not put((True, self._load(b))):
                        return
                put((True, _DONE))
            except BaseException as exc:  # handed to the consuming thread and raised there
                put((False, exc))

        thread = threading.Thread(target=work, name="cnnlab-DataLoader-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                ok, item = q.get()
                if not ok:
                    raise item
                if item is _DONE:
                    return
                yield item
        finally:
            stop.set()
            thread.join(timeout=5)

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, prefetch={self.prefetch})")
