"""Hold the workload back until every target is ready, with a deadline.

Each target gets a thread that checks it, backing off from 2 ms up to
`max_interval`, so a port that opens is noticed within that interval. The
main thread sleeps in sigtimedwait() on TERM, INT and QUIT and on a wake-up
(SIGCHLD sent to it by a thread whose target became ready): the wait ends the
moment the last target is ready, a TERM ends it at once, and any other
signal stays pending, to be forwarded once the workload runs.

A sidecar's own readiness check (PODINIT_READY_CHECK) uses the same probes in
the background, while its process is supervised: in_background().
"""

from __future__ import annotations

import _signal as signal  # see podinit.signals: the enum-free C module
import threading
import time

from podinit import log, signals

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Sequence

    from podinit.targets import Target

FIRST_INTERVAL = 0.002
WAKE = signal.SIGCHLD  # never forwarded, and harmless when spurious
STOPPING = signals.TERMINATING | {WAKE}


class Outcome:
    """How a wait ended: every target ready, a signal, or the deadline."""

    __slots__ = ("ready", "signal", "pending")

    def __init__(self, ready: bool, signal: Optional[int], pending: Dict[str, str]) -> None:
        self.ready = ready
        self.signal = signal  # the terminating signal that ended the wait
        self.pending = pending  # target text -> last error, for targets not ready


class _Probe(threading.Thread):
    """Checks one target until it is ready or the wait is over."""

    def __init__(self, target: Target, attempt_timeout: float, max_interval: float,
                 deadline: float, done: threading.Event, notify: Callable[[], None]) -> None:
        super().__init__(name=f"probe {target.text}", daemon=True)
        self.target = target
        self.attempt_timeout = attempt_timeout
        self.max_interval = max_interval
        self.deadline = deadline
        self.done = done
        self.notify = notify  # called once this target is ready
        self.ready = False
        self.last_error = "not checked yet"
        self.attempts = 0

    def run(self) -> None:
        interval = FIRST_INTERVAL
        while not self.done.is_set():
            left = self.deadline - time.monotonic()
            if left <= 0:
                return
            self.attempts += 1
            try:
                self.target.check(min(self.attempt_timeout, left))
            except Exception as error:  # any failure of a check means not ready
                self.last_error = _describe(error)
            else:
                self.ready = True
                self.notify()
                return
            self.done.wait(interval)
            interval = min(interval * 2, self.max_interval)


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    return text


def wait(targets: Sequence[Target], timeout: float, attempt_timeout: float,
         max_interval: float) -> Outcome:
    """Wait until all `targets` are ready; signals must already be blocked."""
    started = time.monotonic()
    deadline = started + timeout
    done = threading.Event()
    main_thread = threading.get_ident()
    probes: List[_Probe] = [
        _Probe(target, attempt_timeout, max_interval, deadline, done,
               lambda: signal.pthread_kill(main_thread, WAKE))
        for target in targets
    ]
    for probe in probes:
        probe.start()
    try:
        while not all(probe.ready for probe in probes):
            left = deadline - time.monotonic()
            if left <= 0:
                pending = {p.target.text: p.last_error for p in probes if not p.ready}
                return Outcome(False, None, pending)
            signum = signals.next_of(STOPPING, left)
            if signum in signals.TERMINATING:
                return Outcome(False, signum, {})
        log.info("targets ready", seconds=round(time.monotonic() - started, 4),
                 attempts={p.target.text: p.attempts for p in probes})
        return Outcome(True, None, {})
    finally:
        done.set()
        signals.drain((WAKE,))


def in_background(targets: Sequence[Target], attempt_timeout: float, max_interval: float,
                  on_ready: Callable[[], None]) -> threading.Event:
    """Probe `targets` with no deadline; call `on_ready` once all are ready.

    Returns an event that stops the probes when set.
    """
    done = threading.Event()
    lock = threading.Lock()
    probes: List[_Probe] = []

    def notify() -> None:
        with lock:
            if done.is_set() or not all(probe.ready for probe in probes):
                return
            done.set()
        on_ready()

    probes.extend(
        _Probe(target, attempt_timeout, max_interval, float("inf"), done, notify)
        for target in targets
    )
    for probe in probes:
        probe.start()
    return done
