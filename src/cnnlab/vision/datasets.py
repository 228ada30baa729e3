"""torchvision's datasets: MNIST, FashionMNIST, CIFAR10 and a lazy ImageFolder, as in PyTorch.

Samples are ``(PIL image, int label)`` until a ``transform`` turns the image into a Tensor, as in
torchvision. The files are found in torchvision's layout under ``root`` (``root/MNIST/raw``,
``root/FashionMNIST/raw``, ``root/cifar-10-batches-bin``) or cnnlab's (``root/mnist``,
``root/fashion-mnist``, ``root/cifar-10``, or ``root`` itself); when ``root`` holds neither,
``$CNNLAB_DATA`` is searched too, so data already on the machine is used rather than fetched
again. ``download=True`` fetches the official files (checked against published checksums) into
``root`` in torchvision's layout. CIFAR-10 is read from its binary version only: the "python
version" is pickled, and unpickling a file runs whatever code it holds.
"""

import os

import numpy as np

from ..data import download as dl
from ..data.cifar import ARCHIVE, TEST_BATCH, TRAIN_BATCHES, read_cifar_bin, read_cifar_tar
from ..data.dataset import Dataset
from ..data.datasets import _find_cifar, _read_idx_pair
from ..data.transforms import Compose, Normalize, ToTensor
from ..tensor import Tensor

__all__ = ["VisionDataset", "MNIST", "FashionMNIST", "CIFAR10", "FakeData", "DatasetFolder",
           "ImageFolder", "IMG_EXTENSIONS", "default_loader", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _root(name, root):
    if root is None:
        return dl.default_data_dir()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{name}: `root` must be a path (str or os.PathLike). Received an object "
                        f"of type {type(root).__name__}")
    return os.path.expanduser(os.fspath(root))


def _bases(root):
    """``root``, then ``$CNNLAB_DATA`` when it is set and is another directory."""
    bases = [root]
    env = os.environ.get(dl.ENV_VAR)
    if env and os.path.abspath(os.path.expanduser(env)) != os.path.abspath(root):
        bases.append(os.path.expanduser(env))
    return bases


def _tensor_only_pipeline(transform):
    """Whether ``transform`` is ToTensor, then optionally Normalize steps (a batchable pipeline)."""
    steps = transform.transforms if isinstance(transform, Compose) else [transform]
    return (bool(steps) and type(steps[0]) is ToTensor
            and all(type(t) is Normalize for t in steps[1:]))


