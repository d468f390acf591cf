"""Reap every child podinit has, and find the processes left behind.

As PID 1 the kernel re-parents every orphan of the container to podinit; as
an ordinary process podinit asks for the same with PR_SET_CHILD_SUBREAPER.
Either way each exited child stays a zombie until podinit waits for it.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Dict, List, Optional

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


class Reaped:
    """What one reap() found."""

    __slots__ = ("workload_status", "children_left")

    def __init__(self, workload_status: Optional[int], children_left: bool) -> None:
        self.workload_status = workload_status  # the workload's wait status, once it ended
        self.children_left = children_left  # whether any child (exited or not) is still ours


def become_subreaper() -> bool:
    """Make orphans of our descendants our children, as they are for PID 1."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(signum: int) -> bool:
    """Have the kernel send `signum` to podinit when its parent dies."""
    return _prctl(PR_SET_PDEATHSIG, signum)


def _prctl(option: int, value: int) -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, value, 0, 0, 0) == 0


def reap(workload: int, warn: bool = False) -> Reaped:
    """Wait for every child that has exited, without blocking; with `warn`,
    say so for each that is not the workload."""
    status: Optional[int] = None
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return Reaped(status, False)
        if pid == 0:
            return Reaped(status, True)
        if pid == workload:
            status = wait_status
        elif warn:
            from podinit import log

            log.warning(f"Reaped zombie process with pid={pid}")  # tini's words, for its users


def descendants(root: int) -> List[int]:
    """Live processes below `root`, parents before children, read from /proc."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue  # it exited while we looked
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] == b"Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: List[int] = []
    queue = list(children.get(root, ()))
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


def signal_all(pids: List[int], signum: int) -> List[int]:
    """Send `signum` to each pid; returns those that still existed."""
    reached = []
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
        reached.append(pid)
    return reached


def stopped(pids: List[int]) -> List[int]:
    """Those of `pids` stopped now (state T, or t under a tracer): the ones a
    SIGCONT must wake, and the only ones it should reach."""
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2 :][:1] in (b"T", b"t"):
            found.append(pid)
    return found
