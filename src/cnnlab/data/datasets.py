"""The downloaded datasets: MNIST, Fashion-MNIST and CIFAR-10 (``get_dataset`` lists them by name).

Files are looked for in ``<root>/<folder>/`` and ``<root>`` (``root`` = argument, else ``$CNNLAB_DATA``,
else ``~/.cache/cnnlab``; see :mod:`cnnlab.data.download`), and downloaded from the official sources
when missing and ``download=True``.
"""

import os

import numpy as np

from . import download as dl
from .cifar import ARCHIVE, TEST_BATCH, TRAIN_BATCHES, read_cifar_bin, read_cifar_tar
from .dataset import ArrayDataset
from .idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_bytes


def _read_idx_pair(name, images_path, labels_path, num_classes=10):
    """Images (N, H, W) uint8 and labels (N,) int64 from an IDX pair, checked against each other."""
    images = parse_idx(read_bytes(images_path, name), images_path, IMAGES_MAGIC, fn=name)
    labels = parse_idx(read_bytes(labels_path, name), labels_path, LABELS_MAGIC, fn=name)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 IDX files; {images_path!r} holds {images.dtype}, "
                         f"{labels_path!r} holds {labels.dtype}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{name}: label file {labels_path!r} has {labels.shape[0]} labels but image file "
                         f"{images_path!r} has {images.shape[0]} images; expected equal counts")
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: label file {labels_path!r} has label {labels[i]} at index {i} "
                         f"({bad.size} bad labels in all); expected labels in 0..{num_classes - 1}")
    return images, labels.astype(np.int64)


class _IDXDataset(ArrayDataset):
    """MNIST-format dataset: four IDX files, found or downloaded, read whole into memory."""

    folder = None
    classes = None
    resources = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    hint = None

    def __init__(self, root=None, train=True, download=True, transform=None, target_transform=None,
                 normalize=None, progress=True):
        name = type(self).__name__
        self.root = dl.resolve_data_dir(root)
        self.train = bool(train)
        dirs = dl.search_dirs(self.folder, root)
        stems = self.resources[self.train]
        paths = [dl.find_file(dirs, (stem + ".gz", stem)) for stem in stems]
        reason = None
        if any(p is None for p in paths) and download:
            try:
                for i, stem in enumerate(stems):
                    if paths[i] is None:
                        paths[i] = dl.download_resource(self.folder, stem + ".gz", dirs[0], progress=progress)
            except dl.DownloadError as exc:
                reason = str(exc)
        if any(p is None for p in paths):
            expected = [f"{stem}.gz (or uncompressed {stem})" for stem in stems]
            raise dl.not_found_error(name, dirs, expected, reason if download else "not attempted (download=False)",
                                     self.hint)
        self.paths = paths
        data, targets = _read_idx_pair(name, paths[0], paths[1], num_classes=len(type(self).classes))
        super().__init__(data, targets, type(self).classes, transform, target_transform, normalize)

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}\nFiles: {', '.join(self.paths)}"


class MNIST(_IDXDataset):
    """MNIST handwritten digits: 60000 train / 10000 test 28x28 grayscale images, 10 classes.

    Args:
        root: data directory (else ``$CNNLAB_DATA``, else ``~/.cache/cnnlab``); files are looked for in
            ``root/mnist/`` and ``root``.
        train: the training split (True) or the test split.
        download: fetch missing files from the official mirrors (checked against published checksums).
        transform, target_transform: per-sample callables (image Tensor (1, 28, 28); int label).
        normalize: ``(mean, std)`` or ``True`` for the usual (0.1307, 0.3081).

    Shape:
        ``data`` (N, 28, 28) uint8, ``targets`` (N,) int64; a sample is ((1, 28, 28) float32, int).
    """

    folder = "mnist"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    MEAN, STD = (0.1307,), (0.3081,)


class FashionMNIST(_IDXDataset):
    """Fashion-MNIST (Zalando): 60000 train / 10000 test 28x28 grayscale images of clothing, 10 classes.

    Same arguments as :class:`MNIST`; files are looked for in ``root/fashion-mnist/``, ``root``, and
    ``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist`` package).
    ``normalize=True`` uses (0.2860, 0.3530).
    """

    folder = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    MEAN, STD = (0.2860,), (0.3530,)
    hint = "On Debian/Ubuntu: apt-get install dataset-fashion-mnist (installs to /usr/share/datasets/fashion-mnist)."


