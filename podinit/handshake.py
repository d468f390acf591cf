"""The files podinit containers of one pod exchange in their shared directory.

docs/PROTOCOL.md is the specification; this module is its only implementation.
For a podinit named NAME (PODINIT_NAME; the main container's default is
"main") the shared directory holds:

    NAME.lock   held open read-write and flock()ed exclusively by NAME's
                podinit while it lives; when the process dies, even by
                SIGKILL, the kernel closes it (an inotify IN_CLOSE_WRITE) and
                drops the lock
    NAME.run    {"run_id", "name", "role", "pid", "started", "restart_policy"}
    NAME.ready  {"run_id", "time"}: the process passed its readiness check
    NAME.hold   {"run_id", "signal", "since", "until"}: a sidecar holds a
                TERM or INT until its peers end (informational)
    NAME.exit   {"run_id", "code", "signal", "started", "ended", "final", ...}

Every record carries the writer's run id, so a record left by an earlier run
of a container (an emptyDir outlives container restarts) is told apart from
the current run's. Writes are atomic and never follow a symlink; reads are
bounded, refuse anything but a regular file, and treat garbage as absent.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os

from podinit import log

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

MAX_RECORD_BYTES = 64 * 1024
_warned: set = set()  # (path, reason) already reported: a bad file is named once
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


PREALLOCATED_BYTES = 4096  # an exit record is far smaller
LOCK_ATTEMPTS = 200  # x 5 ms: a peer's probe holds a shared lock for microseconds


class SharedDirError(Exception):
    """The shared directory cannot be used: a start-up error (exit code 2)."""


def path(shared_dir: str, name: str, kind: str) -> str:
    return os.path.join(shared_dir, f"{name}.{kind}")


class Member:
    """This podinit's place in the shared directory, from start to exit."""

    def __init__(self, shared_dir: str, name: str, role: str, restart_policy: str) -> None:
        self.shared_dir, self.name, self.role = shared_dir, name, role
        self.restart_policy = restart_policy
        self.run_id = os.urandom(8).hex()
        self.started = 0.0
        self._lock_fd = -1
        self._exit_fd = -1
        self._exit_temp = ""

    def join(self) -> None:
        """Take NAME's lock and announce this run; fails early, before any workload."""
        import stat
        import time

        try:
            info = os.stat(self.shared_dir)
        except OSError as error:
            raise SharedDirError(f"cannot use it: {error.strerror}") from None
        if not stat.S_ISDIR(info.st_mode):
            raise SharedDirError("not a directory")
        try:
            self._lock_fd = os.open(
                path(self.shared_dir, self.name, "lock"),
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
            )
        except OSError as error:
            raise SharedDirError(f"cannot create {self.name}.lock: {error.strerror}") from None
        for _ in range(LOCK_ATTEMPTS):
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.005)
        else:
            raise SharedDirError(f"another podinit named {self.name!r} is running")
        self.started = time.time()
        for entry in os.listdir(self.shared_dir):  # reserved by earlier runs of NAME
            if entry.startswith(f".{self.name}.exit.") and entry.endswith(".tmp"):
                _remove(os.path.join(self.shared_dir, entry))
        try:
            self._preallocate_exit_record()
            write_record(self.shared_dir, self.name, "run", {
                "run_id": self.run_id, "name": self.name, "role": self.role,
                "pid": os.getpid(), "started": self.started,
                "restart_policy": self.restart_policy,
            })
        except OSError as error:
            raise SharedDirError(f"cannot write {self.name}.run: {error.strerror}") from None
        for kind in ("ready", "hold"):  # left by an earlier run; after .run: see PROTOCOL.md
            remove_record(self.shared_dir, self.name, kind)

    def mark_ready(self) -> None:
        import time

        try:
            write_record(self.shared_dir, self.name, "ready", {"run_id": self.run_id, "time": time.time()})
        except OSError as error:
            log.error("cannot mark ready", path=path(self.shared_dir, self.name, "ready"),
                      reason=error.strerror)

    def mark_holding(self, signum: int, timeout: float) -> None:
        """Say (for `podinit status`) that a stop request is held, and until when."""
        import time

        now = time.time()
        try:
            write_record(self.shared_dir, self.name, "hold",
                         {"run_id": self.run_id, "signal": signum, "since": now, "until": now + timeout})
        except OSError as error:
            log.warning("cannot mark holding", path=path(self.shared_dir, self.name, "hold"),
                        reason=error.strerror)

    def unmark_holding(self) -> None:
        _remove(path(self.shared_dir, self.name, "hold"))

    def record_exit(self, record: Dict[str, Any]) -> bool:
        """Write NAME.exit into the space reserved at start; True if it landed.

        Overwriting blocks that are already allocated needs no free space, so
        a shared directory that filled up meanwhile still gets the record. If
        it fails anyway, peers learn of the exit from the lock (PROTOCOL.md).
        """
        record = dict(record, run_id=self.run_id, name=self.name, role=self.role,
                      started=self.started)
        data = _encode(record)
        try:
            if self._exit_fd < 0 or len(data) > PREALLOCATED_BYTES:
                write_record(self.shared_dir, self.name, "exit", record)
                return True
            os.pwrite(self._exit_fd, data, 0)
            os.ftruncate(self._exit_fd, len(data))
            os.fsync(self._exit_fd)
            os.rename(self._exit_temp, path(self.shared_dir, self.name, "exit"))
            _fsync_dir(self.shared_dir)
            return True
        except OSError as error:
            log.error("cannot write the exit record; peers will see the lock released",
                      path=path(self.shared_dir, self.name, "exit"), reason=error.strerror)
            return False

    def _preallocate_exit_record(self) -> None:
        self._exit_temp = path(self.shared_dir, f".{self.name}.exit.{self.run_id}", "tmp")
        fd = os.open(self._exit_temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, b" " * PREALLOCATED_BYTES)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            _remove(self._exit_temp)
            raise
        self._exit_fd = fd


