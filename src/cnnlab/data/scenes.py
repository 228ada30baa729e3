"""``mnist-scenes``: 64x64 canvases holding 1-4 real MNIST digits, with a mask, boxes and a caption each.

The data of the lectures' applications (segmentation, detection, captioning), built offline from the
MNIST files already supported: train scenes from MNIST's training digits, test scenes from its test
digits, so no test digit is ever seen in training. Scenes are generated in memory from a seed, every
step vectorised over all digits (about a second for 10,000 scenes):

1. each digit is resampled to one of 25 scales by two matrix products (bilinear rows, then columns);
2. its box is the bounding box of its ink (resampled intensity above one half);
3. digits are placed slot by slot: for every scene at once, ``TRIES`` random positions are drawn and
   the first whose box overlaps no earlier box of the scene by more than ``MAX_OVERLAP`` of the
   smaller box is kept (a digit with no such position is left out; the first always fits);
4. the canvas is the pixel-wise maximum of the digits; a pixel's mask class is that of the digit
   brightest there, where it is ink.
"""

import numpy as np

from ..validation import int_arg
from .dataset import ArrayDataset, _batch_indices, _check_index
from .datasets import MNIST

SIZE = 64                 # canvas side in pixels
MAX_DIGITS = 4
SCALES = (0.7, 1.3)       # digit scale range: MNIST's ~20-pixel digits become 14-26 pixels tall
SCALE_LEVELS = 25         # scales are drawn from this many evenly spaced levels of the range
MAX_OVERLAP = 0.15        # largest share of the smaller box another box may cover
TRIES = 16                # random positions tried per digit
INK = 0.5                 # intensity (in [0, 1]) above which a pixel belongs to a digit
BLANK = 0.5 / 255         # intensity that rounds to 0 in the 8-bit image: not pasted
END = 10                  # caption token that ends a caption; digits are tokens 0-9
PAD = -100                # caption padding: cross_entropy's default ignore_index
DEFAULT_SCENES = {True: 10_000, False: 2_000}
TARGETS = ("mask", "boxes", "caption")
CLASSES = ["background"] + [str(d) for d in range(10)]


def _resample_matrices(scale, src, out):
    """Bilinear resampling weights (L, out, src), one matrix per ``scale`` level.

    Output pixel i samples the source at ``(i + 0.5) / scale - 0.5``; the tent is widened by
    ``1 / scale`` when shrinking, so a smaller digit averages its pixels rather than skipping them.
    """
    centre = (np.arange(out) + 0.5)[None, :] / scale[:, None] - 0.5            # (L, out)
    width = np.maximum(1.0, 1.0 / scale)[:, None, None]                         # (L, 1, 1)
    distance = np.abs(centre[:, :, None] - np.arange(src)[None, None, :])       # (L, out, src)
    w = np.maximum(0.0, 1.0 - distance / width)
    total = w.sum(axis=2, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0).astype(np.float32)


def _resample(images, level, scales, side):
    """Digits (M, 28, 28) in [0, 1] at scale ``scales[level[i]]`` as patches (M, side, side).

    Digits of one scale level share one resampling matrix R, so ``R @ image @ R.T`` is two large
    matrix products per level instead of M small ones.
    """
    r = _resample_matrices(scales, images.shape[1], side)                      # (L, side, 28)
    out = np.empty((images.shape[0], side, side), np.float32)
    for lv in np.unique(level):
        members = np.flatnonzero(level == lv)
        k, src = members.size, images.shape[1]
        cols = images[members].reshape(k * src, src) @ r[lv].T                  # (k*28, side)
        cols = cols.reshape(k, src, side).transpose(1, 0, 2).reshape(src, k * side)
        out[members] = (r[lv] @ cols).reshape(side, k, side).transpose(1, 0, 2)  # (k, side, side)
    return out


