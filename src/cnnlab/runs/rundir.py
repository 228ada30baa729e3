"""Output paths checked before any work: writable run folders, a lock per run, no stale temp files.

Every command that writes checks its paths first (``check_output_dir``, ``check_output_file``), so
a read-only directory, a full or read-only file system or a path under a file is one line naming
the path and the reason, before a single training step. ``RunLock`` keeps two trainings out of one
run directory: the lock file holds the owner's pid and host; a lock whose process is gone on this
host is taken over (with a note), and ``force=True`` takes over any lock. Taking a lock is atomic:
``O_EXCL`` creation, and a stale lock is judged and replaced under ``flock`` on the run directory.
"""

import errno
import json
import os
import secrets
import socket
import tempfile

from ..resources import TMP_PREFIX, special_file_kind  # TMP_PREFIX: atomic_write's temp files

LOCK_NAME = ".lock"


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
    kind = special_file_kind(path)
    if kind is not None:  # a finished file is renamed over the target: that would replace it
        raise PathError(f"{fn}: cannot write to {path!r}: it is {kind}, not a regular file")
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


class _DirectoryGuard:
    """``flock`` on the run directory itself while the lock is judged, taken or released: two
    takers of one stale lock go in turn, so the second sees the first one's fresh lock (reading
    the old lock and replacing it is one step). Without ``flock`` (another OS, a file system that
    refuses it) the guard does nothing and ``O_EXCL`` alone decides."""

    def __init__(self, directory):
        self.directory, self.fd = directory, None

    def __enter__(self):
        try:
            import fcntl

            self.fd = os.open(self.directory, os.O_RDONLY)
        except (ImportError, OSError):
            return self
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:  # ENOLCK and the like: no guard, O_EXCL still refuses a second creator
            pass
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None
        return False


class RunLock:
    """A lock file in a run directory, held while a training writes there (a context manager).

    The lock file is created with ``O_EXCL`` (one creator wins); judging a lock stale and replacing
    it happen under ``flock`` on the directory, so two takers of one stale lock cannot both hold it.
    """

    def __init__(self, directory, fn="train", force=False, log=None):
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, LOCK_NAME)
        self.fn, self.force, self.log = fn, force, log
        self.held = False
        self._token = None  # a random token in the lock file this object wrote

    def _record(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                info = json.loads(f.read(4096))
            return info if isinstance(info, dict) else {}
        except (OSError, ValueError):
            return {}

    def _holder(self):
        info = self._record()
        try:
            return int(info["pid"]), str(info.get("host", ""))
        except (KeyError, TypeError, ValueError):
            return None, ""

    def _not_a_lock_file(self):
        kind = special_file_kind(self.path)
        if kind is not None:
            return PathError(f"{self.fn}: {self.path!r} is {kind}, not a lock file; remove it "
                             f"(cnnlab never deletes it, even with --force) or use another --out")
        return None

    def acquire(self):
        problem = self._not_a_lock_file()
        if problem is not None:
            raise problem
        token = secrets.token_hex(8)  # inode numbers are reused at once: the record says whose
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "token": token}).encode()
        with _DirectoryGuard(self.directory):
            try:
                fd = self._create()
            except FileExistsError:
                self._take_over()
                try:
                    fd = self._create()
                except FileExistsError:  # a writer that does not take the guard came first
                    raise PathError(f"{self.fn}: could not take the lock {self.path!r}: another "
                                    "run took it meanwhile") from None
            with os.fdopen(fd, "wb") as f:
                f.write(record)
            self._token = token
            self.held = True
        return self

    def _create(self):
        try:
            return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise
        except OSError as e:
            raise PathError(f"{self.fn}: cannot write to {self.path!r}: {_reason(e)}") from None

    def _take_over(self):
        """Remove a lock whose holder is gone (or any, with ``force``); refuse a live one. Runs
        under the directory guard."""
        problem = self._not_a_lock_file()
        if problem is not None:
            raise problem
        pid, host = self._holder()
        here = host == socket.gethostname()
        stale = pid is not None and here and not _process_alive(pid)
        if not (stale or self.force):
            where = f" on {host}" if host and not here else ""
            who = f"process {pid}{where}" if pid else "another run"
            raise PathError(f"{self.fn}: run directory {self.directory!r} is in use by {who} "
                            f"(lock file {self.path}); use another --out, or --force if that run "
                            "is gone")
        self._judged()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise PathError(f"{self.fn}: cannot take over the lock {self.path!r}: "
                            f"{_reason(e)}") from None
        if self.log:
            why = f"its process {pid} is gone" if stale else "--force"
            self.log(f"took over the lock {self.path} ({why})")

    def _judged(self):
        """A test hook: runs between judging the lock's holder gone and removing its lock."""

    def release(self):
        """Remove the lock file, if it is still the one this lock created (a ``--force`` taker may
        have replaced it: that one is left alone)."""
        if not self.held:
            return
        self.held = False
        with _DirectoryGuard(self.directory):
            if self._record().get("token") == self._token:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
