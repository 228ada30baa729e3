"""torchvision's transforms, by name and argument, on Pillow images and on Tensors.

A Pillow image goes through Pillow's own operations (as torchvision's PIL path does: ``resize``,
``crop``, ``ImageEnhance``, ``rotate``); a Tensor (C, H, W) or batch (N, C, H, W) goes through
``cnnlab.data.transforms``, which holds the array maths. Random parameters are drawn from
``cnnlab.backend.get_rng()`` (``cnnlab.manual_seed``; each DataLoader worker is seeded apart).

Example (the CIFAR-10 tutorial's pipeline):
    >>> from cnnlab.vision import transforms
    >>> t = transforms.Compose([transforms.RandomCrop(32, padding=4),
    ...                         transforms.RandomHorizontalFlip(), transforms.ToTensor(),
    ...                         transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
"""

import numbers

import numpy as np

from .. import backend
from ..data import transforms as T
from ..data.transforms._base import check_probability, size_pair, value_range
from ..data.transforms.geometric import _padding_ltrb, pad_batch, resized_size
from ..tensor import Tensor

Compose = T.Compose
Lambda = T.Lambda
ToTensor = T.ToTensor
Normalize = T.Normalize

__all__ = ["Compose", "Lambda", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Resize",
           "CenterCrop", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "ColorJitter",
           "RandomRotation", "Grayscale", "RandomGrayscale", "Pad", "InterpolationMode"]


class InterpolationMode:
    """torchvision's interpolation names. Pillow images take all; Tensors bilinear and nearest."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_FILTERS = {"nearest": "NEAREST", "nearest-exact": "NEAREST", "bilinear": "BILINEAR",
                "bicubic": "BICUBIC", "box": "BOX", "hamming": "HAMMING", "lanczos": "LANCZOS"}


def _mode(name, interpolation):
    value = getattr(interpolation, "value", interpolation)
    value = value.lower() if isinstance(value, str) else value
    if value not in _PIL_FILTERS:
        raise ValueError(f"{name}: `interpolation` must be one of {', '.join(_PIL_FILTERS)} (or an "
                         f"InterpolationMode). Received: interpolation={interpolation!r}")
    return value


def _is_pil(img):
    return type(img).__module__.startswith("PIL.")


def _pil_filter(mode):
    from PIL import Image
    return getattr(Image.Resampling, _PIL_FILTERS[mode])


def _rng():
    return backend.get_rng()


def _pil_pad(img, ltrb, fill=0, padding_mode="constant"):
    """Pad a Pillow image by (left, top, right, bottom) in one of torchvision's padding modes."""
    from PIL import Image

    left, top, right, bottom = ltrb
    if not any(ltrb):
        return img
    if padding_mode == "constant":
        w, h = img.size
        out = Image.new(img.mode, (w + left + right, h + top + bottom), _pil_fill(img, fill))
        if img.mode == "P":
            out.putpalette(img.getpalette())
        out.paste(img, (left, top))
        return out
    a = np.asarray(img)
    widths = ((top, bottom), (left, right)) + ((0, 0),) * (a.ndim - 2)
    return Image.fromarray(np.pad(a, widths, mode=padding_mode), mode=img.mode)


def _pil_fill(img, fill):
    """``fill`` as Pillow wants it for ``img``'s mode: a number, or a tuple per band."""
    bands = len(img.getbands())
    if isinstance(fill, (list, tuple)):
        values = tuple(int(v) if img.mode != "F" else float(v) for v in fill)
        return values[0] if bands == 1 else (values * bands if len(values) == 1 else values)
    value = int(fill) if img.mode != "F" else float(fill)
    return value if bands == 1 else (value,) * bands


class _Dual:
    """Pillow images take ``_pil``; Tensors and arrays the cnnlab transform ``self._tensor``."""

    _tensor = None

    def __call__(self, img):
        if _is_pil(img):
            return self._pil(img)
        if self._tensor is None:
            raise TypeError(f"{type(self).__name__}: expected a Pillow image. "
                            f"Received {type(img).__name__}")
        return self._tensor(img)

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self):
        return ""


