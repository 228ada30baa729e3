"""Looking inside a trained network: filters, activation maps, top patches, occlusion and saliency.

Every function works on any ``cnnlab.nn.Module`` and names layers as ``model.named_modules()`` does
(``features.0``). Inputs are model-ready images (standardised as in training), (C, H, W) or (1, C, H, W);
an image with 1 channel for a 3-channel model (or the reverse) is converted, any other mismatch is an
error. Pictures come back as float32 arrays (H, W, 3) in [0, 1] (see ``cnnlab.inspect.images``).

- ``show_filters``: the kernels of a convolution as a grid (RGB kernels in colour), normalised per kernel.
- ``activation_maps``: every channel's output of a layer for one image, as a grid.
- ``top_patches``: the dataset patches, cropped to a unit's receptive field, that excite a channel most
  (Zeiler & Fergus 2014).
- ``occlusion_map``: the drop in the target class probability when a grey square hides each part of the
  image (Zeiler & Fergus 2014).
- ``saliency``: the magnitude of the gradient of the target class score with respect to the input
  pixels (Simonyan et al. 2014).
"""

import os
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..data import DataLoader, Subset
from ..tensor import Tensor
from ..validation import int_arg, is_int
from . import images
from .receptive_field import receptive_field


# ---------------------------------------------------------------------------------------------- layers
def layer_names(model):
    """The dotted names of every submodule of ``model``, in registration order (the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def get_layer(model, layer, fn="get_layer"):
    """``(name, module)`` for ``layer`` given as a dotted name or as a submodule of ``model``.

    An unknown name is a ValueError that lists the model's layer names.
    """
    if not isinstance(layer, str):
        for name, module in model.named_modules():
            if module is layer:
                return name, module
        raise ValueError(f"{fn}: `layer` {type(layer).__name__} is not a submodule of the model; pass one of "
                         f"its modules or a layer name: {', '.join(layer_names(model))}")
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        raise ValueError(f"{fn}: the model has no layer {layer!r}. Layer names: {', '.join(layer_names(model))}")
    return layer, modules[layer]


def _is_conv(module):
    w = getattr(module, "weight", None)
    return w is not None and hasattr(module, "kernel_size") and len(getattr(w, "shape", ())) == 4


def first_conv(model, fn="first_conv"):
    """``(name, module)`` of the first convolution (a module with a 4-D ``weight``) in ``model``."""
    for name, module in model.named_modules():
        if _is_conv(module):
            return name, module
    raise ValueError(f"{fn}: the model has no convolution layer (no module with a 4-D weight). "
                     f"Layer names: {', '.join(layer_names(model))}")


def _in_channels(model):
    try:
        return int(first_conv(model)[1].weight.shape[1])
    except ValueError:
        return None


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the wanted layer has run."""


