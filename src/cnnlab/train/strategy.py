"""How a training job uses its processes: one process, or MPI data parallelism (``mpiexec -n N``).

``train_job`` asks ``choose_strategy()`` once and then calls the strategy wherever one process and
several ranks differ: who logs, how the batch is split, how the model is kept in step, the loaders,
and who writes the run directory and holds its lock.
"""

from contextlib import nullcontext

from .. import __version__, distributed
from ..data import DataLoader, Subset
from .rundir import RunLock, check_output_dir, remove_orphaned_temp_files

EVAL_BATCH = 500   # validation and test batches: no gradients, so larger than training's


def _eval_loader(dataset):
    return DataLoader(dataset, batch_size=EVAL_BATCH) if dataset is not None else None


class SingleProcess:
    """One process: the whole batch, every log line, and the run directory are its own."""

    ranks = 1
    is_main = True
    parallel = None   # the Trainer's ``parallel``: a Synchronizer under MPI

    def quiet(self, log, progress):
        """The ``(log, progress)`` this process uses: as given."""
        return log, progress

    def check_batch_size(self, batch_size):
        """Refuse a global batch the ranks cannot share (one process takes any)."""

    def prepare(self, net, facts):
        """The model to train; ``facts`` (the job's settings) matter only when ranks must agree."""
        return net

    def record(self, meta):
        """Add the strategy's facts to the checkpoint's ``meta`` (one process adds none)."""

    def loaders(self, train_set, val_set, test_set, batch_size, seed, batch_transform=None):
        """``(train, validation or None, test)`` loaders: the training set shuffled with ``seed``."""
        train = DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed,
                           batch_transform=batch_transform)
        return train, _eval_loader(val_set), _eval_loader(test_set)

    def check_output_dir(self, out):
        """Create and probe ``out`` where this process writes (clearing stale temp files)."""
        if self.is_main:
            check_output_dir(out, "train")

    def lock(self, out, force, log):
        """The run directory's lock, held by the process that writes there."""
        return RunLock(out, "train", force=force, log=log) if self.is_main else nullcontext()

    def tidy(self, out, log):
        """Remove temp files a killed run left in ``out`` (the writer alone, inside the lock)."""
        if self.is_main:
            remove_orphaned_temp_files(out, log)


class DataParallel(SingleProcess):
    """``mpiexec -n N``: every rank trains on its share of each global batch, kept in step by a
    ``distributed.Synchronizer`` (gradients averaged, rank 0's initial weights, SyncBatchNorm);
    rank 0 alone logs and writes."""

    def __init__(self, ranks):
        self.ranks = ranks
        self.is_main = distributed.is_main()
        self.parallel = None

    def quiet(self, log, progress):
        return (log, progress) if self.is_main else (None, False)

    def check_batch_size(self, batch_size):
        if batch_size % self.ranks:
            raise ValueError(f"train: --batch-size {batch_size} is the global batch and must be a "
                             f"multiple of the {self.ranks} ranks "
                             f"(each rank takes batch_size / {self.ranks})")

    def prepare(self, net, facts):
        """Refuse ranks started differently; then batch statistics of the global batch, and rank 0's
        initial weights on every rank."""
        distributed.check_consistent({**facts, "model_fingerprint": distributed.model_fingerprint(net),
                                      "world_size": self.ranks, "cnnlab": __version__})
        net = distributed.convert_sync_batchnorm(net)
        self.parallel = distributed.Synchronizer(net)
        return net

    def record(self, meta):
        meta["world_size"] = self.ranks

    def loaders(self, train_set, val_set, test_set, batch_size, seed, batch_transform=None):
        """One global shuffle (the one a single process draws), each rank its shard of every batch;
        the validation and test sets in contiguous unpadded shards, so every image counts once."""
        sampler = distributed.DistributedSampler(train_set, seed=seed)
        train = DataLoader(train_set, batch_size=batch_size // self.ranks, sampler=sampler,
                           seed=seed + distributed.rank(), batch_transform=batch_transform)
        return train, _eval_loader(_shard(val_set)), _eval_loader(_shard(test_set))


def _shard(dataset):
    return Subset(dataset, distributed.shard_indices(len(dataset))) if dataset is not None else None


def choose_strategy():
    """The strategy of this process: ``DataParallel`` under ``mpiexec -n N`` (N > 1), else one process."""
    ranks = distributed.init()
    return DataParallel(ranks) if ranks > 1 else SingleProcess()