def _ink_boxes(patches):
    """Boxes (M, 4) = x_min, y_min, x_max, y_max (max exclusive) of each patch's ink, in patch pixels."""
    ink = patches > INK
    rows, cols = ink.any(axis=2), ink.any(axis=1)                              # (M, S) each
    s = patches.shape[1]
    y0, x0 = rows.argmax(axis=1), cols.argmax(axis=1)
    y1, x1 = s - rows[:, ::-1].argmax(axis=1), s - cols[:, ::-1].argmax(axis=1)
    return np.stack([x0, y0, x1, y1], axis=1)


def _overlap(a, b):
    """Intersection of boxes ``a`` and ``b`` (broadcast over leading axes) over the smaller one's area."""
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area = lambda z: (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])  # noqa: E731
    return inter / np.maximum(np.minimum(area(a), area(b)), 1)


def _paste(canvas, masks, patches, local, boxes, scenes, classes, size):
    """Paste each patch so that its ink box ``local`` lands on its box in scene ``scenes``, brighter
    pixels winning, and mark its inked pixels with its mask class ``classes`` (digit + 1).

    ``canvas`` and ``masks`` are the scenes' pixels, flat. Pixels off the canvas and blank pixels are
    skipped. One digit per scene at a time: the fancy-indexed read-modify-write never writes one pixel
    twice.
    """
    top = boxes[:, 1] - local[:, 1]
    left = boxes[:, 0] - local[:, 0]
    k, py, px = np.nonzero(patches > BLANK)                                     # the patches' visible pixels
    y, x = top[k] + py, left[k] + px
    on = (y >= 0) & (y < size) & (x >= 0) & (x < size)
    k, py, px, y, x = k[on], py[on], px[on], y[on], x[on]
    pixel = (scenes[k] * size + y) * size + x
    value = patches[k, py, px]
    old = canvas[pixel]
    brighter = value > old
    canvas[pixel] = np.where(brighter, value, old)
    label = classes.astype(np.uint8)[k]
    masks[pixel] = np.where(brighter & (value > INK), label, masks[pixel])


def generate_scenes(digits, labels, n, seed=0, size=SIZE):
    """``n`` scenes from the digit images ``digits`` (D, 28, 28) uint8 with ``labels`` (D,).

    Returns a dict of arrays: ``images`` (n, size, size) uint8, ``masks`` (n, size, size) uint8 (0
    background, digit d is d + 1), ``boxes`` (n, 4, 4) int64 pixel boxes x_min, y_min, x_max, y_max
    (max exclusive), ``box_labels`` (n, 4) int64 digit classes with -1 for empty slots, ``sources``
    (n, 4) int64 indices into ``digits`` (-1 for empty slots). Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, MAX_DIGITS + 1, size=n)
    src = digits.shape[1]
    picks = np.resize(rng.permutation(digits.shape[0]), n * MAX_DIGITS).reshape(n, MAX_DIGITS)
    sources = np.where(np.arange(MAX_DIGITS) < counts[:, None], picks, -1)     # distinct while 4n <= D
    levels = np.linspace(*SCALES, SCALE_LEVELS)
    level = rng.integers(0, SCALE_LEVELS, size=(n, MAX_DIGITS))
    side = int(np.ceil(src * SCALES[1]))
    boxes = np.zeros((n, MAX_DIGITS, 4), np.int64)
    placed = np.zeros((n, MAX_DIGITS), bool)
    canvas = np.zeros(n * size * size, np.float32)                              # scenes' pixels, flat
    masks = np.zeros(n * size * size, np.uint8)
    for slot in range(MAX_DIGITS):
        use = np.flatnonzero(sources[:, slot] >= 0)
        if use.size == 0:
            break
        m = use.size
        patch = _resample(digits[sources[use, slot]].astype(np.float32) / 255.0, level[use, slot],
                          levels, side)                                         # (m, side, side)
        local = _ink_boxes(patch)                                               # (m, 4) in the patch
        bw, bh = local[:, 2] - local[:, 0], local[:, 3] - local[:, 1]
        # Candidate positions of the box's top-left corner on the canvas, TRIES per digit.
        ox = (rng.random((m, TRIES)) * (size - bw + 1)[:, None]).astype(np.int64)
        oy = (rng.random((m, TRIES)) * (size - bh + 1)[:, None]).astype(np.int64)
        cand = np.stack([ox, oy, ox + bw[:, None], oy + bh[:, None]], axis=2)   # (m, TRIES, 4)
        ok = np.ones((m, TRIES), bool)
        if slot:
            over = _overlap(cand[:, :, None, :], boxes[use, None, :slot, :])    # (m, TRIES, slot)
            ok = (np.where(placed[use, None, :slot], over, 0.0) <= MAX_OVERLAP).all(axis=2)
        first = ok.argmax(axis=1)
        fits = ok[np.arange(m), first] & (patch.max(axis=(1, 2)) > INK)   # a digit without ink: left out
        boxes[use[fits], slot] = cand[np.arange(m), first][fits]
        placed[use[fits], slot] = True
        use, patch, local = use[fits], patch[fits], local[fits]
        _paste(canvas, masks, patch, local, boxes[use, slot], use, labels[sources[use, slot]] + 1, size)
    sources = np.where(placed, sources, -1)
    box_labels = np.where(placed, labels[np.maximum(sources, 0)], -1).astype(np.int64)
    images = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8).reshape(n, size, size)
    return {"images": images, "masks": masks.reshape(n, size, size), "boxes": boxes,
            "box_labels": box_labels, "sources": sources}


def caption_of(boxes, box_labels):
    """The caption of one scene: its digits ordered by their boxes' centres, left to right ("4 1 7")."""
    keep = np.flatnonzero(box_labels >= 0)
    centre = boxes[keep, 0] + boxes[keep, 2]
    return " ".join(str(int(box_labels[i])) for i in keep[np.argsort(centre, kind="stable")])