class _eval_mode:
    """Run the model in evaluation mode (BatchNorm running statistics, no dropout), then restore it."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        self.model.train(self.was_training)
        return False


def _forward_to(model, x, module):
    """The output of ``module`` when ``model`` runs on ``x``; the forward stops right after it."""
    box = {}

    def hook(_, __, output):
        box["out"] = output
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        with no_grad(), _eval_mode(model):
            model(x if isinstance(x, Tensor) else Tensor(x))
    except _Stop:
        pass
    finally:
        handle.remove()
    if "out" not in box:
        raise ValueError(f"the layer {type(module).__name__} did not run in the model's forward pass")
    out = box["out"]
    return out._data if isinstance(out, Tensor) else out


def _batch(model, image, fn):
    """A model-ready image as a float (1, C, H, W) array; 1 <-> 3 channels are converted for the model."""
    if isinstance(image, Tensor):
        a = image._data
    elif hasattr(image, "shape") and hasattr(image, "dtype"):    # a NumPy or CuPy array
        a = image
    else:
        a = np.asarray(image)
    xp = backend.get_array_module(a)
    if a.ndim == 2:
        a = a[None]                                                      # (H, W) -> (1, H, W)
    if a.ndim == 3:
        a = a[None]                                                      # (C, H, W) -> (1, C, H, W)
    if a.ndim != 4 or a.shape[0] != 1:
        raise ValueError(f"{fn}: `image` must be one image (C, H, W) or (1, C, H, W). Received shape "
                         f"{tuple(a.shape)}")
    if a.dtype.kind != "f":
        a = a.astype(backend.get_default_dtype())
    want, c = _in_channels(model), a.shape[1]
    if want is not None and c != want:
        if c == 3 and want == 1:      # colour to grey: the luminance weights of ITU-R BT.601
            a = (0.299 * a[:, 0:1] + 0.587 * a[:, 1:2] + 0.114 * a[:, 2:3]).astype(a.dtype)
        elif c == 1 and want == 3:
            a = xp.repeat(a, 3, axis=1)
        else:
            raise ValueError(f"{fn}: the image has {c} channels but the model's first convolution expects "
                             f"{want} (image shape {tuple(a.shape)})")
    return a


def _display(image):
    """A model input (1, C, H, W) as a picture (H, W, 3) in [0, 1] (min-max stretched, so any
    standardisation is undone up to contrast)."""
    return images.to_rgb(images.rescale(backend.asnumpy(image)[0]))


def activations(model, image, layer):
    """The output of ``layer`` (name or module) for one image: a host array (C, h, w) (or (F,))."""
    name, module = get_layer(model, layer, "activations")
    x = _batch(model, image, "activations")
    return backend.asnumpy(_forward_to(model, x, module))[0]


# ---------------------------------------------------------------------------------------------- filters
def _weight_of(layer, fn):
    if hasattr(layer, "named_modules") and not _is_conv(layer):
        _, layer = first_conv(layer, fn)
    w = getattr(layer, "weight", layer)
    w = backend.asnumpy(w._data if isinstance(w, Tensor) else w)
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 4:
        raise ValueError(f"{fn}: expected a convolution layer or a weight (O, C, kH, kW). Received shape {w.shape}")
    return w


def show_filters(layer, ncols=None, scale=None, max_filters=64, path=None):
    """The kernels of a convolution as a grid picture, each kernel normalised to [0, 1] on its own.

    Kernels with 3 input channels are drawn in colour (the channels as RGB), with 1 channel in grey;
    other kernels as one grey tile per input channel, one kernel per row.

    Args:
        layer: a convolution module, a model (its first convolution is used), or a weight (O, C, kH, kW).
        ncols: tiles per row (default: about square; the input channels for multi-channel kernels).
        scale: integer enlargement of each kernel pixel (default: kernels become at least 48 pixels wide).
        max_filters: draw at most this many kernels.
        path: also write the picture there as PNG.

    Shape:
        returns (H, W, 3) float32 in [0, 1].
    """
    w = _weight_of(layer, "show_filters")[:max_filters]
    o, c, kh, kw = w.shape
    flat = w.reshape(o, -1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    span = np.where(high > low, high - low, 1.0)
    norm = (w - low[:, None, None, None]) / span[:, None, None, None]     # per kernel to [0, 1]
    norm[high == low] = 0.5
    if c == 3:
        tiles = list(norm.transpose(0, 2, 3, 1))                          # (O, kH, kW, 3) RGB kernels
    elif c == 1:
        tiles = list(norm[:, 0])
    else:
        tiles = list(norm.reshape(o * c, kh, kw))                         # row per kernel, tile per channel
        ncols = ncols or c
    factor = scale or images.fit_scale(max(kh, kw), 48)
    picture = images.grid([images.upscale(t, factor) for t in tiles], ncols=ncols, pad=2, background=1.0)
    if path is not None:
        images.write_png(path, picture)
    return picture


# ---------------------------------------------------------------------------------------------- activations
def activation_maps(model, image, layer=None, ncols=None, normalize="layer", cmap="viridis", scale=None,
                    path=None):
    """Every channel's activation map of ``layer`` for one image, as a grid of colour-mapped tiles.

    Args:
        model: any Module.
        image: one model-ready image (C, H, W) or (1, C, H, W).
        layer: layer name or module; default the first convolution.
        ncols: tiles per row (default about square).
        normalize: "layer" scales all maps together (a weak channel looks dark, as it is), "channel"
            stretches each map to its own range.
        cmap: colour map (see ``images.colormap``).
        scale: integer enlargement (default: maps become at least 48 pixels wide).
        path: also write the picture there as PNG.

    Shape:
        returns (H, W, 3) float32 in [0, 1]; one tile per channel of the layer's (1, C, h, w) output.
    """
    fn = "activation_maps"
    if normalize not in ("layer", "channel"):
        raise ValueError(f"{fn}: `normalize` must be 'layer' or 'channel'. Received: normalize={normalize!r}")
    if layer is None:
        name, module = first_conv(model, fn)
    else:
        name, module = get_layer(model, layer, fn)
    x = _batch(model, image, fn)
    maps = backend.asnumpy(_forward_to(model, x, module))
    if maps.ndim != 4:
        raise ValueError(f"{fn}: layer {name!r} outputs shape {tuple(maps.shape)}; activation maps need a layer "
                         f"with (N, C, H, W) feature maps")
    maps = maps[0].astype(np.float32)                                    # (C, h, w)
    if normalize == "layer":
        scaled = images.rescale(maps)
    else:
        scaled = np.stack([images.rescale(m) for m in maps])
    factor = scale or images.fit_scale(max(maps.shape[1:]), 48)
    tiles = [images.upscale(images.colormap(m, cmap), factor) for m in scaled]
    picture = images.grid(tiles, ncols=ncols, pad=2, background=1.0)
    if path is not None:
        images.write_png(path, picture)
    return picture


# ---------------------------------------------------------------------------------------------- receptive field
@dataclass
class Geometry:
    """Where a unit of a layer looks in the input: unit (i, j) covers input rows
    ``first[0] + i*jump[0]`` .. ``+ size[0] - 1`` and likewise columns (possibly reaching into padding)."""

    first: tuple
    jump: tuple
    size: tuple

    def box(self, i, j):
        """(top, left, bottom, right), bottom/right exclusive, in input pixel coordinates."""
        top = self.first[0] + i * self.jump[0]
        left = self.first[1] + j * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]


def receptive_geometry(model, image, layer):
    """The receptive field of ``layer``'s units as a ``Geometry`` (from ``inspect.receptive_field``).

    ``receptive_field`` gives each layer's field size, jump and the centre of the first unit's field
    (pixel i spans [i, i+1)); the first unit's field then starts at pixel ``centre - size/2``. A container
    layer takes the field of the last layer inside it; a layer whose field covers the whole input (after
    a global pool, a flatten) or that ``receptive_field`` cannot follow gets the whole image.
    """
    name, _ = get_layer(model, layer, "receptive_geometry")
    x = _batch(model, image, "receptive_geometry")
    h, w = (int(v) for v in x.shape[2:])
    whole = Geometry((0, 0), (0, 0), (h, w))
    try:
        table = receptive_field(model, tuple(int(v) for v in x.shape[1:]))
    except ValueError:
        return whole
    rows = [r for r in table.rows if r.name == name or r.name.startswith(name + ".")]
    if not rows or rows[-1].global_:
        return whole
    row = rows[-1]
    size = tuple(int(round(v)) for v in row.size)
    first = tuple(int(round(c - s / 2)) for c, s in zip(row.start, row.size))
    jump = tuple(int(round(v)) for v in row.jump)
    return Geometry(first, jump, size)


# ---------------------------------------------------------------------------------------------- top patches
@dataclass
class TopPatches:
    """The result of ``top_patches``: for each channel (row) the k strongest units, strongest first.

    Attributes:
        layer: the layer name; ``channels``: (R,) the channels, one row each.
        indices: (R, k) dataset indices; ``positions``: (R, k, 2) unit (row, col) in the feature map.
        values: (R, k) activations; ``boxes``: (R, k, 4) input boxes (top, left, bottom, right).
        patches: (R, k, h, w, 3) the cropped input patches as pictures in [0, 1].
        picture: (H, W, 3) the patches in a grid, one row per channel.
    """

    layer: str
    channels: np.ndarray
    indices: np.ndarray
    positions: np.ndarray
    values: np.ndarray
    boxes: np.ndarray
    patches: np.ndarray
    picture: np.ndarray


def _display_images(dataset, indices):
    """Dataset images as pictures (n, H, W, 3) in [0, 1]; from the raw ``data`` array where there is one."""
    base, idx = dataset, np.asarray(indices)
    while hasattr(base, "dataset") and hasattr(base, "indices"):        # Subset (possibly nested)
        idx = np.asarray(base.indices)[idx]
        base = base.dataset
    data = getattr(base, "data", None)
    if isinstance(data, np.ndarray) and data.ndim in (3, 4) and getattr(base, "transform", None) is None:
        raw = data[idx].astype(np.float32) / float(getattr(base, "max_value", 255) or 255)
        return np.stack([images.to_rgb(r) for r in raw])
    out = []
    for i in indices:
        x = dataset[int(i)][0]
        out.append(images.to_rgb(images.rescale(backend.asnumpy(getattr(x, "data", x)))))
    return np.stack(out)


def _crop(picture, box):
    """The box (top, left, bottom, right) of a picture (H, W, 3); parts outside the image are grey."""
    top, left, bottom, right = (int(v) for v in box)
    h, w = picture.shape[:2]
    out = np.full((bottom - top, right - left, 3), 0.5, np.float32)
    t, l_, b, r = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    if b > t and r > l_:
        out[t - top:b - top, l_ - left:r - left] = picture[t:b, l_:r]
    return out


def top_patches(model, dataset, layer, channel=None, k=9, batch_size=256, one_per_image=True, limit=None,
                scale=None, path=None):
    """The ``k`` dataset patches that excite a channel of ``layer`` most (Zeiler & Fergus's figure).

    Runs the model over ``dataset`` (stopping each forward pass at ``layer``), keeps the ``k`` largest
    activations of each channel and crops each one's input patch to the unit's receptive field (see
    ``receptive_geometry``; parts of the field outside the image are grey).

    Args:
        model: any Module.
        dataset: a dataset of (image, label) samples, model-ready (standardised as in training).
        layer: layer name or module with (N, C, h, w) output.
        channel: one channel (int), a list of channels, or None for every channel (one row each).
        k: patches per channel.
        batch_size: images per forward pass.
        one_per_image: count only each image's strongest unit (as in the paper) rather than every unit.
        limit: scan only the first ``limit`` samples.
        scale: integer enlargement of the patches in the picture (default: at least 32 pixels).
        path: also write the picture there as PNG.

    Returns:
        ``TopPatches`` (values, dataset indices, positions, boxes, patches, and the ``picture``).
    """
    fn = "top_patches"
    name, module = get_layer(model, layer, fn)
    if not is_int(k) or k < 1:
        raise ValueError(f"{fn}: `k` must be a positive int. Received: k={k!r}")
    n = len(dataset)
    if limit is not None:
        n = min(n, int(limit))
        dataset = Subset(dataset, np.arange(n))
    if n == 0:
        raise ValueError(f"{fn}: the dataset is empty")
    sample = _batch(model, dataset[0][0], fn)
    probe = backend.asnumpy(_forward_to(model, sample, module))
    if probe.ndim != 4:
        raise ValueError(f"{fn}: layer {name!r} outputs shape {tuple(probe.shape)}; top patches need a layer with "
                         f"(N, C, H, W) feature maps")
    num_channels, fh, fw = probe.shape[1:]
    channels = _channels_arg(fn, channel, num_channels, name)
    k = min(k, n if one_per_image else n * fh * fw)
    values, keys = _strongest_units(model, module, dataset, channels, k, batch_size, one_per_image)
    indices = keys // (fh * fw)
    positions = np.stack([(keys % (fh * fw)) // fw, keys % fw], axis=-1)     # (R, k, 2)
    r = len(channels)
    geometry = receptive_geometry(model, sample, module)
    boxes = np.array([[geometry.box(i, j) for i, j in row] for row in positions.reshape(r, -1, 2)],
                     dtype=np.int64).reshape(r, -1, 4)
    shown = _display_images(dataset, indices.ravel())                        # (R*k, H, W, 3)
    pictures = shown.reshape(r, -1, *shown.shape[1:])                        # (R, k, H, W, 3)
    patches = np.stack([np.stack([_crop(pictures[a, b], boxes[a, b]) for b in range(indices.shape[1])])
                        for a in range(r)])                                  # (R, k, ph, pw, 3)
    factor = scale or images.fit_scale(max(patches.shape[2:4]), 32)
    tiles = [images.upscale(p, factor) for p in patches.reshape(-1, *patches.shape[2:])]
    picture = images.grid(tiles, ncols=indices.shape[1], pad=2, background=1.0)
    if path is not None:
        images.write_png(path, picture)
    return TopPatches(name, channels, indices, positions, values.astype(np.float32), boxes, patches, picture)


def _channels_arg(fn, channel, num_channels, name):
    """``channel`` (an int, a list of ints, or None for all) as an array of channel indices."""
    if channel is None:
        return np.arange(num_channels)
    channels = np.atleast_1d(np.asarray(channel))
    if channels.dtype.kind not in "iu" or channels.ndim != 1 or channels.size == 0:
        raise ValueError(f"{fn}: `channel` must be an int, a list of ints or None. Received: channel={channel!r}")
    bad = channels[(channels < 0) | (channels >= num_channels)]
    if bad.size:
        raise ValueError(f"{fn}: `channel` must be in 0..{num_channels - 1} for layer {name!r} "
                         f"({num_channels} channels). Received: channel={channel!r}")
    return channels


def _strongest_units(model, module, dataset, channels, k, batch_size, one_per_image):
    """The ``k`` largest activations of each channel over the dataset, largest first (ties: lowest key).

    Returns (values, keys), each (R, k); a key is the flat unit (sample * fh + row) * fw + col. Only
    the best ``k`` so far are kept between batches, so memory does not grow with the dataset.
    """
    r = len(channels)
    best_val = np.full((r, 0), -np.inf, np.float64)
    best_key = np.zeros((r, 0), np.int64)
    start = 0
    for x, _ in DataLoader(dataset, batch_size=batch_size):
        acts = backend.asnumpy(_forward_to(model, x, module))[:, channels]  # (B, R, fh, fw)
        b, _, fh, fw = acts.shape
        flat = acts.reshape(b, r, fh * fw).astype(np.float64)                # (B, R, fh*fw)
        if one_per_image:
            pos = flat.argmax(axis=2)                                        # (B, R)
            val = np.take_along_axis(flat, pos[..., None], axis=2)[..., 0]   # (B, R)
            key = (start + np.arange(b))[:, None] * (fh * fw) + pos          # (B, R)
        else:
            val = flat.transpose(0, 2, 1).reshape(b * fh * fw, r)            # (B*fh*fw, R)
            key = np.repeat(((start + np.arange(b)) * (fh * fw))[:, None], fh * fw, axis=1) + np.arange(fh * fw)
            key = np.repeat(key.reshape(-1, 1), r, axis=1)                   # (B*fh*fw, R)
        cand_val = np.concatenate([best_val, val.T], axis=1)                 # (R, kept + candidates)
        cand_key = np.concatenate([best_key, key.T], axis=1)
        if cand_val.shape[1] > k:
            keep = np.argpartition(-cand_val, k - 1, axis=1)[:, :k]
            cand_val = np.take_along_axis(cand_val, keep, axis=1)
            cand_key = np.take_along_axis(cand_key, keep, axis=1)
        best_val, best_key = cand_val, cand_key
        start += b
    order = np.lexsort((best_key, -best_val), axis=1) if best_val.size else np.zeros((r, 0), np.int64)
    return np.take_along_axis(best_val, order, axis=1), np.take_along_axis(best_key, order, axis=1)


# ---------------------------------------------------------------------------------------------- attribution
def _target(fn, target, num_classes, scores):
    if target is None:
        return int(np.argmax(scores))
    if not is_int(target) or not 0 <= target < num_classes:
        raise ValueError(f"{fn}: `target` must be a class index in 0..{num_classes - 1}. Received: target={target!r}")
    return int(target)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def occlusion_map(model, image, target=None, patch=8, stride=4, fill=0.0, batch_size=128):
    """How much the target class probability drops when a square of ``fill`` hides each part of the image.

    A ``patch`` x ``patch`` square slides over the image with step ``stride`` (the last row and column of
    positions are moved in to reach the border); each occluded image is classified, and every pixel gets
    the mean drop ``p(target | image) - p(target | occluded)`` over the squares that covered it. Positive:
    the prediction depends on that region; negative: hiding it makes the class more likely.

    Args:
        model: any Module returning (N, classes) scores.
        image: one model-ready image (C, H, W) or (1, C, H, W).
        target: class index; default the predicted class.
        patch, stride: square side and step in pixels.
        fill: value of the square in the model's input scale (0 = the mean for standardised inputs: grey).
        batch_size: occluded images per forward pass.

    Shape:
        returns (H, W) float32 with values in [-1, 1].
    """
    fn = "occlusion_map"
    x = _batch(model, image, fn)
    xp = backend.get_array_module(x)
    h, w = x.shape[2:]
    patch = int_arg(fn, "patch", patch, minimum=1, maximum=min(h, w))
    stride = int_arg(fn, "stride", stride, minimum=1)
    with no_grad(), _eval_mode(model):
        base = _softmax(backend.asnumpy(model(Tensor(x))._data).astype(np.float64))
        t = _target(fn, target, base.shape[1], base[0])
        tops = sorted(set(list(range(0, h - patch + 1, stride)) + [h - patch]))
        lefts = sorted(set(list(range(0, w - patch + 1, stride)) + [w - patch]))
        ys, xs = (a.ravel() for a in np.meshgrid(tops, lefts, indexing="ij"))   # (P,) top-left corners
        rows, cols = np.arange(h), np.arange(w)
        row_in = (rows[None] >= ys[:, None]) & (rows[None] < ys[:, None] + patch)  # (P, H)
        col_in = (cols[None] >= xs[:, None]) & (cols[None] < xs[:, None] + patch)  # (P, W)
        masks = row_in[:, :, None] & col_in[:, None, :]                             # (P, H, W)
        drops = np.empty(len(ys))
        for s in range(0, len(ys), batch_size):
            m = xp.asarray(masks[s:s + batch_size])[:, None]                       # (B, 1, H, W)
            occluded = xp.where(m, xp.asarray(fill, dtype=x.dtype), x)              # (B, C, H, W)
            probs = _softmax(backend.asnumpy(model(Tensor(occluded))._data).astype(np.float64))
            drops[s:s + batch_size] = base[0, t] - probs[:, t]
    covered = masks.sum(axis=0)                                                      # (H, W)
    total = np.tensordot(drops, masks.astype(np.float64), axes=(0, 0))               # (H, W)
    return np.where(covered > 0, total / np.maximum(covered, 1), 0.0).astype(np.float32)


def saliency(model, image, target=None, normalize=True):
    """The magnitude of the gradient of the target class score with respect to each input pixel.

    ``max over channels |d score_target / d x|`` (Simonyan et al. 2014), with the score the model's
    output before any softmax. The model's parameter gradients are left as they were.

    Args:
        model: any Module returning (N, classes) scores.
        image: one model-ready image (C, H, W) or (1, C, H, W).
        target: class index; default the predicted class.
        normalize: divide by the largest value, so the map lies in [0, 1].

    Shape:
        returns (H, W) float32, non-negative (in [0, 1] when normalized).
    """
    fn = "saliency"
    x = _batch(model, image, fn)
    params = list(model.parameters())
    saved = [p.grad for p in params]
    inp = Tensor(x, requires_grad=True)
    try:
        with _eval_mode(model):
            scores = model(inp)
            s = backend.asnumpy(scores._data)
            if s.ndim != 2:
                raise ValueError(f"{fn}: the model must return (N, classes) scores. Received shape {s.shape}")
            t = _target(fn, target, s.shape[1], s[0])
            xp = backend.get_array_module(scores._data)
            onehot = xp.zeros(scores.shape, dtype=scores._data.dtype)
            onehot[0, t] = 1
            scores.backward(onehot)
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    grad = np.abs(backend.asnumpy(inp.grad._data if isinstance(inp.grad, Tensor) else inp.grad))[0].max(axis=0)
    if normalize:
        top = grad.max()
        grad = grad / top if top > 0 else grad
    return grad.astype(np.float32)


def heatmap_picture(image, heat, signed=False, alpha=0.6, scale=None):
    """The image and the heat map drawn over it, side by side: (sH, 2sW + gaps, 3) in [0, 1].

    ``signed`` heat maps (occlusion) use a diverging map with 0 in the middle; others go 0 -> max.
    ``scale`` enlarges both (default: to at least 160 pixels).
    """
    base = _display(_batch_any(image))
    factor = scale or images.fit_scale(max(base.shape[:2]), 160)
    base, heat = images.upscale(base, factor), images.upscale(np.asarray(heat), factor)
    if signed:
        over = images.overlay(base, images.rescale_symmetric(heat), alpha=alpha, cmap="coolwarm")
    else:
        over = images.overlay(base, images.rescale(heat, 0.0), alpha=alpha, cmap="inferno")
    return images.side_by_side(base, over)


def _batch_any(image):
    a = image._data if isinstance(image, Tensor) else image
    a = backend.asnumpy(a)
    return a.reshape((1,) * (4 - a.ndim) + a.shape) if a.ndim < 4 else a


# ---------------------------------------------------------------------------------------------- checkpoints
WHAT = ("filters", "activations", "top-patches", "occlusion", "saliency")


def load_input(path, meta):
    """An image file prepared as the checkpoint's model expects: its channels and size, standardised."""
    c, h, w = meta["input_size"]
    a = images.read_image(path, channels=c, size=(h, w), fn="visualize")
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)                       # (C, H, W)
    norm = meta.get("normalize")
    if norm:
        mean = np.asarray(norm["mean"], np.float32).reshape(-1, 1, 1)
        std = np.asarray(norm["std"], np.float32).reshape(-1, 1, 1)
        a = (a - mean) / std
    return a.astype(backend.get_default_dtype())