class Resize(_Dual):
    """Resize to ``size``: an int sets the shorter side (the longer keeps the aspect, rounded down).

    Args:
        size: an int or (h, w).
        interpolation: an ``InterpolationMode``. Default: bilinear.
        max_size: with an int ``size``, the longer side's cap.
        antialias: Pillow always antialiases; on Tensors, widen the filter when shrinking.
            Default: True.
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        self.size = size
        self.interpolation = _mode("Resize", interpolation)
        self.max_size = max_size
        if self.interpolation in ("bilinear", "nearest"):
            self._tensor = T.Resize(size, self.interpolation, max_size, antialias)
        else:
            resized_size("Resize", size, 1, 1, max_size)

    def _pil(self, img):
        w, h = img.size
        oh, ow = resized_size("Resize", self.size, h, w, self.max_size)
        if (oh, ow) == (h, w):
            return img
        return img.resize((ow, oh), _pil_filter(self.interpolation))

    def extra_repr(self):
        return f"size={self.size}, interpolation={self.interpolation}, max_size={self.max_size}"


def _center_crop_pil(img, size):
    th, tw = size
    w, h = img.size
    if th > h or tw > w:  # zero-pad to at least the crop (torchvision's split of the odd pixel)
        dw, dh = max(tw - w, 0), max(th - h, 0)
        img = _pil_pad(img, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2))
        w, h = img.size
    top = int(round((h - th) / 2.0))
    left = int(round((w - tw) / 2.0))
    return img.crop((left, top, left + tw, top + th))


class CenterCrop(_Dual):
    """The central ``size`` window; corner at ``round((H - h) / 2)``; small images zero-padded."""

    def __init__(self, size):
        self.size = size_pair("CenterCrop", size)
        self._tensor = T.CenterCrop(size)

    def _pil(self, img):
        return _center_crop_pil(img, self.size)

    def extra_repr(self):
        return f"size={self.size}"


class Pad(_Dual):
    """Pad by ``padding`` (int, (left/right, top/bottom) or (left, top, right, bottom))."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = _padding_ltrb("Pad", padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"Pad: `padding_mode` must be 'constant', 'edge', 'reflect' or "
                             f"'symmetric'. Received: padding_mode={padding_mode!r}")
        self.fill = fill
        self.padding_mode = padding_mode

    def _pil(self, img):
        return _pil_pad(img, self.padding, self.fill, self.padding_mode)

    def _tensor(self, img):
        x = img._data if isinstance(img, Tensor) else img
        batch = x[None] if x.ndim == 3 else x                          # (C, H, W) -> (1, C, H, W)
        out = pad_batch("Pad", batch, self.padding, self.fill, self.padding_mode)
        out = out[0] if x.ndim == 3 else out
        return Tensor(out) if isinstance(img, Tensor) else out

    def extra_repr(self):
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


