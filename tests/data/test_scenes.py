"""mnist-scenes: determinism, masks against boxes, captions against the masks, overlap, disjoint sources."""

import numpy as np
import pytest

from cnnlab.data import DataLoader, get_dataset
from cnnlab.data.scenes import END, MAX_OVERLAP, PAD, MNISTScenes
from data_helpers import idx_bytes


@pytest.fixture(scope="module")
def scenes():
    import os

    root = os.environ.get("CNNLAB_DATA")
    if not root or not os.path.isdir(os.path.join(root, "mnist")):
        pytest.skip("CNNLAB_DATA does not hold the MNIST files")
    return MNISTScenes(root=root, train=False, download=False, num_scenes=300, seed=3)


def _fake_mnist(directory, labels, seed):
    """MNIST files whose digits are filled rectangles of random size, with the given labels."""
    import gzip

    rng = np.random.default_rng(seed)
    n = len(labels)
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        h, w = rng.integers(8, 20, size=2)
        images[i, 4:4 + h, 6:6 + w] = 255
    for prefix in ("train", "t10k"):
        for name, arr in ((f"{prefix}-images-idx3-ubyte", images),
                          (f"{prefix}-labels-idx1-ubyte", np.asarray(labels, np.uint8))):
            (directory / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(arr)))


def test_same_seed_same_scenes_other_seed_others(scenes):
    again = MNISTScenes(root=scenes.root, train=False, download=False, num_scenes=300, seed=3)
    for name in ("data", "masks", "boxes", "box_labels", "sources"):
        np.testing.assert_array_equal(getattr(again, name), getattr(scenes, name), err_msg=name)
    assert again.captions == scenes.captions
    other = MNISTScenes(root=scenes.root, train=False, download=False, num_scenes=300, seed=4)
    assert not np.array_equal(other.data, scenes.data)


def test_every_scene_holds_one_to_four_digits_of_every_count(scenes):
    counts = (scenes.box_labels >= 0).sum(axis=1)
    assert counts.min() >= 1 and counts.max() <= 4
    assert set(counts.tolist()) == {1, 2, 3, 4}
    np.testing.assert_array_equal(scenes.targets, counts)
    assert scenes.data.shape == scenes.masks.shape == (300, 64, 64)
    assert scenes.data.dtype == np.uint8 and scenes.masks.max() <= 10


def test_masks_agree_with_boxes(scenes):
    for i in range(len(scenes)):
        mask, boxes, labels = scenes.masks[i], scenes.boxes[i], scenes.box_labels[i]
        covered = np.zeros((11, 64, 64), bool)
        for (x0, y0, x1, y1), c in zip(boxes, labels):
            if c < 0:
                continue
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
            covered[c + 1, y0:y1, x0:x1] = True
            # the digit is visible in its box, and its ink reaches every edge of the box
            mine = mask[y0:y1, x0:x1] == c + 1
            assert mine.any(), f"scene {i}: box {(x0, y0, x1, y1)} holds no pixel of class {c + 1}"
        for c in range(1, 11):
            outside = (mask == c) & ~covered[c]
            assert not outside.any(), f"scene {i}: class {c} pixels outside every box of digit {c - 1}"


def test_boxes_are_tight_around_the_ink(scenes):
    """A box's border rows and columns hold ink of the scene (its own digit's, unless covered)."""
    image = scenes.data.astype(np.float64) / 255
    for i in range(len(scenes)):
        for (x0, y0, x1, y1), c in zip(scenes.boxes[i], scenes.box_labels[i]):
            if c < 0:
                continue
            ink = image[i, y0:y1, x0:x1] > 0.5
            assert ink[0].any() and ink[-1].any() and ink[:, 0].any() and ink[:, -1].any()


def test_digits_do_not_overlap_much(scenes):
    worst = 0.0
    for boxes, labels in zip(scenes.boxes, scenes.box_labels):
        b = boxes[labels >= 0].astype(np.float64)
        for j in range(len(b)):
            for k in range(j):
                iw = min(b[j, 2], b[k, 2]) - max(b[j, 0], b[k, 0])
                ih = min(b[j, 3], b[k, 3]) - max(b[j, 1], b[k, 1])
                inter = max(iw, 0) * max(ih, 0)
                smaller = min((b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]), (b[k, 2] - b[k, 0]) * (b[k, 3] - b[k, 1]))
                worst = max(worst, inter / smaller)
    assert worst <= MAX_OVERLAP