def parse_channels(text):
    """Channel numbers from text: "5" -> [5], "0-3" -> [0, 1, 2, 3], "1,4,9" -> [1, 4, 9] (forms can mix)."""
    channels = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        first, dash, last = part.partition("-")
        try:
            lo, hi = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ValueError(f"visualize: `channel` must be like 5, 0-7 or 1,4,9. Received: channel={text!r}") from None
        if hi < lo:
            raise ValueError(f"visualize: the channel range {part!r} runs backwards")
        channels.extend(range(lo, hi + 1))
    if not channels:
        raise ValueError(f"visualize: `channel` must be like 5, 0-7 or 1,4,9. Received: channel={text!r}")
    return channels


def visualize_checkpoint(checkpoint, what, out, image=None, layer=None, channel=None, k=9, target=None,
                         patch=None, stride=None, data_dir=None, limit=None, log=print):
    """Write the pictures ``what`` (see ``WHAT``) of a ``cnnlab train`` checkpoint to folder ``out``.

    Args:
        checkpoint: path of a checkpoint written by ``cnnlab train``.
        what: "filters", "activations", "top-patches", "occlusion" or "saliency".
        out: folder for the PNG files (created).
        image: an image file, or "test:N" for test image N (default "test:0"), for the per-image pictures.
        layer: layer name (default: the first convolution).
        channel: for top patches: a channel, a list of channels, or text like "5", "0-7" or "1,4,9"
            (default: every channel).
        k: top patches per channel.
        target: class for occlusion and saliency (default: the predicted class).
        patch, stride: occlusion square and step (default: a quarter and an eighth of the image side).
        data_dir: dataset directory for the test set.
        limit: scan at most this many test images for top patches.

    Returns:
        the list of paths written.
    """
    from ..train.saved import eval_dataset, load_trained

    if what not in WHAT:
        raise ValueError(f"visualize: `what` must be one of {', '.join(WHAT)}. Received: what={what!r}")
    model, meta = load_trained(checkpoint)
    classes = meta.get("classes") or []
    if layer is not None:
        get_layer(model, layer, "visualize")
    dataset = None

    def test_set():
        nonlocal dataset
        if dataset is None:
            dataset = eval_dataset(meta, data_dir=data_dir)
        return dataset

    def the_image():
        return _chosen_image(image or "test:0", meta, test_set)

    os.makedirs(out, exist_ok=True)
    written = []
    lname = layer or first_conv(model)[0]
    if what == "filters":
        _, module = get_layer(model, lname, "visualize")
        written.append(images.write_png(os.path.join(out, f"filters-{lname}.png"), show_filters(module)))
    elif what == "activations":
        x, stem = the_image()
        written.append(images.write_png(os.path.join(out, f"activations-{lname}-{stem}.png"),
                                        activation_maps(model, x, lname)))
    elif what == "top-patches":
        channels = parse_channels(channel) if isinstance(channel, str) else channel
        result = top_patches(model, test_set(), lname, channels, k=k, limit=limit)
        suffix = f"-c{str(channel).replace(',', '_').replace(' ', '')}" if channel is not None else ""
        written.append(images.write_png(os.path.join(out, f"top-patches-{lname}{suffix}.png"), result.picture))
    else:
        x, stem = the_image()
        picture = _class_heatmap(model, x, what, target, classes, patch, stride, log)
        written.append(images.write_png(os.path.join(out, f"{what}-{stem}.png"), picture))
    return written


