import json
import threading

import numpy as np
import pytest

import cnnlab
from cnnlab import Tensor
from cnnlab.data import ArrayDataset, DataLoader, Dataset, Generator, TensorDataset, default_collate


def index_dataset(n):
    return TensorDataset(np.arange(n))


def order(loader):
    return [b[0].numpy().tolist() for b in loader]


def image_dataset(n=20, **kw):
    rng = np.random.default_rng(0)
    return ArrayDataset(rng.integers(0, 256, (n, 3, 4, 2), dtype=np.uint8), rng.integers(0, 5, n), **kw)


class ListDataset(Dataset):
    """A plain map-style dataset (no fast path)."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@pytest.mark.parametrize("n,bs,drop_last,sizes", [(10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]),
                                                  (9, 3, False, [3, 3, 3]), (2, 5, False, [2]), (2, 5, True, [])])
def test_batch_sizes_and_last_partial_batch(n, bs, drop_last, sizes):
    loader = DataLoader(index_dataset(n), batch_size=bs, drop_last=drop_last)
    assert [len(b[0]) for b in loader] == sizes
    assert len(loader) == len(sizes)
    assert sum(order(loader), []) == list(range(sum(sizes)))


def test_image_batches_are_nchw_float32_and_int64_labels():
    ds = image_dataset()
    images, labels = next(iter(DataLoader(ds, batch_size=8)))
    assert isinstance(images, Tensor) and images.shape == (8, 2, 3, 4) and images.dtype == np.float32
    assert labels.shape == (8,) and labels.dtype == np.int64
    np.testing.assert_array_equal(images.numpy(), ds.data[:8].transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255))
    assert float(images.numpy().min()) >= 0 and float(images.numpy().max()) <= 1


def test_shuffle_covers_every_index_once_per_epoch_and_reshuffles():
    loader = DataLoader(index_dataset(23), batch_size=4, shuffle=True, seed=0)
    epochs = [sum(order(loader), []) for _ in range(3)]
    for e in epochs:
        assert sorted(e) == list(range(23))
    assert epochs[0] != epochs[1] != epochs[2]
    assert epochs[0] != list(range(23))


def test_same_seed_same_order_and_global_seed_repeats():
    a = DataLoader(index_dataset(30), batch_size=7, shuffle=True, seed=11)
    b = DataLoader(index_dataset(30), batch_size=7, shuffle=True, seed=11)
    assert [order(a), order(a)] == [order(b), order(b)]
    cnnlab.manual_seed(123)
    c = DataLoader(index_dataset(30), batch_size=7, shuffle=True)
    cnnlab.manual_seed(123)
    d = DataLoader(index_dataset(30), batch_size=7, shuffle=True)
    assert order(c) == order(d)


def test_generator_state_round_trip_through_json():
    g = Generator(5)
    state = json.loads(json.dumps(g.state_dict()))
    a = g.permutation(50)
    g.load_state_dict(state)
    np.testing.assert_array_equal(g.permutation(50), a)
    assert g.initial_seed() == 5


def test_resume_mid_epoch_gives_the_same_batches():
    ref = DataLoader(index_dataset(40), batch_size=6, shuffle=True, seed=2)
    reference = [order(ref) for _ in range(3)]

    loader = DataLoader(index_dataset(40), batch_size=6, shuffle=True, seed=2)
    first_epoch = order(loader)
    it = iter(loader)
    seen = [next(it)[0].numpy().tolist() for _ in range(3)]
    state = json.loads(json.dumps(loader.state_dict()))   # a checkpoint taken after 3 batches of epoch 1
    assert state["epoch"] == 1 and state["batch_index"] == 3

    resumed = DataLoader(index_dataset(40), batch_size=6, shuffle=True, seed=999)
    resumed.load_state_dict(state)
    rest = order(resumed)
    assert [first_epoch, seen + rest] == reference[:2]
    assert order(resumed) == reference[2]
    assert resumed.state_dict()["epoch"] == 3


def test_state_dict_between_epochs():
    loader = DataLoader(index_dataset(10), batch_size=3, shuffle=True, seed=0)
    order(loader)
    state = loader.state_dict()
    nxt = order(loader)
    other = DataLoader(index_dataset(10), batch_size=3, shuffle=True, seed=1)
    other.load_state_dict(state)
    assert order(other) == nxt


def test_prefetch_gives_identical_batches():
    plain = DataLoader(image_dataset(50), batch_size=8, shuffle=True, seed=4)
    fetched = DataLoader(image_dataset(50), batch_size=8, shuffle=True, seed=4, prefetch=3)
    workers = DataLoader(image_dataset(50), batch_size=8, shuffle=True, seed=4, num_workers=1)
    assert workers.prefetch == 2
    for _ in range(2):
        batches = [list(x) for x in (plain, fetched, workers)]
        for a, b, c in zip(*batches):
            np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
            np.testing.assert_array_equal(a[1].numpy(), c[1].numpy())
        assert len(batches[0]) == len(batches[1]) == 7


def test_prefetch_stops_its_thread_when_abandoned_and_forwards_errors():
    before = threading.active_count()
    loader = DataLoader(image_dataset(200), batch_size=2, prefetch=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    assert threading.active_count() == before

    class Broken(ListDataset):
        def __getitem__(self, i):
            if i == 5:
                raise RuntimeError("sample 5 is broken")
            return super().__getitem__(i)

    with pytest.raises(RuntimeError, match="sample 5 is broken"):
        list(DataLoader(Broken(list(range(10))), batch_size=2, prefetch=2))
    assert threading.active_count() == before


def test_fast_path_skips_getitem_and_equals_the_sample_path():
    class NoGetitem(ArrayDataset):
        def __getitem__(self, i):
            raise AssertionError("the fast path must not call __getitem__")

    rng = np.random.default_rng(0)
    data, targets = rng.integers(0, 256, (10, 5, 5), dtype=np.uint8), rng.integers(0, 3, 10)
    fast = list(DataLoader(NoGetitem(data, targets), batch_size=4, shuffle=True, seed=1))
    slow = list(DataLoader(ArrayDataset(data, targets, transform=lambda x: x), batch_size=4, shuffle=True, seed=1))
    for (a, y), (b, z) in zip(fast, slow):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(y.numpy(), z.numpy())
        assert b.dtype == np.float32 and z.dtype == np.int64


def test_batch_transform_on_the_whole_batch():
    calls = []

    def standardise(x):
        calls.append(x.shape)
        return (x - 0.5) / 0.25

    ds = image_dataset(10)
    for x, y in DataLoader(ds, batch_size=4, batch_transform=standardise):
        pass
    assert calls == [(4, 2, 3, 4), (4, 2, 3, 4), (2, 2, 3, 4)]
    x, _ = next(iter(DataLoader(ds, batch_size=3, batch_transform=standardise)))
    np.testing.assert_allclose(x.numpy(), (ds.get_batch(np.arange(3))[0] - 0.5) / 0.25, rtol=1e-6)


def test_default_collate_types():
    batch = default_collate([(np.ones((2,)), 1, 0.5, {"k": 3}), (np.zeros((2,)), 2, 1.5, {"k": 4})])
    assert isinstance(batch, list)
    assert batch[0].shape == (2, 2)
    assert batch[1].dtype == np.int64 and batch[1].numpy().tolist() == [1, 2]
    assert batch[2].dtype == np.float32
    assert batch[3]["k"].numpy().tolist() == [3, 4]
    with pytest.raises(TypeError, match=r"default_collate: cannot batch samples of type object"):
        default_collate([object()])
    loader = DataLoader(ListDataset([(np.full(3, i), i) for i in range(5)]), batch_size=2)
    x, y = next(iter(loader))
    assert x.shape == (2, 3) and y.numpy().tolist() == [0, 1]
    custom = DataLoader(ListDataset(list(range(5))), batch_size=2, collate_fn=lambda items: sum(items))
    assert list(custom) == [1, 5, 4]


def test_loader_argument_errors():
    ds = index_dataset(3)
    with pytest.raises(ValueError, match=r"DataLoader: `batch_size` must be a positive int. Received: batch_size=0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match=r"`prefetch` must be a non-negative int. Received: prefetch=-1"):
        DataLoader(ds, prefetch=-1)
    with pytest.raises(TypeError, match=r"`collate_fn` must be callable or None. Received int"):
        DataLoader(ds, collate_fn=1)
    with pytest.raises(TypeError, match=r"`dataset` must define __len__ and __getitem__. Received an object of type int"):
        DataLoader(5)
    with pytest.raises(ValueError, match=r"give `seed` or `generator`, not both"):
        DataLoader(ds, seed=1, generator=Generator(1))
    with pytest.raises(ValueError, match=r"Generator: `seed` must be a non-negative int or None. Received: seed=-1"):
        Generator(-1)
    loader = DataLoader(ds, batch_size=1)
    with pytest.raises(ValueError, match=r"DataLoader.load_state_dict: expected a dict with keys"):
        loader.load_state_dict({"epoch": 0})
    with pytest.raises(ValueError, match=r"`batch_index` 9 is outside 0..3"):
        loader.load_state_dict({"epoch": 0, "batch_index": 9, "generator": loader.generator.state_dict()})


def _augmenting_loader(seed, prefetch=0, generator=None):
    from cnnlab.data import transforms as T

    images = np.random.default_rng(3).random((40, 2, 6, 6)).astype(np.float32)
    augment = T.Compose([T.RandomHorizontalFlip(generator=generator), T.RandomCrop(6, padding=2)])
    dataset = TensorDataset(images, np.arange(40))
    return DataLoader(dataset, batch_size=6, shuffle=True, seed=seed, prefetch=prefetch, batch_transform=augment)


def _batches(loader, count=None):
    it = iter(loader)
    out = []
    for batch in it:
        out.append((batch[0].numpy().copy(), batch[1].numpy().tolist()))
        if count is not None and len(out) == count:
            break
    return out


def _same(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert ya == yb
        np.testing.assert_array_equal(xa, xb)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_augmented_batches_repeat_and_resume_mid_epoch_exactly(prefetch):
    """The loader seeds the batch transform per (seed, epoch, batch): a resumed epoch augments as before."""
    ref_loader = _augmenting_loader(seed=4)
    reference = _batches(ref_loader) + _batches(ref_loader)          # two epochs
    _same(_batches(_augmenting_loader(seed=4, prefetch=prefetch)), reference[:7])

    loader = _augmenting_loader(seed=4)
    first = _batches(loader)
    seen = _batches(loader, count=3)                                  # interrupted after 3 batches of epoch 1
    state = json.loads(json.dumps(loader.state_dict()))
    cnnlab.manual_seed(77)                                            # a fresh process: other global state
    resumed = _augmenting_loader(seed=999, prefetch=prefetch)
    resumed.load_state_dict(state)
    _same(first + seen + _batches(resumed), reference)
    other_seed = _batches(_augmenting_loader(seed=5))
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(other_seed, reference))


def test_a_transform_with_its_own_generator_keeps_it():
    own = np.random.default_rng(0)
    loader = _augmenting_loader(seed=4, generator=own)
    flip, crop = loader.batch_transform.transforms
    assert flip.generator is own and crop.generator is None
    assert _augmenting_loader(seed=4).batch_transform.transforms[1].generator is not None
