import sys

import numpy as np
import pytest

from cnnlab.data import DataLoader, ImageFolder

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def folder(tmp_path):
    """root/{cat,dog}/*.png: grayscale 6x5 images, plus a text file that is not an image."""
    rng = np.random.default_rng(0)
    arrays = {}
    for cls, names in (("dog", ["b.png", "a.png"]), ("cat", ["x.png"])):
        (tmp_path / cls).mkdir()
        for name in names:
            arr = rng.integers(0, 256, (6, 5), dtype=np.uint8)
            Image.fromarray(arr, mode="L").save(tmp_path / cls / name)
            arrays[(cls, name)] = arr
    (tmp_path / "dog" / "notes.txt").write_text("not an image, and not named like one")
    return tmp_path, arrays


def test_classes_sorted_and_pixels_exact(folder):
    root, arrays = folder
    ds = ImageFolder(root)
    assert ds.classes == ["cat", "dog"] and len(ds) == 3
    assert [s[1] for s in ds.samples] == [0, 1, 1]
    assert ds.samples[1][0].endswith("a.png")
    x, y = ds[1]
    assert x.shape == (1, 6, 5) and y == 1
    np.testing.assert_allclose(x.numpy()[0], arrays[("dog", "a.png")] / 255.0, rtol=1e-6)
    images, labels = next(iter(DataLoader(ds, batch_size=3)))
    assert images.shape == (3, 1, 6, 5) and labels.numpy().tolist() == [0, 1, 1]


def test_channels_and_size(folder):
    root, arrays = folder
    ds = ImageFolder(root, channels=3)
    assert ds.data.shape == (3, 6, 5, 3)
    np.testing.assert_array_equal(ds.data[0, :, :, 2], arrays[("cat", "x.png")])
    Image.fromarray(np.zeros((6, 5, 3), np.uint8), mode="RGB").save(root / "cat" / "rgb.png")
    assert ImageFolder(root).image_shape == (3, 6, 5)   # a colour image makes the folder RGB
    resized = ImageFolder(root, size=4)
    assert resized.data.shape[1:3] == (4, 4)
    expected = np.asarray(Image.fromarray(arrays[("dog", "a.png")]).convert("RGB").resize((4, 4), Image.BILINEAR))
    np.testing.assert_array_equal(resized.data[2], expected)


def test_file_that_is_not_an_image_is_named(folder):
    root, _ = folder
    (root / "cat" / "broken.png").write_bytes(b"this is text, not PNG data")
    with pytest.raises(ValueError, match=r"ImageFolder: file .*broken.png' is not an image Pillow can read"):
        ImageFolder(root)


def test_size_mismatch_and_empty_folders(folder, tmp_path_factory):
    root, _ = folder
    Image.fromarray(np.zeros((7, 5), np.uint8)).save(root / "cat" / "tall.png")
    with pytest.raises(ValueError, match=r"image .*x.png' is 6x5 \(HxW\) but .*tall.png' is 7x5; pass size=\(H, W\)"):
        ImageFolder(root)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(FileNotFoundError, match=r"ImageFolder: no class folders in"):
        ImageFolder(empty)
    (empty / "a").mkdir()
    with pytest.raises(FileNotFoundError, match=r"class folder .*a' holds no image files"):
        ImageFolder(empty)
    with pytest.raises(FileNotFoundError, match=r"is not a directory"):
        ImageFolder(empty / "missing")
    with pytest.raises(ValueError, match=r"`channels` must be 1, 3 or None. Received: channels=2"):
        ImageFolder(root, channels=2)
    with pytest.raises(ValueError, match=r"`size` must be a positive int or \(H, W\). Received: size=\(0, 3\)"):
        ImageFolder(root, size=(0, 3))


def test_missing_pillow_message(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"ImageFolder needs Pillow to read images: pip install Pillow$"):
        ImageFolder(folder[0])
