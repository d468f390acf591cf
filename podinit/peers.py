"""Decide when this podinit's workload must stop because its peers ended.

PODINIT_STOP_WITH names the peers (a sidecar's default: main); with `any` the
first one to end is enough, with `all` every one must. A peer has ended when
its current run ended for good (docs/PROTOCOL.md):
- NAME.exit carries the run id of NAME.run and says final; or
- NAME.run exists, NAME's lock is free (the process died) and it left no
  exit record: a crash, final unless the peer's restart policy restarts it.
A peer that has not started yet has not ended. A thread waits on inotify for
the files that can change the answer, and re-decides on each event.
"""

from __future__ import annotations

import _signal as signal  # see podinit.signals: the enum-free C module
import os
import threading
import time

from podinit import handshake, inotify, log

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

POLL_INTERVAL = 0.1  # only where inotify is unavailable
LOCK_RELEASE_WAIT = 1.0  # the kernel reports a file's close just before it drops its lock
WAKE = signal.SIGCHLD  # wakes the supervise loop; never forwarded


def ended(shared_dir: str, name: str) -> Tuple[bool, str]:
    """Whether peer `name` has ended for good, and its state in words."""
    kind, why = state(shared_dir, name)
    return kind == "ended", why


def state(shared_dir: str, name: str) -> Tuple[str, str]:
    """Peer `name`'s current run: not started, running, ended (for good) or
    restartable (ended, to be restarted); and the state in words."""
    run = handshake.read_record(shared_dir, name, "run")
    if run is None:
        return "not started", "not started"
    record = handshake.read_record(shared_dir, name, "exit")
    if record is not None and record["run_id"] == run["run_id"]:
        if record.get("final") is True:
            return "ended", f"{name} exited with code {record.get('code')}"
        return "restartable", f"exited with code {record.get('code')}, to be restarted"
    if handshake.is_alive(shared_dir, name):
        return "running", "running"
    policy = run.get("restart_policy", "Never")
    if policy == "Never":
        return "ended", f"{name} died without an exit record"
    return "restartable", f"died without an exit record, to be restarted ({policy})"


class PeerWatch(threading.Thread):
    """Sets `stop` (and wakes the main thread) once the stop condition holds,
    or, while a stop request is held (begin_hold), once no peer runs."""

    def __init__(self, shared_dir: str, names: List[str], mode: str, poll: bool = False,
                 member: Optional[handshake.Member] = None) -> None:
        super().__init__(name="peer watch", daemon=True)
        self.shared_dir, self.names, self.mode, self.poll = shared_dir, names, mode, poll
        self.member = member
        self.main_thread = threading.get_ident()
        self.stop = threading.Event()
        self.reason = ""
        self.holding = False
        self._files = {f"{name}.{kind}" for name in names for kind in ("run", "exit", "lock")}

    def holds(self) -> bool:
        states = {name: state(self.shared_dir, name) for name in self.names}
        done = [why for kind, why in states.values() if kind == "ended"]
        stop = bool(done) if self.mode == "any" else len(done) == len(states)
        # A stop request is held (the pod is going away, nothing restarts):
        # an end that would be restarted counts too, once none runs.
        holding = self.holding
        if not stop and holding and not any(kind == "running" for kind, _ in states.values()):
            stop, done = True, [why if kind == "ended" else f"{name} {why}"
                                for name, (kind, why) in states.items()]
        if log.enabled("debug"):
            log.debug("peers checked", peers={name: why for name, (_, why) in states.items()},
                      stop=stop, holding=holding)
        if stop:
            self.reason = "; ".join(done)
        return stop

    def begin_hold(self, signum: int, timeout: float) -> bool:
        """Hold a stop request while a peer still runs; False if none does.

        The flag is set before the peers are read, so a peer that ends after
        this read raises an event that the watch judges with the flag set.
        """
        self.holding = True
        if self.stop.is_set() or not any(state(self.shared_dir, name)[0] == "running"
                                         for name in self.names):
            self.holding = False
            return False
        if self.member is not None:
            self.member.mark_holding(signum, timeout)
        return True

    def end_hold(self) -> None:
        self.holding = False
        if self.member is not None:
            self.member.unmark_holding()

    def run(self) -> None:
        mask = (inotify.IN_MOVED_TO | inotify.IN_CLOSE_WRITE | inotify.IN_CREATE
                | inotify.IN_DELETE | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF)
        watch: Optional[inotify.Watch] = None
        if not self.poll:
            try:
                watch = inotify.Watch(self.shared_dir, mask)
            except OSError as error:
                log.warning("inotify unavailable; polling the shared directory",
                            reason=error.strerror, interval=POLL_INTERVAL)
        # Decide once the watch is in place: an exit recorded before this
        # podinit started is seen here, and none recorded after is missed.
        while not self.holds():
            if watch is None:
                time.sleep(POLL_INTERVAL)
                continue
            events = watch.read()
            if any(mask & (inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF) for mask, _ in events):
                log.warning("the shared directory went away; polling it", path=self.shared_dir)
                watch.close()
                watch = None
                continue
            closed = [name[: -len(".lock")] for mask, name in events
                      if mask & inotify.IN_CLOSE_WRITE and name in self._files and name.endswith(".lock")]
            for name in closed:
                self._await_lock_release(name)
            if not closed and not any(name in self._files or mask & inotify.IN_Q_OVERFLOW
                                      for mask, name in events):
                continue
        if watch is not None:
            watch.close()
        self.stop.set()
        signal.pthread_kill(self.main_thread, WAKE)
        log.info("stop condition holds", peers=self.names, mode=self.mode, reason=self.reason)

    def _await_lock_release(self, name: str) -> None:
        deadline = time.monotonic() + LOCK_RELEASE_WAIT
        while handshake.is_alive(self.shared_dir, name) and time.monotonic() < deadline:
            time.sleep(0.0005)