def test_captions_read_the_mask_left_to_right(scenes):
    """The caption's digits, in order, are the mask's digit regions sorted by their horizontal centre
    (the middle of the columns each region spans)."""
    cols = np.arange(64)[None, :].repeat(64, axis=0)
    for i in range(len(scenes)):
        regions = []
        for (x0, y0, x1, y1), c in zip(scenes.boxes[i], scenes.box_labels[i]):
            if c >= 0:
                mine = scenes.masks[i, y0:y1, x0:x1] == c + 1
                span = cols[y0:y1, x0:x1][mine]
                regions.append(((span.min() + span.max() + 1) / 2, int(c)))
        xs = sorted(regions)
        # digits whose centres are within a pixel may be read in either order
        if all(b[0] - a[0] > 1 for a, b in zip(xs, xs[1:])):
            assert scenes.captions[i] == " ".join(str(c) for _, c in xs), i


def test_no_digit_is_used_twice_and_sources_come_from_the_split(scenes):
    used = scenes.sources[scenes.sources >= 0]
    assert used.size == np.unique(used).size
    assert used.max() < 10_000          # indices into MNIST's 10,000 test digits
    from cnnlab.data import MNIST

    digits = MNIST(root=scenes.root, train=False, download=False)
    np.testing.assert_array_equal(digits.targets[np.maximum(scenes.sources, 0)][scenes.sources >= 0],
                                  scenes.box_labels[scenes.sources >= 0])


def test_train_scenes_use_train_digits_and_test_scenes_test_digits(tmp_path):
    """Train files hold only digits 0-4, test files only 5-9: the masks show which files were read."""
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    for d in (train_dir, test_dir):
        d.mkdir()
    _fake_mnist(train_dir, np.arange(200) % 5, seed=0)
    _fake_mnist(test_dir, 5 + np.arange(200) % 5, seed=1)
    # one folder: train-* from the first, t10k-* from the second
    mixed = tmp_path / "mixed" / "mnist"
    mixed.mkdir(parents=True)
    for f in train_dir.iterdir():
        if f.name.startswith("train"):
            (mixed / f.name).write_bytes(f.read_bytes())
    for f in test_dir.iterdir():
        if f.name.startswith("t10k"):
            (mixed / f.name).write_bytes(f.read_bytes())
    root = str(tmp_path / "mixed")
    train = MNISTScenes(root=root, train=True, download=False, num_scenes=40)
    test = MNISTScenes(root=root, train=False, download=False, num_scenes=40)
    assert set(np.unique(train.masks)) - {0} <= {1, 2, 3, 4, 5}
    assert set(np.unique(test.masks)) - {0} <= {6, 7, 8, 9, 10}
    assert set(train.box_labels[train.box_labels >= 0]) <= {0, 1, 2, 3, 4}
    assert set(test.box_labels[test.box_labels >= 0]) <= {5, 6, 7, 8, 9}


def test_targets_as_samples_and_batches(scenes):
    image, mask = scenes[5]
    assert image.shape == (1, 64, 64) and mask.shape == (64, 64) and mask.dtype == np.int64
    np.testing.assert_array_equal(mask, scenes.masks[5])
    x, y = next(iter(DataLoader(scenes, batch_size=8)))
    assert x.shape == (8, 1, 64, 64) and y.shape == (8, 64, 64)
    np.testing.assert_allclose(x.numpy()[0, 0], scenes.data[0] / 255, atol=1e-6)

    boxes = MNISTScenes(root=scenes.root, train=False, download=False, num_scenes=300, seed=3,
                        target="boxes")
    _, rows = boxes[5]
    assert rows.shape == (4, 5)
    np.testing.assert_array_equal(rows[:, :4], scenes.boxes[5])
    np.testing.assert_array_equal(rows[:, 4], scenes.box_labels[5])

    captions = MNISTScenes(root=scenes.root, train=False, download=False, num_scenes=300, seed=3,
                           target="caption")
    _, tokens = captions[5]
    words = [int(w) for w in scenes.captions[5].split()]
    assert tokens.tolist() == words + [END] + [PAD] * (4 - len(words))


def test_get_dataset_knows_mnist_scenes(scenes):
    ds = get_dataset("mnist-scenes", root=scenes.root, train=False, download=False, num_scenes=10)
    assert isinstance(ds, MNISTScenes) and len(ds) == 10 and ds.classes[0] == "background"


def test_bad_target_is_one_line(scenes):
    with pytest.raises(ValueError, match=r"MNISTScenes: `target` must be one of 'mask', 'boxes', "
                                         r"'caption'. Received: target='masks'"):
        MNISTScenes(root=scenes.root, train=False, download=False, target="masks")
