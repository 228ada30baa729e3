"""Where datasets live on disk, and how missing files are fetched: verified, atomic downloads.

The data directory is, in order: the ``root`` argument (the command line's ``--data-dir``), else
``$CNNLAB_DATA``, else ``~/.cache/cnnlab``. Within it a dataset's files are looked for in
``<root>/<folder>/`` (e.g. ``fashion-mnist/``) and then directly in ``<root>``; a few datasets also have
system locations (Debian's ``dataset-fashion-mnist`` package installs to ``/usr/share/datasets/fashion-mnist``).
A download goes to a temporary file in the destination directory, is checked against the published
checksums, and only then renamed into place, so an interrupted or corrupt download never leaves a file
that looks complete.
"""

import hashlib
import os
import sys
import tempfile
import time
import urllib.request

ENV_VAR = "CNNLAB_DATA"

# Directories outside the data directory where packages install datasets, searched last.
SYSTEM_DIRS = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
}

# Mirrors tried in order for each dataset folder.
MIRRORS = {
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "cifar-10": (
        "https://www.cs.toronto.edu/~kriz/",
    ),
}

# Published checksums of the official files, keyed by (folder, file name). Fashion-MNIST's MD5s are in
# its README, MNIST's are the ones torchvision and TensorFlow check, CIFAR-10's MD5 is on its home page.
KNOWN_CHECKSUMS = {
    ("fashion-mnist", "train-images-idx3-ubyte.gz"): {
        "md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "sha256": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"},
    ("fashion-mnist", "train-labels-idx1-ubyte.gz"): {
        "md5": "25c81989df183df01b3e8a0aad5dffbe",
        "sha256": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"},
    ("fashion-mnist", "t10k-images-idx3-ubyte.gz"): {
        "md5": "bef4ecab320f06d8554ea6380940ec79",
        "sha256": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"},
    ("fashion-mnist", "t10k-labels-idx1-ubyte.gz"): {
        "md5": "bb300cfdad3c16e7a12a480ee83cd310",
        "sha256": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
    ("mnist", "train-images-idx3-ubyte.gz"): {
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
    ("mnist", "train-labels-idx1-ubyte.gz"): {
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
    ("mnist", "t10k-images-idx3-ubyte.gz"): {
        "md5": "9fb629c4189551a2d022fa330f9573f3",
        "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
    ("mnist", "t10k-labels-idx1-ubyte.gz"): {
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
        "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
    ("cifar-10", "cifar-10-binary.tar.gz"): {
        "md5": "c32a1d4ab5d03f1284b67883e8d87530",
        "sha256": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"},
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are in none of the searched directories and could not be downloaded."""


class DownloadError(OSError):
    """A download failed: no connection, an HTTP error, or the connection closed early."""


class ChecksumError(DownloadError):
    """A downloaded file's checksum differs from the published one."""


def default_data_dir():
    """``$CNNLAB_DATA`` if set (and not empty), else ``~/.cache/cnnlab``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return os.path.expanduser(env)
    return os.path.join(os.path.expanduser("~"), ".cache", "cnnlab")


def resolve_data_dir(root=None):
    """The data directory: ``root`` if given, else ``$CNNLAB_DATA``, else ``~/.cache/cnnlab``."""
    if root is None:
        return default_data_dir()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"resolve_data_dir: `root` must be a path (str or os.PathLike) or None. "
                        f"Received an object of type {type(root).__name__}")
    return os.path.expanduser(os.fspath(root))


def search_dirs(folder, root=None):
    """Directories searched for a dataset's files, in order: ``root/folder``, ``root``, system locations."""
    base = resolve_data_dir(root)
    dirs = [os.path.join(base, folder), base]
    dirs.extend(SYSTEM_DIRS.get(folder, ()))
    return dirs


def find_file(dirs, names):
    """The first existing file ``d/name`` over ``dirs`` (outer loop) and ``names`` (inner), or None."""
    for d in dirs:
        for name in names:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                return path
            if os.path.isdir(path):
                raise ValueError(f"find_file: {path!r} is a directory where the data file {name} "
                                 f"should be; remove or rename it")
    return None


def file_digest(path, algorithm="sha256", chunk_size=1 << 20):
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def check_integrity(path, md5=None, sha256=None):
    """True if ``path`` exists and matches every checksum given."""
    if not os.path.isfile(path):
        return False
    if md5 is not None and file_digest(path, "md5") != md5.lower():
        return False
    if sha256 is not None and file_digest(path, "sha256") != sha256.lower():
        return False
    return True


def _progress_bar(total, desc, enabled):
    """A tqdm bar when tqdm is installed and progress is wanted, else None (a note goes to stderr)."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        size = f" ({total / 1e6:.1f} MB)" if total else ""
        print(f"Downloading {desc}{size} ...", file=sys.stderr)
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False)


DEADLINE = 30 * 60  # seconds a whole download may take, however slowly the bytes trickle in


def download_url(url, path, md5=None, sha256=None, progress=True, timeout=60, chunk_size=1 << 20,
                 deadline=DEADLINE):
    """Download ``url`` to ``path``, verified and atomic.

    The bytes go to a temporary file next to ``path``; the file is renamed to ``path`` only after every
    byte announced by the server arrived and the checksums match. On any failure (network error,
    checksum mismatch, Ctrl-C) the temporary file is removed, so no partial file is ever left behind.

    Args:
        url: the address to fetch (any scheme ``urllib.request.urlopen`` supports).
        path: where the finished file goes; its directory is created if needed.
        md5, sha256: expected hex digests, or None to skip that check.
        progress: show a tqdm progress bar (when tqdm is installed).
        timeout: seconds to wait for the server at each step.
        deadline: seconds the whole download may take (a server sending a byte now and then would
            never trip ``timeout``).

    Returns:
        ``path``.

    Raises:
        DownloadError: no connection, an HTTP error, or fewer bytes than the server announced.
        ChecksumError: the bytes arrived but a checksum differs (the file is deleted).
    """
    path = os.fspath(path)
    fd, tmp = _part_file(path)
    end = time.monotonic() + deadline
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except OSError as exc:  # URLError (no route, DNS, refused), HTTPError (404, 403), timeouts
                raise DownloadError(f"download_url: could not fetch {url}: {exc}") from exc
            with response:
                headers = getattr(response, "headers", None)
                length = headers.get("Content-Length") if headers is not None else None
                total = int(length) if length and str(length).isdigit() else None
                hashes, received = _copy_response(response, out, url, os.path.basename(path), total, progress,
                                                  chunk_size, end, deadline)
        if total is not None and received != total:
            raise DownloadError(f"download_url: {url} ended after {received} bytes; the server announced {total}")
        for algorithm, expected in (("md5", md5), ("sha256", sha256)):
            if expected is not None and hashes[algorithm].hexdigest() != expected.lower():
                raise ChecksumError(f"download_url: {url} has {algorithm} {hashes[algorithm].hexdigest()} "
                                    f"but expected {expected.lower()} ({received} bytes received); "
                                    f"the file was deleted")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _part_file(path):
    """(fd, name) of a new temporary file beside ``path`` (its directory created), for an atomic rename."""
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    try:
        os.makedirs(directory, exist_ok=True)
        return tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    except OSError as exc:  # read-only data directory, no permission, disk full
        raise DownloadError(f"download_url: cannot write {name} into {directory}: {exc}") from exc


def _copy_response(response, out, url, name, total, progress, chunk_size, end, deadline):
    """Copy the response body to file ``out`` chunk by chunk, hashing it and showing progress, until
    it ends or the ``end`` time passes. Returns ({"md5": ..., "sha256": ...} hashes, bytes received)."""
    hashes = {"md5": hashlib.md5(), "sha256": hashlib.sha256()}
    received = 0
    bar = _progress_bar(total, name, progress)
    try:
        while True:
            if time.monotonic() > end:
                raise DownloadError(f"download_url: {url} did not finish within the "
                                    f"{deadline:g} s deadline ({received} bytes "
                                    f"received); the file was deleted")
            try:  # read1: what has arrived, so the deadline is checked between trickles
                chunk = getattr(response, "read1", response.read)(chunk_size)
            except OSError as exc:  # connection reset, timeout, incomplete read
                raise DownloadError(f"download_url: connection to {url} failed after "
                                    f"{received} bytes: {exc}") from exc
            if not chunk:
                return hashes, received
            out.write(chunk)
            for h in hashes.values():
                h.update(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()


def download_resource(folder, filename, directory, progress=True, mirrors=None):
    """Fetch the official ``filename`` of dataset ``folder`` into ``directory``, trying each mirror.

    Checksums come from :data:`KNOWN_CHECKSUMS`. Returns the path; raises :class:`DownloadError` naming
    every URL tried and why it failed when no mirror delivers a verified file.
    """
    mirrors = MIRRORS.get(folder, ()) if mirrors is None else mirrors
    sums = KNOWN_CHECKSUMS.get((folder, filename), {})
    path = os.path.join(directory, filename)
    created = _missing_dirs(directory)  # removed again, if still empty, when no mirror delivers
    failures = []
    try:
        for base in mirrors:
            url = base + filename
            try:
                return download_url(url, path, md5=sums.get("md5"), sha256=sums.get("sha256"),
                                    progress=progress)
            except DownloadError as exc:
                failures.append(str(exc))
    except BaseException:
        _remove_empty(created)
        raise
    _remove_empty(created)
    if not failures:
        raise DownloadError(f"download_resource: no download source is known for {folder}/{filename}")
    raise DownloadError("; ".join(failures))


def _missing_dirs(directory):
    """``directory`` and its ancestors that do not exist yet, deepest first."""
    missing, d = [], os.path.abspath(directory)
    while not os.path.exists(d) and os.path.dirname(d) != d:
        missing.append(d)
        d = os.path.dirname(d)
    return missing


def _remove_empty(dirs):
    for d in dirs:
        try:
            os.rmdir(d)  # only succeeds on an empty folder
        except OSError:
            return


def not_found_error(dataset, dirs, expected, reason=None, hint=None):
    """Build the one error raised when a dataset cannot be found: what was searched, for what, and how to fix it."""
    lines = [f"{dataset}: dataset files not found.",
             "  Searched directories (in order):"]
    lines += [f"    {d}" for d in dirs]
    lines.append("  Expected files:")
    lines += [f"    {e}" for e in expected]
    if reason:
        lines.append(f"  Download failed: {reason}")
    lines.append(f"  To fix: run once with download=True on a machine that is online, or put the files in "
                 f"{dirs[0]}, or point --data-dir / ${ENV_VAR} at a directory that holds them.")
    if hint:
        lines.append(f"  {hint}")
    return DatasetNotFoundError("\n".join(lines))
