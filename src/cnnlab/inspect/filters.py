"""Hand-made filters of image processing, applied with the network's own convolution.

Box and Gaussian blur, sharpen, Sobel and Prewitt edge detectors, the Laplacian and Gabor filters are
small kernels; ``apply_filter`` runs one over every channel of an image through ``F.conv2d`` (a
depthwise convolution, ``groups = channels``), so what you see is exactly what a convolution layer with
that kernel computes. ``make_kernel`` reads the short specifications of ``cnnlab filter --kernel``:
``sobel-x``, ``gaussian:2``, ``gabor:theta=45,wavelength=6`` or a literal matrix ``"1 0 -1; 2 0 -2; 1 0 -1"``.

Orientation convention: image rows grow downwards (y) and columns to the right (x). ``sobel-x``
differentiates along x, so it answers to *vertical* edges (positive where it gets brighter to the right).
"""

import inspect as pyinspect
import math

import numpy as np

from .. import backend, functional as F
from ..tensor import Tensor
from ..validation import is_real
from . import images


# The largest kernel side: a picture filter, not an allocation of terabytes (gaussian:1e6).
MAX_SIZE = 1001


def _positive(fn, name, value, integer=False):
    ok = is_real(value) and math.isfinite(value) and value > 0
    if integer:
        ok = ok and float(value) == int(value)
    if not ok:
        kind = "positive int" if integer else "positive number"
        raise ValueError(f"{fn}: `{name}` must be a {kind}. Received: {name}={value!r}")
    return int(value) if integer else float(value)


def _odd_size(fn, size, why=""):
    size = _positive(fn, "size", size, integer=True)
    if size % 2 == 0:
        raise ValueError(f"{fn}: `size` must be odd so the kernel has a centre pixel. Received: size={size}")
    if size > MAX_SIZE:
        raise ValueError(f"{fn}: the kernel side must be at most {MAX_SIZE} pixels. Received: "
                         f"size={size}{why}")
    return size


def _grid(size):
    """Integer offsets -r..r along y (rows, down) and x (columns, right) of a size x size kernel."""
    r = size // 2
    return np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)                 # (2, size, size): y, x


def identity_kernel(size=3):
    """The kernel that leaves an image unchanged: 1 at the centre."""
    size = _odd_size("identity_kernel", size)
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def box_kernel(size=3):
    """Box blur: the mean of the size x size neighbourhood (every weight 1/size^2)."""
    size = _odd_size("box_kernel", size)
    return np.full((size, size), 1.0 / size ** 2)