class MNISTScenes(ArrayDataset):
    """Scenes of 1-4 MNIST digits on a 64x64 canvas, each with a mask, boxes and a caption.

    Args:
        root, download, progress: where the MNIST files are (as for :class:`MNIST`).
        train: scenes of MNIST's training digits (True) or of its test digits.
        target: the label a sample carries: ``"mask"`` (segmentation), ``"boxes"`` (detection) or
            ``"caption"`` (captioning).
        num_scenes: how many scenes (default 10,000 train, 2,000 test).
        seed: seed of the scenes; the train and test splits draw from different streams of it.
        transform, target_transform, normalize: as for every :class:`ArrayDataset`.

    Attributes:
        data: images (N, 64, 64) uint8; ``masks`` (N, 64, 64) uint8, 0 background, digit d -> d + 1
            (``classes[k]`` names class k); ``boxes`` (N, 4, 4) pixel boxes x_min, y_min, x_max, y_max
            (max exclusive), ``box_labels`` (N, 4) digits, -1 for an empty slot; ``captions`` strings;
            ``sources`` (N, 4) the MNIST indices of the digits (-1 empty).
        targets: each scene's digit count (1-4): the strata of the class-balanced validation split.

    Shape:
        a sample is (image (1, 64, 64) float32, label) with label ``mask`` (64, 64) int64, ``boxes``
        (4, 5) float32 rows x_min, y_min, x_max, y_max, class (class -1: empty slot) or ``caption``
        (5,) int64 tokens: digits left to right, then ``END`` = 10, then ``PAD`` = -100.

    Example:
        >>> scenes = MNISTScenes(train=False, num_scenes=100)
        >>> scenes.captions[0], scenes.masks[0].shape                         # ('4 1 7', (64, 64))
    """

    classes = CLASSES

    def __init__(self, root=None, train=True, download=True, target="mask", num_scenes=None, seed=0,
                 transform=None, target_transform=None, normalize=None, progress=True):
        if target not in TARGETS:
            raise ValueError(f"MNISTScenes: `target` must be one of {', '.join(map(repr, TARGETS))}. "
                             f"Received: target={target!r}")
        self.train = bool(train)
        n = DEFAULT_SCENES[self.train] if num_scenes is None else int_arg("MNISTScenes", "num_scenes",
                                                                        num_scenes, 1)
        self.seed = int_arg("MNISTScenes", "seed", seed, 0)
        self.target = target
        digits = MNIST(root=root, train=self.train, download=download, progress=progress)
        self.root, self.paths = digits.root, digits.paths
        scenes = generate_scenes(digits.data, digits.targets, n, seed=[self.seed, int(self.train)])
        self.masks, self.boxes = scenes["masks"], scenes["boxes"]
        self.box_labels, self.sources = scenes["box_labels"], scenes["sources"]
        self.captions = [caption_of(b, c) for b, c in zip(self.boxes, self.box_labels)]
        counts = (self.box_labels >= 0).sum(axis=1)
        super().__init__(scenes["images"], counts, CLASSES, transform, target_transform, normalize)

    @property
    def task(self):
        """The task whose labels the samples carry (``"segment"``, ``"detect"`` or ``"caption"``)."""
        return {v: k for k, v in TASK_TARGETS.items()}[self.target]

    def labels(self, indices):
        """The ``target`` labels of the scenes at ``indices`` as one batch array (see Shape)."""
        if self.target == "mask":
            return self.masks[indices].astype(np.int64)
        if self.target == "boxes":
            rows = np.concatenate([self.boxes[indices], self.box_labels[indices, :, None]], axis=2)
            return rows.astype(np.float32)
        return self.caption_tokens(indices)

    def caption_tokens(self, indices):
        """Captions as tokens (B, 5): digits left to right, ``END``, then ``PAD``."""
        indices = np.atleast_1d(indices)
        out = np.full((indices.size, MAX_DIGITS + 1), PAD, np.int64)
        for row, i in enumerate(indices):
            words = [int(w) for w in self.captions[i].split()]
            out[row, :len(words) + 1] = words + [END]
        return out

    def __getitem__(self, index):
        index = _check_index(type(self).__name__, index, len(self))
        image, _ = super().__getitem__(index)
        label = self.labels(np.array([index]))[0]
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices):
        """``[images (B, 1, 64, 64) float, labels]`` for ``indices``, labels as ``labels`` gives them."""
        images, _ = super().get_batch(indices)
        return [images, self.labels(_batch_indices(type(self).__name__, indices, len(self)))]

    def extra_repr(self):
        return (f"Split: {'Train' if self.train else 'Test'} digits (seed={self.seed}, "
                f"target={self.target!r})\nFiles: {', '.join(self.paths)}")