class RandomCrop(_Dual):
    """A random ``size`` window after ``padding`` (the CIFAR recipe: ``RandomCrop(32, padding=4)``).

    Args:
        size: an int or (h, w).
        padding: added on every side first (int, pair, or four values).
        pad_if_needed: pad images smaller than ``size``.
        fill, padding_mode: as for ``Pad``.
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = size_pair("RandomCrop", size)
        self.padding = None if padding is None else _padding_ltrb("RandomCrop", padding)
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self._tensor = T.RandomCrop(size, padding, pad_if_needed, fill, padding_mode)

    def _pil(self, img):
        if self.padding is not None:
            img = _pil_pad(img, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        w, h = img.size
        if self.pad_if_needed and w < tw:
            img = _pil_pad(img, (tw - w, 0, tw - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = _pil_pad(img, (0, th - h, 0, th - h), self.fill, self.padding_mode)
        w, h = img.size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: the crop size {self.size} is larger than the (padded) "
                             f"image, {h}x{w} (HxW); pass pad_if_needed=True or a larger padding")
        top = int(_rng().integers(0, h - th + 1))
        left = int(_rng().integers(0, w - tw + 1))
        return img.crop((left, top, left + tw, top + th))

    def extra_repr(self):
        return f"size={self.size}, padding={self.padding}"


class RandomResizedCrop(_Dual):
    """A random area (``scale``) and aspect ratio (``ratio``) of the image, resized to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size = size_pair("RandomResizedCrop", size)
        self.scale = value_range("RandomResizedCrop", "scale", scale)
        self.ratio = value_range("RandomResizedCrop", "ratio", ratio, bound=(1e-12, float("inf")))
        self.interpolation = _mode("RandomResizedCrop", interpolation)
        if self.interpolation in ("bilinear", "nearest"):
            self._tensor = T.RandomResizedCrop(size, scale, ratio, self.interpolation, antialias)

    def _pil(self, img):
        w, h = img.size
        params = T.RandomResizedCrop.get_params(_rng(), 1, h, w, self.scale, self.ratio)
        top, left, ch, cw = (int(v[0]) for v in params)
        crop = img.crop((left, top, left + cw, top + ch))
        return crop.resize((self.size[1], self.size[0]), _pil_filter(self.interpolation))

    def extra_repr(self):
        return (f"size={self.size}, scale={self.scale}, ratio={self.ratio}, "
                f"interpolation={self.interpolation}")


class RandomHorizontalFlip(_Dual):
    """Mirror left-right with probability ``p``."""

    _transpose = "FLIP_LEFT_RIGHT"

    def __init__(self, p=0.5):
        self.p = check_probability(type(self).__name__, p)
        self._tensor = getattr(T, type(self).__name__)(p)

    def _pil(self, img):
        from PIL import Image

        if _rng().random() < self.p:
            return img.transpose(getattr(Image.Transpose, self._transpose))
        return img

    def extra_repr(self):
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    _transpose = "FLIP_TOP_BOTTOM"


def _adjust_hue_pil(img, factor):
    """torchvision's PIL hue shift: rotate the H band of HSV by ``factor`` turns (8-bit wrap)."""
    from PIL import Image

    if img.mode in ("L", "1", "I", "F"):
        return img
    h, s, v = img.convert("HSV").split()
    shift = np.uint8(int(np.trunc(factor * 255)) % 256)
    hue = np.array(h, dtype=np.uint8)
    hue += shift  # uint8 arithmetic wraps around, as a hue does
    return Image.merge("HSV", (Image.fromarray(hue, "L"), s, v)).convert(img.mode)


