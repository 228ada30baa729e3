"""cnnlab.utils.data against torch.utils.data: samplers, batching, worker processes, errors."""

import os
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import cnnlab
from cnnlab.utils import data as cud

X = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
Y = np.arange(50) % 7


class Samples(cud.Dataset):
    """Sample by sample (not batchable), with the worker's id so tests can see who loaded what."""

    def __len__(self):
        return len(X)

    def __getitem__(self, i):
        info = cud.get_worker_info()
        return cnnlab.tensor(X[i]), int(Y[i]), -1 if info is None else info.id


class Failing(Samples):
    def __getitem__(self, i):
        if i == 17:
            raise ValueError("sample 17 is corrupt")
        return super().__getitem__(i)


class Dying(Samples):
    def __getitem__(self, i):
        if i == 20 and cud.get_worker_info() is not None:
            os._exit(3)
        return super().__getitem__(i)


class Slow(Samples):
    def __getitem__(self, i):
        time.sleep(0.5)
        return super().__getitem__(i)


def batches(loader):
    return [(b[0].numpy().copy(), b[1].numpy().copy()) for b in loader]


# ---------------------------------------------------------------------- samplers
@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (7, True), (60, False)])
def test_batch_sampler_matches_torch(batch_size, drop_last):
    ours = cud.BatchSampler(cud.SequentialSampler(range(50)), batch_size, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(50)), batch_size, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


def test_random_samplers_draw_permutations_and_repeat_with_a_generator():
    s = cud.RandomSampler(range(20), generator=np.random.default_rng(0))
    first, second = list(s), list(s)
    assert sorted(first) == list(range(20)) and first != second   # a fresh permutation each epoch
    again = cud.RandomSampler(range(20), generator=np.random.default_rng(0))
    assert [list(again), list(again)] == [first, second]
    more = cud.RandomSampler(range(5), num_samples=12, generator=np.random.default_rng(1))
    drawn = list(more)
    assert len(more) == len(drawn) == 12 and sorted(drawn[:10]) == sorted(list(range(5)) * 2)
    repl = list(cud.RandomSampler(range(5), replacement=True, num_samples=100))
    assert len(repl) == 100 and set(repl) <= set(range(5))
    sub = cud.SubsetRandomSampler([3, 9, 11, 40])
    assert len(sub) == 4 and sorted(sub) == [3, 9, 11, 40]


def test_global_seed_makes_unseeded_shuffles_repeat():
    cnnlab.manual_seed(5)
    a = batches(cud.DataLoader(cud.TensorDataset(X, Y), batch_size=8, shuffle=True))
    cnnlab.manual_seed(5)
    b = batches(cud.DataLoader(cud.TensorDataset(X, Y), batch_size=8, shuffle=True))
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(a, b))


def test_weighted_sampler_follows_the_weights():
    weights = [0.0, 1.0, 3.0, 0.0]
    s = cud.WeightedRandomSampler(weights, num_samples=4000, generator=np.random.default_rng(0))
    counts = np.bincount(list(s), minlength=4)
    assert len(s) == 4000 and counts[0] == counts[3] == 0
    assert abs(counts[2] / counts[1] - 3.0) < 0.3
    no_repeat = list(cud.WeightedRandomSampler([1, 1, 5], 2, replacement=False))
    assert len(set(no_repeat)) == 2
    with pytest.raises(ValueError, match=r"WeightedRandomSampler: without replacement, `num_samples` must not "
                                         r"exceed the 2 positive weights. Received: num_samples=3"):
        cud.WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match=r"WeightedRandomSampler: `weights` must be finite, non-negative"):
        cud.WeightedRandomSampler([1, -1], 3)


# ---------------------------------------------------------------------- loading
def test_batches_match_torch_dataloader():
    ours = cud.DataLoader(cud.TensorDataset(X, Y), batch_size=8, drop_last=True)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(X), torch.tensor(Y)), batch_size=8, drop_last=True)
    assert len(ours) == len(theirs) == 6 and len(ours.sampler) == len(theirs.sampler) == 50
    for (ox, oy), (tx, ty) in zip(ours, theirs):
        np.testing.assert_array_equal(ox.numpy(), tx.numpy())
        np.testing.assert_array_equal(oy.numpy(), ty.numpy())
        assert oy.dtype == np.int64