# What each task learns from a scene, and the scene datasets' names.
TASK_TARGETS = {"segment": "mask", "detect": "boxes", "caption": "caption"}
TASK_WORDS = {"classify": "classifies whole images (one class per image)",
              "segment": "segments images (a class per pixel)",
              "detect": "detects objects (boxes with classes)",
              "caption": "captions images (a sequence of tokens)"}
SCENE_DATASETS = ("mnist-scenes", "mnist_scenes")
SCENE_MODELS = ("train a segmentation (unet, fcn), detection (grid_detector) or captioning (captioner) "
                "model on it")


def labels_for(dataset, task, model="the model", fn="train"):
    """Keyword arguments for ``get_dataset(dataset, ...)`` that give the labels ``task`` learns.

    A classifier trains on any dataset but the scenes (they have no single class per image); the other
    tasks need the scenes' masks, boxes or captions. A mismatch is a ValueError naming both.
    """
    scenes = isinstance(dataset, str) and dataset.lower() in SCENE_DATASETS
    if task == "classify" and not scenes:
        return {}
    if task in TASK_TARGETS and scenes:
        return {"target": TASK_TARGETS[task]}
    if scenes:
        raise ValueError(f"{fn}: {model} {TASK_WORDS.get(task, task)}, but {dataset} has no single class "
                         f"per image (its scenes have masks, boxes and captions); {SCENE_MODELS}")
    raise ValueError(f"{fn}: {model} {TASK_WORDS.get(task, task)}, but {dataset} has one class per image; "
                     f"use --dataset mnist-scenes")
