"""inotify through ctypes: the kernel tells podinit when a peer's file changes.

A peer's exit record appears by rename (IN_MOVED_TO); a peer that dies closes
its lock file, which it held open for writing (IN_CLOSE_WRITE), even when it
was killed by SIGKILL. Watching for those two is what makes a sidecar learn
of an exit in milliseconds instead of at its next poll.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import List, Tuple

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")


class Watch:
    """An inotify instance watching one directory; read() blocks for events."""

    def __init__(self, directory: str, mask: int) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            error = ctypes.get_errno()
            os.close(fd)
            raise OSError(error, os.strerror(error))
        self.fd = fd

    def read(self) -> List[Tuple[int, str]]:
        """Block until events arrive; returns (mask, file name) pairs."""
        data = os.read(self.fd, 64 * 1024)
        events = []
        offset = 0
        while offset < len(data):
            _, mask, _, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset:offset + length].rstrip(b"\0").decode(errors="replace")
            offset += length
            events.append((mask, name))
        return events

    def close(self) -> None:
        os.close(self.fd)