class ColorJitter(_Dual):
    """Random brightness, contrast, saturation and hue, in a random order (torchvision's rules).

    Args:
        brightness, contrast, saturation: b for a factor in [max(0, 1 - b), 1 + b], or (min, max).
        hue: h in [0, 0.5] for a shift in [-h, h] turns, or (min, max) within [-0.5, 0.5].
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        name = "ColorJitter"
        self.brightness = value_range(name, "brightness", brightness)
        self.contrast = value_range(name, "contrast", contrast)
        self.saturation = value_range(name, "saturation", saturation)
        self.hue = value_range(name, "hue", hue, center=0.0, bound=(-0.5, 0.5), clip_first=False)
        self._tensor = T.ColorJitter(brightness, contrast, saturation, hue)

    def _pil(self, img):
        from PIL import ImageEnhance

        rng = _rng()
        order = rng.permutation(4)
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        identity = ((1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0))
        factors = [None if r == i else rng.uniform(r[0], r[1]) for r, i in zip(ranges, identity)]
        enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)
        for k in order:
            if factors[k] is None:
                continue
            if k == 3:
                img = _adjust_hue_pil(img, factors[k])
            else:
                img = enhancers[k](img).enhance(factors[k])
        return img

    def extra_repr(self):
        return (f"brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue}")


class RandomRotation(_Dual):
    """Rotate by an angle drawn from ``degrees``, counter-clockwise for positive angles.

    Args:
        degrees: d for (-d, d), or (min, max).
        interpolation: Default: nearest (torchvision's default).
        expand: grow the output to hold the whole rotated image (Pillow images only).
        center: pivot (x, y); default the image centre.
        fill: value of the area outside the rotated image.
    """

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
                 fill=0):
        if isinstance(degrees, numbers.Real):
            if degrees < 0:
                raise ValueError(f"RandomRotation: `degrees` must be non-negative when it is a "
                                 f"single number. Received: degrees={degrees!r}")
            degrees = (-degrees, degrees)
        self.degrees = value_range("RandomRotation", "degrees", degrees, center=0.0,
                                   bound=(-float("inf"), float("inf")), clip_first=False)
        self.interpolation = _mode("RandomRotation", interpolation)
        self.expand = bool(expand)
        self.center = center
        self.fill = fill
        if not expand and self.interpolation in ("bilinear", "nearest"):
            self._tensor = T.RandomRotation(self.degrees, self.interpolation, False, center, fill)

    def _pil(self, img):
        angle = float(_rng().uniform(self.degrees[0], self.degrees[1]))
        return img.rotate(angle, _pil_filter(self.interpolation), self.expand, self.center,
                          fillcolor=_pil_fill(img, self.fill))

    def extra_repr(self):
        return f"degrees={self.degrees}, interpolation={self.interpolation}, expand={self.expand}"


class Grayscale(_Dual):
    """Luma ``0.299 R + 0.587 G + 0.114 B`` in 1 channel, or repeated in 3."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: `num_output_channels` must be 1 or 3. "
                             f"Received: num_output_channels={num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def _pil(self, img):
        from PIL import Image

        gray = img.convert("L")
        if self.num_output_channels == 1:
            return gray
        return Image.merge("RGB", (gray, gray, gray))

    def _tensor(self, img):
        x = img._data if isinstance(img, Tensor) else img
        batch = x[None] if x.ndim == 3 else x                        # (C, H, W) -> (1, C, H, W)
        gray = T.grayscale(batch)
        if self.num_output_channels == 3:
            gray = np.repeat(gray, 3, axis=1)
        out = gray[0] if x.ndim == 3 else gray
        return Tensor(out) if isinstance(img, Tensor) else out

    def extra_repr(self):
        return f"num_output_channels={self.num_output_channels}"


class RandomGrayscale(Grayscale):
    """``Grayscale`` with probability ``p``, keeping the number of channels."""

    def __init__(self, p=0.1):
        self.p = check_probability("RandomGrayscale", p)

    def __call__(self, img):
        if _rng().random() >= self.p:
            return img
        channels = len(img.getbands()) if _is_pil(img) else (img.shape[-3])
        self.num_output_channels = 3 if channels == 3 else 1
        return super().__call__(img)

    def extra_repr(self):
        return f"p={self.p}"


class PILToTensor:
    """A Pillow image as a uint8 Tensor (C, H, W), values unscaled."""

    def __call__(self, pic):
        if not _is_pil(pic):
            raise TypeError(f"PILToTensor: expected a Pillow image. Received {type(pic).__name__}")
        a = np.asarray(pic)
        a = a[:, :, None] if a.ndim == 2 else a
        return Tensor(np.ascontiguousarray(a.transpose(2, 0, 1)))    # (H, W, C) -> (C, H, W)

    def __repr__(self):
        return "PILToTensor()"


class ToPILImage:
    """A Tensor or array (C, H, W), floats in [0, 1] or uint8, as a Pillow image (L, RGB, RGBA)."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        from PIL import Image

        a = backend.asnumpy(pic._data if isinstance(pic, Tensor) else np.asarray(pic))
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[0] not in (1, 2, 3, 4):
            raise ValueError(f"ToPILImage: expected an image (C, H, W) with 1 to 4 channels. "
                             f"Received shape {a.shape}")
        if a.dtype.kind == "f":
            a = (a * 255).astype(np.uint8)  # torchvision truncates (pic.mul(255).byte())
        a = a.transpose(1, 2, 0)                                     # (C, H, W) -> (H, W, C)
        modes = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
        mode = self.mode or modes[a.shape[2]]
        return Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a, mode=mode)

    def __repr__(self):
        return f"ToPILImage(mode={self.mode})"