class VisionDataset(Dataset):
    """Base of the torchvision-style datasets: ``root``, ``transform``, ``target_transform``."""

    def __init__(self, root=None, transform=None, target_transform=None):
        name = type(self).__name__
        self.root = _root(name, root)
        for what, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}: `{what}` must be callable or None. "
                                f"Received {type(fn).__name__}")
        self.transform = transform
        self.target_transform = target_transform

    def _transformed(self, sample, target):
        """``(sample, target)`` through ``transform`` and ``target_transform`` where given (torchvision's
        StandardTransform)."""
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"]
        lines += [f"    {line}" for line in self.extra_repr().splitlines() if line]
        if self.transform is not None:
            lines.append(f"    StandardTransform\n    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class _ImageArrayDataset(VisionDataset):
    """Images held in memory as uint8 (N, H, W[, C]); samples are Pillow images, as in torchvision.

    When ``transform`` is ``ToTensor()`` (optionally followed by ``Normalize``) and there is no
    ``target_transform``, the DataLoader gathers whole batches with one fancy index
    (``batchable``/``get_batch``), with the same values as sample by sample.
    """

    _mode = None

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return int(self._images.shape[0])

    def __getitem__(self, index):
        from PIL import Image

        index = int(index)
        img = Image.fromarray(self._images[index], mode=self._mode)
        target = int(self._labels[index])
        return self._transformed(img, target)

    @property
    def batchable(self):
        return (self.transform is not None and self.target_transform is None
                and _tensor_only_pipeline(self.transform))

    def get_batch(self, indices):
        """``[images (B, C, H, W), labels (B,)]`` for ``indices``, as sample by sample."""
        images = self._images[np.asarray(indices)]
        if images.ndim == 3:
            images = images[..., None]                                  # (B, H, W) -> (B, H, W, 1)
        x = ToTensor()(images)._data                                     # -> (B, C, H, W)
        steps = self.transform.transforms if isinstance(self.transform, Compose) else []
        for t in steps[1:]:
            x = t(x)
        return [x, self._labels[np.asarray(indices)]]

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


class MNIST(_ImageArrayDataset):
    """MNIST as ``torchvision.datasets.MNIST``: 60000 train / 10000 test 28x28 grayscale digits.

    Args:
        root: the data directory; files are found in ``root/MNIST/raw`` (torchvision),
            ``root/mnist`` or ``root`` (cnnlab), and then under ``$CNNLAB_DATA`` the same way.
        train: the training split (True) or the test split.
        transform: applied to the Pillow image (mode ``L``), e.g. ``transforms.ToTensor()``.
        target_transform: applied to the int label.
        download: fetch missing files into ``root/MNIST/raw``.

    ``data`` is a uint8 Tensor (N, 28, 28), ``targets`` an int64 Tensor (N,).
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    _folder = "mnist"
    _mode = "L"
    _resources = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                  False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform, target_transform)
        name = type(self).__name__
        self.train = bool(train)
        raw = os.path.join(self.root, name, "raw")
        dirs = []
        for base in _bases(self.root):
            dirs += [os.path.join(base, name, "raw"), os.path.join(base, name),
                     os.path.join(base, self._folder), base]
        dirs += list(dl.SYSTEM_DIRS.get(self._folder, ()))
        stems = self._resources[self.train]
        paths = [self._find(dirs, stem) for stem in stems]
        reason = "not attempted (download=False)"
        if any(p is None for p in paths) and download:
            try:
                for i, stem in enumerate(stems):
                    if paths[i] is None:
                        paths[i] = dl.download_resource(self._folder, stem + ".gz", raw)
                reason = None
            except dl.DownloadError as exc:
                reason = str(exc)
        if any(p is None for p in paths):
            expected = [f"{stem}.gz (or uncompressed {stem})" for stem in stems]
            raise dl.not_found_error(name, dirs, expected, reason)
        self.paths = paths
        images, labels = _read_idx_pair(name, paths[0], paths[1], num_classes=len(self.classes))
        self._images = images
        self._labels = labels
        self.data = Tensor(images)
        self.targets = Tensor(labels)

    @staticmethod
    def _find(dirs, stem):
        """The first of ``stem``, ``stem.gz`` over ``dirs`` (torchvision keeps both)."""
        for d in dirs:
            for name in (stem, stem + ".gz"):
                path = os.path.join(d, name)
                if os.path.isfile(path):
                    return path
        return None


class FashionMNIST(MNIST):
    """Fashion-MNIST as ``torchvision.datasets.FashionMNIST``; same arguments and layout as
    ``MNIST`` (``root/FashionMNIST/raw``, cnnlab's ``root/fashion-mnist``)."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    _folder = "fashion-mnist"


class CIFAR10(_ImageArrayDataset):
    """CIFAR-10 as ``torchvision.datasets.CIFAR10``, read from the official binary version.

    Args:
        root: the data directory; found there: ``cifar-10-batches-bin/`` (the extracted binary
            version), ``cifar-10-binary.tar.gz`` (read without extracting), or cnnlab's
            ``root/cifar-10``; then the same under ``$CNNLAB_DATA``.
        train, transform, target_transform: as for ``MNIST`` (images are RGB).
        download: fetch ``cifar-10-binary.tar.gz`` (162 MB) into ``root``.

    torchvision's ``cifar-10-batches-py`` is never read: it is pickled, and unpickling runs code.
    ``data`` is a uint8 array (N, 32, 32, 3), ``targets`` a list of ints, as in torchvision.
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
    _mode = "RGB"

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform, target_transform)
        name = type(self).__name__
        self.train = bool(train)
        dirs = []
        for base in _bases(self.root):
            dirs += [base, os.path.join(base, "cifar-10")]
        found = next((s for s in (_find_cifar(d, self.train) for d in dirs) if s is not None), None)
        reason = "not attempted (download=False)"
        if found is None and download:
            try:
                found = "tar", dl.download_resource("cifar-10", ARCHIVE, self.root)
            except dl.DownloadError as exc:
                reason = str(exc)
        if found is None:
            wanted = ", ".join(TRAIN_BATCHES) if self.train else TEST_BATCH
            expected = [f"cifar-10-batches-bin/{wanted} (the binary version, plain or .gz)",
                        f"or the official archive {ARCHIVE}"]
            pickled = [os.path.join(d, f) for d in dirs
                       for f in ("cifar-10-batches-py", "cifar-10-python.tar.gz")
                       if os.path.exists(os.path.join(d, f))]
            hint = None
            if pickled:
                hint = (f"Found the pickled python version ({pickled[0]}), which cnnlab never "
                        f"reads (unpickling runs code): download=True fetches the binary version, "
                        f"{ARCHIVE}, into {self.root}")
            raise dl.not_found_error(name, dirs, expected, reason, hint)
        kind, where = found
        if kind == "tar":
            self.paths = [where]
            members = list(TRAIN_BATCHES) if self.train else [TEST_BATCH]
            images, labels = read_cifar_tar(where, members)
        else:
            self.paths = where
            parts = [read_cifar_bin(p) for p in where]
            images = np.concatenate([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
        self._images = images
        self._labels = labels
        self.data = images
        self.targets = labels.tolist()


class FakeData(VisionDataset):
    """Random images with random labels, to try a pipeline without data (torchvision's FakeData).

    Sample ``i`` is drawn from ``numpy.random.default_rng(i + random_offset)``: the same every
    time, and independent of the global generator. Images are uint8 Pillow images (their pixel
    values differ from torchvision's, which come from ``torch.randn``).

    Args:
        size: number of samples. Default: 1000.
        image_size: (C, H, W) with C 1 or 3. Default: (3, 224, 224).
        num_classes: labels are in ``0..num_classes - 1``. Default: 10.
        transform, target_transform: as for the other datasets.
        random_offset: shifts every sample's seed.
    """

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(None, transform, target_transform)
        if len(image_size) != 3 or image_size[0] not in (1, 3):
            raise ValueError(f"FakeData: `image_size` must be (C, H, W) with C 1 or 3. Received: "
                             f"image_size={image_size!r}")
        self.size, self.image_size = int(size), tuple(image_size)
        self.num_classes = int(num_classes)
        self.random_offset = int(random_offset)

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        from PIL import Image

        if not 0 <= index < self.size:
            raise IndexError(f"FakeData: index {index} is out of range for {self.size} samples")
        rng = np.random.default_rng(int(index) + self.random_offset)
        c, h, w = self.image_size
        pixels = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        img = Image.fromarray(pixels[:, :, 0] if c == 1 else pixels, mode="L" if c == 1 else "RGB")
        return self._transformed(img, target)


# ---------------------------------------------------------------------- folders of image files
def pil_loader(path):
    """Open an image file with Pillow as RGB (torchvision's default loader)."""
    from PIL import Image

    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


default_loader = pil_loader


def find_classes(directory):
    """Class names (the sorted sub-folders of ``directory``) and their indices."""
    classes = sorted(e.name for e in os.scandir(directory)
                     if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"ImageFolder: no class folders in {directory!r}; expected one "
                                f"sub-folder per class")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
    """``(path, class index)`` of every valid file, class by class, files sorted (torchvision)."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("ImageFolder: give exactly one of `extensions` and `is_valid_file`")
    if is_valid_file is None:
        exts = tuple(e.lower() for e in extensions)

        def is_valid_file(path):
            return path.lower().endswith(exts)
    samples = []
    empty = []
    for cls in sorted(class_to_idx):
        folder = os.path.join(directory, cls)
        count = 0
        for dirpath, _, filenames in sorted(os.walk(folder, followlinks=True)):
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[cls]))
                    count += 1
        if count == 0:
            empty.append(cls)
    if empty and not allow_empty:
        kinds = (f"Supported extensions are: {', '.join(extensions)}" if extensions
                 else "(is_valid_file)")
        raise FileNotFoundError(f"ImageFolder: found no valid file for the classes "
                                f"{', '.join(empty)} in {directory!r}. {kinds}")
    return samples


class DatasetFolder(VisionDataset):
    """Files in ``root/<class>/...``, loaded one at a time by ``loader`` in ``__getitem__``.

    Nothing is decoded up front, so the folder may be larger than memory and hold images of
    different sizes (a transform such as ``RandomResizedCrop`` makes batches of one size).
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, transform, target_transform)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"{type(self).__name__}: `root` {self.root!r} is not a "
                                    f"directory; expected a folder with one sub-folder per class")
        if not callable(loader):
            raise TypeError(f"{type(self).__name__}: `loader` must be callable. "
                            f"Received {type(loader).__name__}")
        self.classes, self.class_to_idx = find_classes(self.root)
        self.samples = make_dataset(self.root, self.class_to_idx, extensions, is_valid_file,
                                    allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.targets = [s[1] for s in self.samples]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        return self._transformed(sample, target)


class ImageFolder(DatasetFolder):
    """``torchvision.datasets.ImageFolder``: ``root/<class>/`` images, decoded lazily as RGB.

    Args:
        root: the folder with one sub-folder per class (sorted names give the labels).
        transform: applied to each Pillow image, e.g.
            ``Compose([RandomResizedCrop(224), ToTensor()])``.
        target_transform: applied to each int label.
        loader: opens one file (default: Pillow, converted to RGB).
        is_valid_file: picks the files to use instead of the image extensions.
        allow_empty: allow class folders without a valid file.

    Attributes: ``classes``, ``class_to_idx``, ``samples``/``imgs`` (path, label), ``targets``.
    For cnnlab's in-memory folder (one array, the CLI's fast path) see ``cnnlab.data.ImageFolder``.
    """

    def __init__(self, root, transform=None, target_transform=None, loader=None, is_valid_file=None,
                 allow_empty=False):
        extensions = None if is_valid_file else IMG_EXTENSIONS
        super().__init__(root, loader or default_loader, extensions, transform, target_transform,
                         is_valid_file, allow_empty)
        self.imgs = self.samples