@pytest.mark.parametrize("num_workers, persistent", [(1, False), (3, False), (2, True)])
def test_workers_give_the_same_batches_in_the_same_order(num_workers, persistent):
    def loader(n, **kw):
        return cud.DataLoader(Samples(), batch_size=4, shuffle=True, generator=np.random.default_rng(3),
                              num_workers=n, **kw)

    plain = loader(0)
    ours = loader(num_workers, persistent_workers=persistent, pin_memory=True, prefetch_factor=3)
    for epoch in range(2):
        expected = [(x.numpy(), y.numpy()) for x, y, _ in plain]
        got = list(ours)
        assert len(got) == len(expected) == 13
        for (ex, ey), (x, y, who) in zip(expected, got):
            np.testing.assert_array_equal(x.numpy(), ex)
            np.testing.assert_array_equal(y.numpy(), ey)
        assert set(np.concatenate([b[2].numpy() for b in got]).tolist()) == set(range(num_workers))
    assert (ours._pool is not None) == persistent
    ours._shutdown_workers()


def test_worker_init_fn_collate_fn_and_seeds():
    def collate(samples):
        return [s[1] for s in samples], np.random.randint(1 << 30)  # a draw from the worker's seeded NumPy

    loader = cud.DataLoader(Samples(), batch_size=10, num_workers=2, collate_fn=collate,
                            worker_init_fn=_record_worker_id, generator=np.random.default_rng(0))
    first, second = list(loader), list(cud.DataLoader(Samples(), batch_size=10, num_workers=2, collate_fn=collate,
                                                      generator=np.random.default_rng(0)))
    assert [b[0] for b in first] == [Y[i:i + 10].tolist() for i in range(0, 50, 10)]
    assert [b[1] for b in first] == [b[1] for b in second]   # seeded from the generator: repeatable
    assert len({b[1] for b in first}) > 1


def _record_worker_id(worker_id):
    assert cud.get_worker_info().id == worker_id


def test_error_in_a_worker_names_the_worker_and_keeps_its_type():
    loader = cud.DataLoader(Failing(), batch_size=5, num_workers=2)
    with pytest.raises(ValueError, match=r"Caught ValueError in DataLoader worker process 1 \(loading batch 3\)"
                                         r"(.|\n)*sample 17 is corrupt"):
        list(loader)


