"""Images of every mode read by their real range; bombs, bad files and symlink loops refused."""

import os
import struct
import zlib

import numpy as np
import pytest

from cnnlab.data import ImageFolder
from cnnlab.data.image_folder import read_image_array

Image = pytest.importorskip("PIL.Image")

PICTURE = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 5 + 3).astype(np.uint8)  # 3..238


def _save(tmp_path, name, image):
    path = tmp_path / name
    image.save(path)
    return path


def test_16_bit_image_reads_as_its_8_bit_twin(tmp_path):
    eight = _save(tmp_path, "8.png", Image.fromarray(PICTURE, mode="L"))
    sixteen = _save(tmp_path, "16.png", Image.fromarray(PICTURE.astype(np.uint16) * 257))
    assert Image.open(sixteen).mode.startswith("I")
    expected = PICTURE[:, :, None] / 255.0  # the hand-computed [0, 1] values
    np.testing.assert_allclose(read_image_array(eight, 1), expected, atol=1e-7)
    np.testing.assert_allclose(read_image_array(sixteen, 1), expected, atol=1e-7)
    rgb = read_image_array(sixteen, 3)
    assert rgb.shape == (6, 8, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])


@pytest.mark.parametrize("scale", [1 / 255.0, 1.0])
def test_float_images_in_0_1_or_0_255_read_as_their_8_bit_twin(tmp_path, scale):
    values = PICTURE.astype(np.float32) * np.float32(scale)
    path = _save(tmp_path, "f.tiff", Image.fromarray(values, mode="F"))
    np.testing.assert_allclose(read_image_array(path, 1), PICTURE[:, :, None] / 255.0, atol=1e-6)


def test_float_image_of_another_range_is_scaled_by_its_min_and_max(tmp_path):
    values = np.linspace(-40.0, 1000.0, 48, dtype=np.float32).reshape(6, 8)
    path = _save(tmp_path, "f.tiff", Image.fromarray(values, mode="F"))
    got = read_image_array(path, 1)[..., 0]
    expected = (values - values.min()) / (values.max() - values.min())
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.min() == 0.0 and got.max() == 1.0  # nothing clipped


def test_resizing_a_16_bit_image_keeps_its_range(tmp_path):
    sixteen = _save(tmp_path, "16.png", Image.fromarray(PICTURE.astype(np.uint16) * 257))
    eight = _save(tmp_path, "8.png", Image.fromarray(PICTURE, mode="L"))
    np.testing.assert_allclose(read_image_array(sixteen, 1, (3, 4)),
                               read_image_array(eight, 1, (3, 4)), atol=1.5 / 255)


@pytest.mark.parametrize("mode", ["P", "RGBA", "CMYK", "LA", "1"])
def test_palette_rgba_cmyk_convert_as_pillow_does(tmp_path, mode):
    rgb = np.stack([PICTURE, PICTURE[::-1], 255 - PICTURE], axis=2)
    image = Image.fromarray(rgb, mode="RGB").convert(mode)
    path = _save(tmp_path, "x.tiff" if mode == "CMYK" else "x.png", image)
    for channels, target in ((3, "RGB"), (1, "L")):
        with Image.open(path) as im:
            expected = np.asarray(im.convert(target), np.float32) / 255.0
        got = read_image_array(path, channels)
        np.testing.assert_array_equal(got, expected if expected.ndim == 3 else expected[:, :, None])


def _png_claiming(width, height):
    """A PNG whose header claims ``width`` x ``height`` pixels (and holds almost nothing)."""
    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_decompression_bomb_is_one_line_naming_the_file(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(40000, 40000))
    message = r"^predict: image '.*bomb\.png' is too large to decode safely \("
    with pytest.raises(ValueError, match=message) as e:
        read_image_array(bomb, 1, fn="predict")
    assert "\n" not in str(e.value)


def test_image_just_over_the_pixel_limit_is_refused_too(tmp_path, monkeypatch):
    path = _save(tmp_path, "8.png", Image.fromarray(PICTURE, mode="L"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 48 pixels: Pillow warns, we refuse
    with pytest.raises(ValueError, match="too large to decode safely"):
        read_image_array(path, 1)


def test_unreadable_image_and_directory_name_the_path(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match=r"^predict: cannot read '.*bad\.png' as an image \("):
        read_image_array(bad, 1, fn="predict")
    with pytest.raises(ValueError, match=r"^predict: '.*' is a directory, not an image file$"):
        read_image_array(tmp_path, 1, fn="predict")


def test_predict_gives_the_same_answer_for_8_and_16_bit_images(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from cnnlab.cli import main
    from cnnlab.data import get_dataset

    assert main(["train", "--dataset", "digits", "--epochs", "1", "--no-progress", "--schedule",
                 "none", "--out", str(tmp_path / "run")]) == 0
    digit = get_dataset("digits", train=False).data[0].squeeze()  # (8, 8) uint8
    eight = _save(tmp_path, "d8.png", Image.fromarray(digit, mode="L"))
    sixteen = _save(tmp_path, "d16.png", Image.fromarray(digit.astype(np.uint16) * 257))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run" / "last.npz"), str(eight), str(sixteen)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(": ", 1)[1] == lines[1].split(": ", 1)[1]


def test_image_folder_reads_16_bit_images_by_their_range(tmp_path):
    (tmp_path / "a").mkdir()
    Image.fromarray(PICTURE.astype(np.uint16) * 257).save(tmp_path / "a" / "x.png")
    ds = ImageFolder(tmp_path)
    np.testing.assert_array_equal(ds.data[0, :, :, 0], PICTURE)


def test_image_folder_does_not_follow_symlink_loops(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls / "sub").mkdir(parents=True)
        Image.fromarray(PICTURE, mode="L").save(tmp_path / cls / "sub" / "x.png")
    os.symlink(tmp_path / "a", tmp_path / "a" / "sub" / "loop")   # a loop inside class a
    os.symlink(tmp_path / "a", tmp_path / "b" / "other")          # class b links into class a
    ds = ImageFolder(tmp_path)
    assert [(os.path.relpath(p, tmp_path), label) for p, label in ds.samples] == [
        (os.path.join("a", "sub", "x.png"), 0), (os.path.join("b", "sub", "x.png"), 1)]