def _chosen_image(spec, meta, test_set):
    """(image, file stem) for ``visualize_checkpoint``'s ``image``: "test:N" (from ``test_set()``) or a file."""
    if isinstance(spec, str) and spec.startswith("test:"):
        try:
            index = int(spec[5:])
        except ValueError:
            raise ValueError(f"visualize: `image` {spec!r} must be a file or test:N with N an int") from None
        ds = test_set()
        if not 0 <= index < len(ds):
            raise ValueError(f"visualize: test image {index} does not exist; the test set has {len(ds)} images")
        x = ds[index][0]
        return backend.asnumpy(getattr(x, "data", x)), f"test{index}"
    return load_input(spec, meta), os.path.splitext(os.path.basename(spec))[0]


def _class_heatmap(model, x, what, target, classes, patch, stride, log):
    """The occlusion or saliency picture of image ``x`` for class ``target`` (the predicted one when None),
    logging which class it is for."""
    h = x.shape[-1]
    if what == "occlusion":
        heat = occlusion_map(model, x, target, patch=patch or max(1, h // 4), stride=stride or max(1, h // 8))
        picture = heatmap_picture(x, heat, signed=True)
    else:
        heat = saliency(model, x, target)
        picture = heatmap_picture(x, heat)
    with no_grad(), _eval_mode(model):
        scores = backend.asnumpy(model(Tensor(_batch(model, x, "visualize")))._data)[0]
    t = _target("visualize", target, scores.shape[0], scores)
    label = classes[t] if t < len(classes) else str(t)
    log(f"{what} for class {label!r} (predicted {classes[int(scores.argmax())] if classes else scores.argmax()})")
    return picture
