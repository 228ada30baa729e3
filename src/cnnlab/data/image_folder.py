"""``ImageFolder``: one sub-folder per class, images read with Pillow into one array in memory."""

import os
import warnings

import numpy as np

from ..resources import check_fits_in_memory, check_regular_file
from ..validation import is_int
from .dataset import ArrayDataset

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")

_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("ImageFolder needs Pillow to read images: pip install Pillow") from None
    return Image


_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _unit_range(a, mode, path, fn):
    """Pixels of a 16-bit, 32-bit or float image scaled to [0, 1] by their real range, not clipped.

    16-bit images divide by 65535 (so a 16-bit copy of an 8-bit picture reads the same); 32-bit
    integer images likewise when their values fit in 16 bits, else by their min..max; float images
    in [0, 1] are kept, in [0, 255] divided by 255, otherwise scaled by their min..max.
    """
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{fn}: image {path!r} holds non-finite pixel values (nan or inf)")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if mode.startswith("I;16") or (mode == "I" and lo >= 0 and hi <= 65535):
        return a / 65535.0
    if mode == "F" and lo >= 0 and hi <= 1:
        return a
    if mode == "F" and lo >= 0 and hi <= 255:
        return a / 255.0
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def read_image_array(path, channels, size=None, fn="read_image"):
    """Read an image file of any mode as float32 (H, W, C) in [0, 1], with ``channels`` 1 or 3.

    8-bit, palette, RGBA and CMYK images convert through Pillow (grey ``L`` or ``RGB``); 16-bit,
    32-bit and float images are scaled by their real range (see ``_unit_range``) instead of being
    clipped to 8 bits. ``size`` ``(H, W)`` resizes bilinearly. A file Pillow cannot read, or a
    decompression bomb (more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``), is a ValueError naming
    the file.
    """
    Image = _pillow()
    path = os.fspath(path)
    check_regular_file(path, fn)  # a FIFO would block the open, a device never end
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                if img.mode in _HIGH_BIT_MODES:
                    a = _unit_range(np.asarray(img), img.mode, path, fn).astype(np.float32)
                    if size is not None and a.shape[:2] != tuple(size):
                        resized = Image.fromarray(a, mode="F").resize((size[1], size[0]),
                                                                      Image.BILINEAR)
                        a = np.asarray(resized)
                    a = np.repeat(a[:, :, None], 3 if channels == 3 else 1, axis=2)
                else:
                    img = img.convert("L" if channels == 1 else "RGB")
                    if size is not None and img.size != (size[1], size[0]):
                        img = img.resize((size[1], size[0]), Image.BILINEAR)
                    a = np.asarray(img, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise FileNotFoundError(f"{fn}: no such image file: {path!r}") from None
    except IsADirectoryError:
        raise ValueError(f"{fn}: {path!r} is a directory, not an image file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"{fn}: image {path!r} is too large to decode safely ({exc})") from None
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:  # Unidentified...: an OSError
        if str(exc).startswith(f"{fn}: "):
            raise
        raise ValueError(f"{fn}: cannot read {path!r} as an image ({exc})") from None
    return a[:, :, None] if a.ndim == 2 else a


class ImageFolder(ArrayDataset):
    """Images in ``root/<class name>/<file>``; class names sorted, label = position in that order.

    All images are decoded once with Pillow into ``data`` (N, H, W, C) uint8, so batches take the fast
    path. Files whose extension is not an image extension (see ``extensions``) and hidden files are
    skipped; a file with an image extension that Pillow cannot read is an error naming the file.

    Args:
        root: the folder holding one sub-folder per class.
        transform, target_transform: per-sample callables (image Tensor (C, H, W); int label).
        size: ``(H, W)`` or an int for square images: every image is resized (bilinear) to it. Without it
            all images must have the same size.
        channels: 1 (grayscale) or 3 (RGB). None: 1 when every image is grayscale, else 3.
        extensions: file name endings taken as images (case-insensitive).
        normalize: ``(mean, std)`` per channel, as for every :class:`ArrayDataset`.

    Shape:
        ``data`` (N, H, W, C) uint8; a sample is ((C, H, W) float32 in [0, 1], int).
    """

    def __init__(self, root, transform=None, target_transform=None, size=None, channels=None,
                 extensions=IMG_EXTENSIONS, normalize=None):
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"ImageFolder: `root` {root!r} is not a directory; expected a folder with "
                                    f"one sub-folder per class")
        if size is not None:
            if is_int(size):
                size = (int(size), int(size))
            if not (isinstance(size, (tuple, list)) and len(size) == 2 and
                    all(is_int(s) and s > 0 for s in size)):
                raise ValueError(f"ImageFolder: `size` must be a positive int or (H, W). Received: size={size!r}")
            size = (int(size[0]), int(size[1]))
        if channels not in (None, 1, 3):
            raise ValueError(f"ImageFolder: `channels` must be 1, 3 or None. Received: channels={channels!r}")
        Image = _pillow()
        classes, samples = _find_samples(root, tuple(e.lower() for e in extensions))
        images = [_read_sample(Image, path, channels, size) for path, _ in samples[:1]]
        if images:  # all decoded images are held, then stacked: twice the data at once
            check_fits_in_memory("ImageFolder", 2 * len(samples) * images[0].nbytes,
                                 f"holding {len(samples):,} images of "
                                 f"{'x'.join(map(str, images[0].shape))} (as {samples[0][0]!r})",
                                 "pass a smaller size=(H, W), or use fewer images")
        for path, _ in samples[1:]:
            arr = _read_sample(Image, path, channels, size)
            if arr.shape[:2] != images[0].shape[:2]:
                raise ValueError(f"ImageFolder: image {path!r} is {arr.shape[0]}x{arr.shape[1]} (HxW) but "
                                 f"{samples[0][0]!r} is {images[0].shape[0]}x{images[0].shape[1]}; pass "
                                 f"size=(H, W) to resize every image")
            images.append(arr)
        if channels is None and any(a.shape[2] == 3 for a in images):
            # Mixed folder: grayscale images repeat their one channel as R = G = B.
            images = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in images]
        self.root = root
        self.samples = samples
        self.imgs = samples
        super().__init__(np.stack(images), np.array([s[1] for s in samples], dtype=np.int64), classes,
                         transform, target_transform, normalize)

    def extra_repr(self):
        return f"Root location: {self.root}\nClasses: {len(self.classes)}"