def gaussian_kernel(sigma=1.0, size=None):
    """Gaussian blur: weights exp(-(x^2 + y^2) / (2 sigma^2)), normalised to sum to 1.

    Args:
        sigma: standard deviation in pixels.
        size: odd side of the kernel; default 2*ceil(3*sigma) + 1 (covers 99.7% of the weight per axis).
    """
    sigma = _positive("gaussian_kernel", "sigma", sigma)
    if size is None:
        size = _odd_size("gaussian_kernel", 2 * math.ceil(3 * sigma) + 1, f" (from sigma={sigma:g})")
    size = _odd_size("gaussian_kernel", size)
    y, x = _grid(size)
    k = np.exp(-(x ** 2 + y ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def laplacian_kernel(diagonal=False):
    """The discrete Laplacian (sum of second derivatives): 4-neighbour, or 8-neighbour with ``diagonal``."""
    if diagonal:
        return np.array([[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]])
    return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sharpen_kernel(amount=1.0):
    """Sharpen: identity minus ``amount`` times the Laplacian (amount 1 gives [[0,-1,0],[-1,5,-1],[0,-1,0]])."""
    amount = _positive("sharpen_kernel", "amount", amount)
    return identity_kernel(3) - amount * laplacian_kernel()


def _direction(fn, direction):
    if direction not in ("x", "y"):
        raise ValueError(f"{fn}: `direction` must be 'x' (vertical edges, change along x) or 'y' (horizontal "
                         f"edges, change along y). Received: direction={direction!r}")
    return direction


def sobel_kernel(direction="x"):
    """Sobel edge detector: a derivative along ``direction`` ('x' or 'y') smoothed (1, 2, 1) across it."""
    k = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    return k if _direction("sobel_kernel", direction) == "x" else k.T.copy()


def prewitt_kernel(direction="x"):
    """Prewitt edge detector: a derivative along ``direction`` ('x' or 'y') averaged (1, 1, 1) across it."""
    k = np.array([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])
    return k if _direction("prewitt_kernel", direction) == "x" else k.T.copy()


def gabor_kernel(theta=0.0, wavelength=4.0, sigma=2.0, phase=0.0, aspect=0.5, size=None):
    """Gabor filter: a cosine wave under a Gaussian envelope, the shape of many learned first-layer filters.

    ``g(x, y) = exp(-(x'^2 + aspect^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / wavelength + phase)`` with
    ``x' = x cos(theta) + y sin(theta)``, ``y' = -x sin(theta) + y cos(theta)``: stripes perpendicular to
    the direction ``theta``. Phase 0 gives an even (symmetric) filter, 90 an odd (antisymmetric) one.

    Args:
        theta: orientation of the wave in degrees (0: the wave runs along x, stripes are vertical).
        wavelength: period of the wave in pixels.
        sigma: standard deviation of the envelope in pixels (along x').
        phase: phase offset in degrees.
        aspect: spatial aspect ratio gamma; the envelope's std along y' is sigma / aspect.
        size: odd side of the kernel; default 2*ceil(3*sigma / min(aspect, 1)) + 1.
    """
    fn = "gabor_kernel"
    wavelength = _positive(fn, "wavelength", wavelength)
    sigma = _positive(fn, "sigma", sigma)
    aspect = _positive(fn, "aspect", aspect)
    for name, value in (("theta", theta), ("phase", phase)):
        if not is_real(value) or not math.isfinite(value):
            raise ValueError(f"{fn}: `{name}` must be a finite number of degrees. "
                             f"Received: {name}={value!r}")
    if size is None:
        size = _odd_size(fn, 2 * math.ceil(3 * sigma / min(aspect, 1.0)) + 1,
                         f" (from sigma={sigma:g}, aspect={aspect:g})")
    size = _odd_size(fn, size)
    y, x = _grid(size)
    t, psi = math.radians(theta), math.radians(phase)
    xr = x * math.cos(t) + y * math.sin(t)
    yr = -x * math.sin(t) + y * math.cos(t)
    return np.exp(-(xr ** 2 + aspect ** 2 * yr ** 2) / (2 * sigma ** 2)) * np.cos(2 * math.pi * xr / wavelength + psi)


KERNELS = {
    "identity": identity_kernel,
    "box": box_kernel,
    "gaussian": gaussian_kernel,
    "sharpen": sharpen_kernel,
    "sobel-x": lambda: sobel_kernel("x"),
    "sobel-y": lambda: sobel_kernel("y"),
    "prewitt-x": lambda: prewitt_kernel("x"),
    "prewitt-y": lambda: prewitt_kernel("y"),
    "laplacian": laplacian_kernel,
    "gabor": gabor_kernel,
}
# The argument a bare number sets, as in "gaussian:2" or "box:5".
_POSITIONAL = {"identity": "size", "box": "size", "gaussian": "sigma", "sharpen": "amount", "gabor": "theta",
               "laplacian": "diagonal"}
_INT_ARGS = {"size"}


def _parse_number(spec, text, fn="make_kernel"):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise ValueError(f"{fn}: {text!r} in {spec!r} is not a finite number")
    return value


def parse_matrix(text, fn="make_kernel"):
    """A 2-D array from rows separated by ';', values by spaces or commas: ``"1 0 -1; 2 0 -2"``."""
    rows = [r.replace(",", " ").replace("[", " ").replace("]", " ").split() for r in str(text).split(";")]
    values = [[_parse_number(text, v, fn) for v in row] for row in rows if row]
    if not values or len({len(r) for r in values}) != 1:
        raise ValueError(f"{fn}: a matrix needs rows of equal length separated by ';', like '1 0 -1; 2 0 -2'. "
                         f"Received {text!r}")
    return np.array(values)


def make_kernel(spec):
    """A kernel from a short specification (what ``cnnlab filter --kernel`` takes).

    ``NAME`` or ``NAME:VALUE`` or ``NAME:key=value,key=value`` with NAME one of ``identity``, ``box``,
    ``gaussian``, ``sharpen``, ``sobel-x``, ``sobel-y``, ``prewitt-x``, ``prewitt-y``, ``laplacian``,
    ``gabor``; a bare VALUE sets the first argument (``box:5`` the size, ``gaussian:2`` sigma,
    ``gabor:45`` theta). A literal matrix is rows separated by ';': ``"1 0 -1; 2 0 -2; 1 0 -1"``.
    A 2-D array is returned as it is.

    Example:
        >>> make_kernel("gabor:theta=45,wavelength=4,sigma=1").shape
        (13, 13)
    """
    if not isinstance(spec, str):
        k = images.as_numpy(spec).astype(np.float64)
        if k.ndim != 2 or 0 in k.shape:
            raise ValueError(f"make_kernel: a kernel array must be 2-D (kH, kW). Received shape {k.shape}")
        return k
    text = spec.strip().lower()
    if ";" in text or (text[:1].isdigit() or text[:1] in "-+.["):
        return parse_matrix(text)
    name, _, args = text.partition(":")
    if name not in KERNELS:
        raise ValueError(f"make_kernel: unknown kernel {name!r}. Known kernels: {', '.join(KERNELS)}, "
                         f"or a literal matrix like '1 0 -1; 2 0 -2; 1 0 -1'")
    kwargs = {}
    for part in filter(None, (p.strip() for p in args.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            if name not in _POSITIONAL:
                raise ValueError(f"make_kernel: kernel {name!r} takes no arguments. Received {spec!r}")
            key, value = _POSITIONAL[name], part
        key = key.strip()
        number = _parse_number(spec, value.strip())
        kwargs[key] = int(number) if key in _INT_ARGS and number == int(number) else number
    if "diagonal" in kwargs:
        kwargs["diagonal"] = bool(kwargs["diagonal"])
    try:
        return np.asarray(KERNELS[name](**kwargs), dtype=np.float64)
    except TypeError:
        known = ", ".join(pyinspect.signature(KERNELS[name]).parameters) or "none"
        raise ValueError(f"make_kernel: kernel {name!r} does not take {', '.join(sorted(kwargs))}. "
                         f"Its arguments: {known}") from None


def apply_filter(image, kernel, padding_mode="replicate"):
    """Convolve every channel of ``image`` with one 2-D ``kernel`` through ``F.conv2d`` ("same" size).

    A depthwise convolution (``groups = channels``): each channel is filtered on its own, as for blur of
    an RGB image. Like every convolution layer it is a cross-correlation (the kernel is not flipped).

    Args:
        image: (H, W), (C, H, W) or (N, C, H, W) array or Tensor, in the network's channel-first layout.
        kernel: a 2-D array (kH, kW), odd sides for a centred output, or a specification for ``make_kernel``.
        padding_mode: how the border is extended: "replicate" (default: no dark frame around blurred
            images), "reflect", "circular" or "zeros".

    Shape:
        image (..., H, W) -> the same shape (float; integer images become the default float dtype).
    """
    k = make_kernel(kernel)
    x = images.as_numpy(image) if not isinstance(image, Tensor) else image._data
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"apply_filter: `image` must be (H, W), (C, H, W) or (N, C, H, W). "
                         f"Received shape {tuple(x.shape)}")
    xp = backend.get_array_module(x)
    dtype = x.dtype if x.dtype.kind == "f" else backend.get_default_dtype()
    shape = x.shape
    x4 = x.reshape((1,) * (4 - x.ndim) + tuple(shape)).astype(dtype)        # (N, C, H, W)
    c = x4.shape[1]
    weight = xp.asarray(np.broadcast_to(k, (c, 1) + k.shape), dtype=dtype)  # (C, 1, kH, kW), one per channel
    out = F.conv2d(Tensor(x4), Tensor(weight), padding="same", groups=c, padding_mode=padding_mode)
    return backend.asnumpy(out._data).reshape(shape)


def display_filtered(filtered, kernel):
    """The filtered image as a picture in [0, 1].

    Kernels whose weights sum to 1 (blur, sharpen) keep the brightness scale: clipped to [0, 1]. Kernels
    that sum to anything else (edge detectors, Laplacian, Gabor) give signed responses: 0 becomes grey,
    the largest |response| white (positive) or black (negative).
    """
    k = make_kernel(kernel)
    if abs(k.sum() - 1.0) < 1e-6:
        return np.clip(images.as_numpy(filtered), 0.0, 1.0).astype(np.float32)
    return images.rescale_symmetric(filtered)


def filter_picture(image, kernel, padding_mode="replicate"):
    """The original and the filtered image side by side, as one picture (H', W', 3) in [0, 1].

    Args:
        image: a picture (H, W) grey or (H, W, 3) RGB with values in [0, 1] (as ``images.read_image``
            returns it).
        kernel: a 2-D kernel or a ``make_kernel`` specification.
    """
    a = images.as_numpy(image).astype(np.float32)
    if a.ndim == 3 and a.shape[-1] in (1, 3):
        chw = a.transpose(2, 0, 1)                                          # (H, W, C) -> (C, H, W)
    elif a.ndim == 2:
        chw = a[None]
    else:
        raise ValueError(f"filter_picture: `image` must be (H, W) or (H, W, 3). Received shape {a.shape}")
    filtered = apply_filter(chw, kernel, padding_mode)
    shown = display_filtered(filtered, kernel)
    return images.side_by_side(images.to_rgb(chw), images.to_rgb(shown))
