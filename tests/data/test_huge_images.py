"""A huge image in an ImageFolder, or given to `cnnlab filter`, is one line naming the file; no
Pillow warning or traceback reaches the terminal."""

import struct
import warnings
import zlib

import numpy as np
import pytest

from cnnlab.data import ImageFolder

Image = pytest.importorskip("PIL.Image")


def _png_claiming(width, height):
    """A PNG whose header claims ``width`` x ``height`` grey pixels (and holds almost nothing)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


# 20000x20000 is over twice Pillow's MAX_IMAGE_PIXELS (an error in Image.open); 10000x10000 is
# between once and twice (a warning in Pillow, refused here all the same).
SIDES = [20000, 10000]


def _folder(tmp_path, side):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / cls / "small.png")
    huge = tmp_path / "b" / "huge.png"
    huge.write_bytes(_png_claiming(side, side))
    return huge


@pytest.mark.parametrize("side", SIDES)
def test_an_image_folder_with_a_huge_png_names_the_file(tmp_path, side):
    huge = _folder(tmp_path, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Pillow warning would be a second line on stderr
        with pytest.raises(ValueError) as info:
            ImageFolder(tmp_path)
    message = str(info.value)
    assert message.startswith(f"ImageFolder: image {str(huge)!r} is too large to decode safely (")
    assert "\n" not in message


@pytest.mark.parametrize("side", SIDES)
def test_read_image_and_cnnlab_filter_name_a_huge_png(tmp_path, side, capsys):
    from cnnlab.cli import main
    from cnnlab.inspect.images import read_image

    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_claiming(side, side))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^filter: image '.*huge\.png' is too large to decode "
                                             r"safely \("):
            read_image(huge, fn="filter")
    assert main(["filter", str(huge), "--kernel", "sobel-x", "--out",
                 str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"cnnlab filter: error: filter: image {str(huge)!r} is too large")


def test_a_folder_that_cannot_fit_in_memory_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import cnnlab.resources as resources

    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / cls / f"{i}.png")
    monkeypatch.setattr(resources, "available_memory", lambda: 10_000)  # bytes
    assert len(ImageFolder(tmp_path)) == 6  # 2 x 6 x 64 bytes fit
    with pytest.raises(ValueError, match=r"^ImageFolder: holding 6 images of 100x100x1 \(as "
                                         r"'.*0\.png'\) needs 117\.2 KiB, but 9\.8 KiB of memory "
                                         r"is available; pass a smaller size=\(H, W\), or use "
                                         r"fewer images$"):
        ImageFolder(tmp_path, size=100)