def _find_samples(root, exts):
    """(sorted class names, [(path, label)]) of the image files under each class folder of ``root``."""
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"ImageFolder: no class folders in {root!r}; expected one sub-folder per class")
    samples = []
    # Linked folders are followed once: a link back up the tree (a loop) or into a folder
    # already read (another class) would repeat samples, with the wrong label.
    seen = {os.path.realpath(os.path.join(root, c)) for c in classes}
    for label, cls in enumerate(classes):
        folder = os.path.join(root, cls)
        files = []
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            kept = []
            for d in sorted(d for d in dirnames if not d.startswith(".")):
                real = os.path.realpath(os.path.join(dirpath, d))
                if real not in seen:
                    seen.add(real)
                    kept.append(d)
            dirnames[:] = kept
            files += [os.path.join(dirpath, f) for f in filenames
                      if not f.startswith(".") and f.lower().endswith(exts)]
        if not files:
            raise FileNotFoundError(f"ImageFolder: class folder {folder!r} holds no image files; "
                                    f"expected files ending in {', '.join(exts)}")
        samples += [(p, label) for p in sorted(files)]
    return classes, samples


def _read_sample(Image, path, channels, size):
    """One image file as (H, W, C) uint8: grayscale files keep one channel unless ``channels`` says 3."""
    check_regular_file(path, "ImageFolder")  # a FIFO would block the open
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                gray = img.mode in _GRAY_MODES
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"ImageFolder: image {path!r} is too large to decode safely "
                         f"({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        raise ValueError(f"ImageFolder: file {path!r} is not an image Pillow can read ({exc})") from None
    wanted = 1 if (channels == 1 or (channels is None and gray)) else 3
    unit = read_image_array(path, wanted, size, fn="ImageFolder")
    return np.round(unit * 255.0).astype(np.uint8)  # (H, W, C): the fast path's uint8 store
