"""The machine's limits, checked before they are hit: file names, special files, memory.

Every writer puts its bytes in a temporary file beside the target and renames it into place
(``atomic_write``); the temporary name is kept within the file system's name limit, so any name
that can be saved to can also be written through a temporary file. Readers refuse FIFOs, devices
and sockets by name before opening them (opening a FIFO would block until a writer comes).
``available_memory`` is what a plan of allocations is compared with before it is attempted.
This module sits at the bottom of the package: it imports nothing from cnnlab.
"""

import os
import secrets
import stat

TMP_PREFIX = ".tmp-"  # run folders remove files so named that a killed writer left behind
_DEFAULT_NAME_MAX = 255


def name_max(directory):
    """The longest file name (in bytes) that ``directory``'s file system accepts."""
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or an unknown limit
        return _DEFAULT_NAME_MAX


def temp_path(path, prefix=TMP_PREFIX):
    """A fresh temporary path beside ``path``: ``prefix``, 8 random hex digits, then as much of
    ``path``'s own name as fits in the file system's name limit (a 250-character name still
    gets a temporary twin)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    head = f"{prefix}{secrets.token_hex(4)}-"
    room = max(0, name_max(directory) - len(head.encode()))
    tail = os.path.basename(path).encode("utf-8", "surrogateescape")[:room]
    return os.path.join(directory, head + tail.decode("utf-8", "ignore"))


def atomic_write(path, write, before_rename=None):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it over it.

    A crash, a full disk or an exception leaves ``path`` as it was and no temporary file. A
    FIFO or a device at ``path`` is refused (ValueError): the rename would replace it. An
    ``OSError`` while writing names ``path`` (a full disk's ENOSPC otherwise names no file).
    ``before_rename()``, if given, runs once the data is on disk but not yet in place (a test hook).
    """
    path = os.fspath(path)
    kind = special_file_kind(path)
    if kind is not None and kind != "a directory":  # (a directory: os.replace refuses it)
        raise ValueError(f"cannot write to {path!r}: it is {kind}, not a regular file (a "
                         "finished file is renamed into place, which would replace it)")
    for _ in range(100):  # O_EXCL: never write into a file someone else made under that name
        tmp = temp_path(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise type(e)(e.errno, e.strerror, path) from None
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(f"atomic_write: no free temporary name beside {path!r}")
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            if e.filename is not None or e.errno is None:
                raise
            raise type(e)(e.errno, e.strerror, path) from None
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------- special files
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"))


def special_file_kind(path):
    """What ``path`` is when it is not a regular file ("a FIFO (named pipe)", "a directory", ...);
    None for a regular file (links followed) or a path that does not exist."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), None)


def check_regular_file(path, fn, what="file"):
    """Refuse ``path`` by name when it is a FIFO, a device or a socket.

    Opening a FIFO blocks until a writer comes, and a device can be endless: both are refused
    before they are opened. A missing path or a directory is left to the caller, which names
    them in its own words.
    """
    kind = special_file_kind(path)
    if kind is not None and kind != "a directory":
        raise ValueError(f"{fn}: {os.fspath(path)!r} is {kind}, not a regular {what}")
    return path


# ---------------------------------------------------------------------- memory
def _meminfo_available():
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _address_space_left():
    """Bytes the process may still map under ``ulimit -v`` (RLIMIT_AS); None when unlimited."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError, AttributeError):
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = 0
    return max(0, soft - used)


def available_memory():
    """Bytes this process can still allocate: the system's available memory (``MemAvailable``),
    or less under an address-space limit (``ulimit -v``); None when it cannot be told."""
    known = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    return min(known) if known else None


def format_bytes(n):
    """``1536`` -> ``'1.5 KiB'``; binary units up to PiB."""
    if n < 1024:
        return f"{int(n):,} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024
        if n < 1024 or unit == "PiB":
            return f"{n:,.1f} {unit}"


def check_fits_in_memory(fn, nbytes, what, hint):
    """Refuse a plan of ``nbytes`` that cannot fit in the memory available now, before allocating:
    a ValueError (a setting that does not fit this machine), so the CLI's exit status is 2.

    The message gives both numbers and ``hint`` (what to change), e.g.
    ``train: one batch of 64 images of 1x100000x100000 float32 needs 2.3 PiB, but 20.1 GiB of
    memory is available; use a smaller --resize or --batch-size``.
    """
    free = available_memory()
    if free is not None and nbytes > free:
        raise ValueError(f"{fn}: {what} needs {format_bytes(nbytes)}, but {format_bytes(free)} "
                          f"of memory is available; {hint}")
