"""Samplers, as ``torch.utils.data``: the order in which a DataLoader visits a dataset's indices.

Every sampler is a sized iterable of indices (``len(sampler)`` works); ``BatchSampler`` groups
another sampler's indices into lists. Random samplers draw from their ``generator`` (a NumPy
``Generator`` or ``cnnlab.data.Generator``) or, without one, from ``cnnlab.backend.get_rng()``, so
``cnnlab.manual_seed`` makes every epoch's order repeat.
"""

import numpy as np

from ... import backend
from ...tensor import Tensor
from ...validation import bool_arg, int_arg, is_int


def _rng(generator):
    """The NumPy Generator behind ``generator`` (None: a fresh one seeded from cnnlab's RNG)."""
    if generator is None:
        return np.random.default_rng(int(backend.get_rng().integers(0, 2 ** 63 - 1)))
    rng = getattr(generator, "rng", generator)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"sampler: `generator` must be a numpy.random.Generator or a "
                        f"cnnlab.data.Generator. Received an object of type "
                        f"{type(generator).__name__}")
    return rng


class Sampler:
    """Base class: ``__iter__`` yields dataset indices, ``__len__`` says how many."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random permutation every epoch, or ``num_samples`` draws with replacement.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement. Default: False.
        num_samples: indices per epoch. Default: ``len(data_source)``.
        generator: where the randomness comes from (see the module's docstring).
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        bool_arg("RandomSampler", "replacement", replacement)
        if num_samples is not None:
            int_arg("RandomSampler", "num_samples", num_samples, minimum=1)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        rng = _rng(self.generator)
        n = len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        whole, rest = divmod(self.num_samples, n)
        order = [rng.permutation(n) for _ in range(whole)] + [rng.permutation(n)[:rest]]
        return iter(np.concatenate(order).tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order every epoch."""

    def __init__(self, indices, generator=None):
        self.indices = list(indices)
        self.generator = generator

    def __iter__(self):
        perm = _rng(self.generator).permutation(len(self.indices))
        return iter([self.indices[i] for i in perm])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (class balance).

    Args:
        weights: one non-negative weight per index (need not sum to 1).
        num_samples: indices per epoch.
        replacement: draw with replacement. Default: True; without, ``num_samples`` must not exceed
            the number of positive weights.
        generator: where the randomness comes from (see the module's docstring).
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        int_arg("WeightedRandomSampler", "num_samples", num_samples, minimum=1)
        bool_arg("WeightedRandomSampler", "replacement", replacement)
        if isinstance(weights, Tensor):
            weights = backend.asnumpy(weights._data)
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"WeightedRandomSampler: `weights` must be finite, non-negative "
                             f"and not all zero. Received {w.size} weights, min {w.min(initial=np.inf)}, "
                             f"sum {w.sum()}")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: without replacement, `num_samples` must not "
                             f"exceed the {np.count_nonzero(w)} positive weights. "
                             f"Received: num_samples={num_samples}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        draws = _rng(self.generator).choice(p.size, size=self.num_samples,
                                            replace=self.replacement, p=p)
        return iter(draws.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size`` (the last may be shorter).

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not is_int(batch_size) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"BatchSampler: `batch_size` must be a positive int. "
                             f"Received: batch_size={batch_size!r}")
        bool_arg("BatchSampler", "drop_last", drop_last)
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