def _strip_gz(name):
    return name[:-3] if name.endswith(".gz") else name


def _find_cifar(d, train):
    """The CIFAR source in directory ``d``: ('bin', [files]), ('tar', archive) or None.

    Looked for, in order: the official batch files (``.bin`` or ``.bin.gz``, also inside
    ``cifar-10-batches-bin/``); for the train split, other ``data_batch*.bin[.gz]`` files (such as a
    ``data_batch_subset10k.bin.gz``) when the five official batches are not all there; the official archive.
    """
    for sub in (os.path.join(d, "cifar-10-batches-bin"), d):
        if not os.path.isdir(sub):
            continue
        listing = sorted(os.listdir(sub))
        present = {}
        for f in listing:
            if os.path.isfile(os.path.join(sub, f)):
                present.setdefault(_strip_gz(f), os.path.join(sub, f))  # 'x.bin' sorts before 'x.bin.gz'
        if not train:
            if TEST_BATCH in present:
                return "bin", [present[TEST_BATCH]]
            continue
        if all(b in present for b in TRAIN_BATCHES):
            return "bin", [present[b] for b in TRAIN_BATCHES]
        # Official batches only in part (an interrupted copy) are not used on their own.
        others = [p for stem, p in sorted(present.items())
                  if stem.startswith("data_batch") and stem.endswith(".bin") and stem not in TRAIN_BATCHES]
        if others:
            return "bin", others
    archive = os.path.join(d, ARCHIVE)
    if os.path.isfile(archive):
        return "tar", archive
    return None


class CIFAR10(ArrayDataset):
    """CIFAR-10: 32x32 colour images in 10 classes (50000 train / 10000 test), from the binary version.

    Reads ``cifar-10-batches-bin/data_batch_1.bin`` ... ``test_batch.bin`` (plain or ``.gz``), other
    ``data_batch*.bin[.gz]`` files for the train split (e.g. a subset), or the official
    ``cifar-10-binary.tar.gz`` directly with ``tarfile`` (nothing extracted). Never the pickled version.

    Args:
        root: data directory (else ``$CNNLAB_DATA``, else ``~/.cache/cnnlab``); files are looked for in
            ``root/cifar-10/`` and ``root``.
        train: the training split (True) or the test split.
        download: fetch ``cifar-10-binary.tar.gz`` (162 MB) when nothing is found.
        transform, target_transform: per-sample callables (image Tensor (3, 32, 32); int label).
        normalize: ``(mean, std)`` per channel, or ``True`` for the usual CIFAR-10 statistics.

    Shape:
        ``data`` (N, 32, 32, 3) uint8 (height, width, channel), ``targets`` (N,) int64;
        a sample is ((3, 32, 32) float32, int).
    """

    folder = "cifar-10"
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

    def __init__(self, root=None, train=True, download=True, transform=None, target_transform=None,
                 normalize=None, progress=True):
        self.root = dl.resolve_data_dir(root)
        self.train = bool(train)
        dirs = dl.search_dirs(self.folder, root)
        found = next((s for s in (_find_cifar(d, self.train) for d in dirs) if s is not None), None)
        reason = "not attempted (download=False)"
        if found is None and download:
            try:
                found = "tar", dl.download_resource(self.folder, ARCHIVE, dirs[0], progress=progress)
            except dl.DownloadError as exc:
                reason = str(exc)
        if found is None:
            wanted = ", ".join(TRAIN_BATCHES) if self.train else TEST_BATCH
            expected = [f"{wanted} (plain or .gz, optionally inside cifar-10-batches-bin/)"]
            if self.train:
                expected.append("or other data_batch*.bin[.gz] files (e.g. data_batch_subset10k.bin.gz)")
            expected.append(f"or the official archive {ARCHIVE}")
            raise dl.not_found_error("CIFAR10", dirs, expected, reason)
        kind, where = found
        if kind == "tar":
            self.paths = [where]
            data, targets = read_cifar_tar(where, list(TRAIN_BATCHES) if self.train else [TEST_BATCH])
        else:
            self.paths = where
            parts = [read_cifar_bin(p) for p in where]
            data = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
            targets = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        super().__init__(data, targets, type(self).classes, transform, target_transform, normalize)

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}\nFiles: {', '.join(self.paths)}"