def write_record(shared_dir: str, name: str, kind: str, record: Dict[str, Any]) -> None:
    """Write NAME.KIND atomically: temp file, fsync, rename, fsync the directory."""
    data = _encode(record)
    temp = path(shared_dir, f".{name}.{kind}.{os.getpid()}.{os.urandom(4).hex()}", "tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, path(shared_dir, name, kind))
    except BaseException:
        _remove(temp)
        raise
    _fsync_dir(shared_dir)


def _encode(record: Dict[str, Any]) -> bytes:
    """A record as written: one JSON object on one line."""
    return json.dumps(record, sort_keys=True).encode() + b"\n"


def _ignore(where: str, reason: str) -> None:
    if (where, reason) not in _warned:
        _warned.add((where, reason))
        log.warning("ignoring record", path=where, reason=reason)


def read_record(shared_dir: str, name: str, kind: str) -> Optional[Dict[str, Any]]:
    """NAME.KIND as a dict, or None if it is absent or not a valid record."""
    where = path(shared_dir, name, kind)
    try:
        fd = os.open(where, READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as error:  # ELOOP: a symlink was planted
        _ignore(where, error.strerror or str(error))
        return None
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            _ignore(where, "not a regular file")
            return None
        if info.st_size > MAX_RECORD_BYTES:
            _ignore(where, f"larger than {MAX_RECORD_BYTES} bytes")
            return None
        data = os.read(fd, MAX_RECORD_BYTES + 1)
    finally:
        os.close(fd)
    try:
        record = json.loads(data)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("run_id"), str):
        _ignore(where, "not a podinit record")
        return None
    return record


def remove_record(shared_dir: str, name: str, kind: str) -> None:
    _remove(path(shared_dir, name, kind))


def is_alive(shared_dir: str, name: str) -> bool:
    """Whether NAME's podinit holds its lock, that is, is running now."""
    try:
        fd = os.open(path(shared_dir, name, "lock"), READ_FLAGS)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as error:
        return error.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)  # also drops the shared lock, if we got it
    return False


def peer_state(shared_dir: str, name: str) -> str:
    """One of: absent, running, ready, holding (a stop request), exited,
    stale (died without a record)."""
    run = read_record(shared_dir, name, "run")
    if run is None:
        return "absent"
    exit_record = read_record(shared_dir, name, "exit")
    if exit_record is not None and exit_record["run_id"] == run["run_id"]:
        return "exited"
    if not is_alive(shared_dir, name):
        return "stale"
    hold = read_record(shared_dir, name, "hold")
    if hold is not None and hold["run_id"] == run["run_id"]:
        return "holding"
    ready = read_record(shared_dir, name, "ready")
    if ready is not None and ready["run_id"] == run["run_id"]:
        return "ready"
    return "running"


def _remove(where: str) -> None:
    try:
        os.unlink(where)
    except FileNotFoundError:
        pass


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
