"""The files podinit containers of one pod exchange in their shared directory.

docs/PROTOCOL.md is the specification; this module is its only implementation.
For a podinit named NAME (PODINIT_NAME; the main container's default is
"main") the shared directory holds:

    NAME.lock   flock()ed exclusively by NAME's podinit while it lives; the
                kernel drops the lock when the process dies, even by SIGKILL
    NAME.run    {"run_id", "name", "role", "pid", "started"}: written first
    NAME.ready  {"run_id", "time"}: the sidecar passed its readiness check
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
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def path(shared_dir: str, name: str, kind: str) -> str:
    return os.path.join(shared_dir, f"{name}.{kind}")


def write_record(shared_dir: str, name: str, kind: str, record: Dict[str, Any]) -> None:
    """Write NAME.KIND atomically: temp file, fsync, rename, fsync the directory."""
    data = json.dumps(record, sort_keys=True).encode() + b"\n"
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


def read_record(shared_dir: str, name: str, kind: str) -> Optional[Dict[str, Any]]:
    """NAME.KIND as a dict, or None if it is absent or not a valid record."""
    where = path(shared_dir, name, kind)
    try:
        fd = os.open(where, READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as error:  # ELOOP: a symlink was planted
        log.warning("ignoring record", path=where, reason=error.strerror)
        return None
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            log.warning("ignoring record", path=where, reason="not a regular file")
            return None
        if info.st_size > MAX_RECORD_BYTES:
            log.warning("ignoring record", path=where, reason=f"larger than {MAX_RECORD_BYTES} bytes")
            return None
        data = os.read(fd, MAX_RECORD_BYTES + 1)
    finally:
        os.close(fd)
    try:
        record = json.loads(data)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("run_id"), str):
        log.warning("ignoring record", path=where, reason="not a podinit record")
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
    """One of: absent, running, ready, exited, stale (died without a record)."""
    run = read_record(shared_dir, name, "run")
    if run is None:
        return "absent"
    exit_record = read_record(shared_dir, name, "exit")
    if exit_record is not None and exit_record["run_id"] == run["run_id"]:
        return "exited"
    if not is_alive(shared_dir, name):
        return "stale"
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
