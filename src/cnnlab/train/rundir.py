"""Output paths checked before any work: writable run folders, a lock per run, no stale temp files.

Every command that writes checks its paths first (``check_output_dir``, ``check_output_file``), so
a read-only directory, a full or read-only file system or a path under a file is one line naming
the path and the reason, before a single training step. ``RunLock`` keeps two trainings out of one
run directory: the lock file holds the owner's pid and host; a lock whose process is gone on this
host is taken over (with a note), and ``force=True`` takes over any lock.
"""

import errno
import json
import os
import socket
import tempfile

LOCK_NAME = ".lock"
TMP_PREFIX = ".tmp-"  # checkpoint.atomic_write's temporary files


class PathError(ValueError):
    """An output path that cannot be written (the CLI reports it in one line, exit status 2)."""


def _reason(e):
    """A short, lower-case reason from an OSError ("permission denied", "read-only file system")."""
    text = e.strerror or (errno.errorcode.get(e.errno) if e.errno else None) or str(e)
    return text[:1].lower() + text[1:]


def check_output_dir(path, fn):
    """Create directory ``path`` if needed; prove it writable by writing and removing a probe."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        check_output_dir_creatable(path, fn)
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX + "probe-", dir=path)
        try:
            os.write(fd, b"cnnlab write probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        where = e.filename if isinstance(e.filename, str) and e.filename != path else path
        raise PathError(f"{fn}: cannot write to {where!r}: {_reason(e)}") from None
    return path


def check_output_dir_creatable(path, fn):
    """Cheap early check, creating nothing: ``path`` is a writable directory, or its nearest
    existing ancestor is one (so ``check_output_dir`` can create it later)."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise PathError(f"{fn}: cannot write to {path!r}: it is a file, not a directory")
    ancestor = path
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise PathError(f"{fn}: cannot create {path!r}: {ancestor!r} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only_fs(ancestor) else "permission denied"
        raise PathError(f"{fn}: cannot write to {ancestor!r}: {reason}")
    return path


def _read_only_fs(path):
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def check_output_file(path, fn):
    """Check that file ``path`` can be written: its folder is created and probed (not a folder)."""
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise PathError(f"{fn}: cannot write to {path!r}: it is a directory, not a file")
    check_output_dir(os.path.dirname(os.path.abspath(path)), fn)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise PathError(f"{fn}: cannot write to {path!r}: the file exists and is read-only")
    return path


def remove_orphaned_temp_files(directory, log=None):
    """Delete temporary files a crashed writer left in ``directory``; returns their names."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(TMP_PREFIX)]
    except OSError:
        return []
    for name in names:
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            continue
    if names and log:
        log(f"removed {len(names)} unfinished temporary file(s) left in {directory} by an earlier "
            "run")
    return names


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class RunLock:
    """A lock file in a run directory, held while a training writes there (a context manager)."""

    def __init__(self, directory, fn="train", force=False, log=None):
        self.path = os.path.join(os.fspath(directory), LOCK_NAME)
        self.fn, self.force, self.log = fn, force, log
        self.held = False

    def _holder(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                info = json.loads(f.read(4096))
            return int(info["pid"]), str(info.get("host", ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None, ""

    def acquire(self):
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                self._take_over()
                continue
            except OSError as e:
                raise PathError(f"{self.fn}: cannot write to {self.path!r}: {_reason(e)}") from None
            with os.fdopen(fd, "wb") as f:
                f.write(record)
            self.held = True
            return self
        raise PathError(f"{self.fn}: could not take the lock {self.path!r}: another run took it "
                        "meanwhile")

    def _take_over(self):
        pid, host = self._holder()
        here = host == socket.gethostname()
        stale = pid is not None and here and not _process_alive(pid)
        if not (stale or self.force):
            where = f" on {host}" if host and not here else ""
            who = f"process {pid}{where}" if pid else "another run"
            folder = os.path.dirname(self.path)
            raise PathError(f"{self.fn}: run directory {folder!r} is in use by {who} (lock file "
                            f"{self.path}); use another --out, or --force if that run is gone")
        if self.log:
            why = f"its process {pid} is gone" if stale else "--force"
            self.log(f"took over the lock {self.path} ({why})")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def release(self):
        if self.held:
            self.held = False
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