def test_a_dead_worker_is_one_clear_error_not_a_hang():
    loader = cud.DataLoader(Dying(), batch_size=5, num_workers=2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader: worker process\(es\) exited unexpectedly \(pid \d+ "
                                           r"exit code 3\)"):
        list(loader)
    assert time.monotonic() - start < 10


def test_timeout():
    loader = cud.DataLoader(Slow(), batch_size=4, num_workers=1, timeout=0.2)
    with pytest.raises(RuntimeError, match=r"DataLoader: timed out after 0.2 seconds"):
        next(iter(loader))


def test_abandoned_epoch_then_a_full_one():
    loader = cud.DataLoader(Samples(), batch_size=5, num_workers=2, persistent_workers=True)
    it = iter(loader)
    next(it)
    it.close()
    assert [b[1].numpy().tolist() for b in loader] == [Y[i:i + 5].tolist() for i in range(0, 50, 5)]
    loader._shutdown_workers()


def shared_blocks():
    return {f for f in os.listdir("/dev/shm") if f.startswith("psm_")} if os.path.isdir("/dev/shm") else set()


def test_large_batches_cross_through_shared_memory_and_none_is_left_behind():
    big = np.random.default_rng(0).random((96, 3, 32, 32)).astype(np.float32)      # 1.2 MB batches of 32
    before = shared_blocks()
    loader = cud.DataLoader(cud.TensorDataset(big, np.arange(96)), batch_size=32, num_workers=2)
    it = iter(loader)
    next(it)
    it.close()                                                                        # batches still in flight
    got = np.concatenate([b[0].numpy() for b in loader])
    np.testing.assert_array_equal(got, big)
    arrays = cud.DataLoader(cud.TensorDataset(big, np.arange(96)), batch_size=32, num_workers=2,
                            collate_fn=lambda s: np.stack([x.numpy() for x, _ in s]))
    first = next(iter(arrays))
    assert isinstance(first, np.ndarray) and np.array_equal(first, big[:32])
    assert shared_blocks() <= before


def test_batch_sampler_unbatched_and_iterable_datasets():
    bs = cud.BatchSampler(cud.SequentialSampler(range(50)), 20, drop_last=False)
    loader = cud.DataLoader(cud.TensorDataset(X, Y), batch_sampler=bs)
    assert [len(b[1].numpy()) for b in loader] == [20, 20, 10] and len(loader) == 3
    single = list(cud.DataLoader(cud.TensorDataset(X, Y), batch_size=None))
    assert len(single) == 50 and single[3][0].shape == (3,)

    class Stream(cud.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.numpy().tolist() for b in cud.DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.numpy().tolist() for b in cud.DataLoader(Stream(), batch_size=3, drop_last=True)] == [[0, 1, 2],
                                                                                                 [3, 4, 5]]


def test_random_split_and_subset_are_cnnlabs():
    train, val = cud.random_split(cud.TensorDataset(X, Y), [40, 10], generator=np.random.default_rng(0))
    assert (len(train), len(val)) == (40, 10)
    assert len(cud.DataLoader(train, batch_size=16).sampler) == 40


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_workers=-1), ValueError, r"DataLoader: `num_workers` must be a non-negative int. Received: "
                                       r"num_workers=-1"),
    (dict(persistent_workers=True), ValueError, r"DataLoader: persistent_workers=True needs num_workers > 0"),
    (dict(prefetch_factor=2), ValueError, r"DataLoader: `prefetch_factor` needs num_workers > 0"),
    (dict(batch_size=0), ValueError, r"DataLoader: `batch_size` must be a positive int or None. Received: "
                                     r"batch_size=0"),
    (dict(sampler=[1, 2], shuffle=True), ValueError, r"DataLoader: `sampler` gives the order; it excludes"),
    (dict(batch_sampler=[[0, 1]], batch_size=4), ValueError, r"DataLoader: `batch_sampler` gives whole batches"),
    (dict(collate_fn=3), TypeError, r"DataLoader: `collate_fn` must be callable or None. Received int"),
    (dict(timeout=-1), ValueError, r"DataLoader: `timeout` must be a non-negative number"),
])
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        cud.DataLoader(cud.TensorDataset(X, Y), **kwargs)


def test_distributed_sampler_is_reachable_under_torchs_name():
    sampler = cud.distributed.DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    assert list(sampler) == [1, 3, 5, 7, 9]
    assert len(cud.DataLoader(range(10), batch_size=2, sampler=sampler)) == 3


class Convolved(cud.Dataset):
    """Each sample is a convolution: workers run ops too (after this process ran compiled kernels)."""

    weight = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    inputs = np.random.default_rng(1).standard_normal((6, 3, 8, 8)).astype(np.float32)

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return cnnlab.functional.conv2d(cnnlab.tensor(self.inputs[i:i + 1]), cnnlab.tensor(self.weight))[0]


def test_workers_forked_after_compiled_kernels_ran_can_run_ops():
    ds = Convolved()
    expected = cnnlab.functional.conv2d(cnnlab.tensor(ds.inputs), cnnlab.tensor(ds.weight)).numpy()  # compiled
    got = np.concatenate([b.numpy() for b in cud.DataLoader(ds, batch_size=3, num_workers=2, timeout=120)])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_map_nested_keeps_the_containers_and_maps_only_the_leaves():
    from cnnlab.utils.data._nested import map_nested

    sample = {"x": [1, (2, "a")], "y": 3}
    assert map_nested(lambda leaf: leaf * 2, sample) == {"x": [2, (4, "aa")], "y": 6}
    assert map_nested(str, 5) == "5"
    converted = cud.default_convert((np.zeros(2), [np.ones(1), 7], {"k": np.ones(3)}))
    assert isinstance(converted, tuple) and isinstance(converted[1], list)
    assert [type(v).__name__ for v in (converted[0], converted[1][0], converted[2]["k"])] == ["Tensor"] * 3
    assert converted[1][1] == 7
