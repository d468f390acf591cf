"""The supervise loop: forward signals, reap, escalate, then clear up.

Like tini's main loop: take the next signal (or wake at a deadline), forward
it unless it is SIGCHLD, reap every exited child, and stop when the workload
has ended. When the peers this container stops with have ended (`stop`, set
by podinit.peers, which wakes the loop), the workload gets stop_signal and,
after stop_grace, SIGKILL. Then (stop_leftovers, called once the peers have
been told) whatever the workload left running gets SIGTERM, SIGKILL after
the leftover grace period, and podinit returns as soon as nothing is left,
at once when nothing was.
"""

from __future__ import annotations

import _signal as signal  # see podinit.signals: the enum-free C module
import os
import time
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import log, reaper, signals

if TYPE_CHECKING:
    import threading
    from typing import Optional, Tuple

    from podinit.config import Config

# After SIGKILL a process in uninterruptible sleep may take a while to go;
# podinit waits this long for it, then exits (as PID 1 the kernel kills the
# rest of the namespace when podinit exits).
AFTER_KILL_WAIT = 5.0


def supervise(workload: int, config: Config,
              stop: Optional[threading.Event] = None) -> Tuple[int, bool]:
    """Run until the workload has ended; returns its wait status and whether
    podinit stopped it because its peers ended."""
    kill_at: Optional[float] = None
    stopping = False
    while True:
        timeout = None if kill_at is None else kill_at - time.monotonic()
        signum = signals.next_signal(timeout)
        if signum is not None and signum != signal.SIGCHLD:
            sent = forward(workload, signum, config)
            if (
                sent in signals.TERMINATING
                and config.grace_period is not None
                and kill_at is None
            ):
                kill_at = time.monotonic() + config.grace_period
        reaped = reaper.reap(workload)
        if reaped.workload_status is not None:
            break
        if stop is not None and not stopping and stop.is_set():
            stopping = True
            _send(target(workload, config), config.stop_signal)
            log.info("stopping the workload: its peers ended", signal=config.stop_signal)
            stop_kill_at = time.monotonic() + config.stop_grace
            kill_at = stop_kill_at if kill_at is None else min(kill_at, stop_kill_at)
        if kill_at is not None and time.monotonic() >= kill_at:
            log.warning(
                "workload outlived the grace period; sending SIGKILL",
                pid=workload,
                grace_period=config.stop_grace if stopping else config.grace_period,
            )
            _send(target(workload, config), signal.SIGKILL)
            kill_at = None
    log.debug("workload ended", pid=workload, status=reaped.workload_status)
    return reaped.workload_status, stopping


def forward(workload: int, signum: int, config: Config) -> int:
    """Pass `signum` on (rewritten if asked); returns the signal sent, 0 if none."""
    sent = config.signal_rewrite.get(signum, signum)
    if sent == 0:
        if log.enabled("debug"):
            log.debug("signal dropped", signal=signals.name(signum))
        return 0
    _send(target(workload, config), sent)
    if log.enabled("debug"):  # naming a signal imports the enum module
        log.debug("signal forwarded", received=signals.name(signum), sent=signals.name(sent),
                  to=target(workload, config))
    if sent in signals.TTY_STOPS and os.getpid() != 1:
        os.kill(os.getpid(), signal.SIGSTOP)  # stop with the job, as dumb-init does
    return sent


def target(workload: int, config: Config) -> int:
    """Who gets the workload's signals: it, or its whole process group."""
    return -workload if config.kill_group else workload


def stop_leftovers(grace: float) -> None:
    """TERM what the workload left behind, KILL it after `grace`, reap it all."""
    if not reaper.reap(0).children_left:
        return  # nothing was left: no /proc scan, no wait
    me = os.getpid()
    pids = reaper.signal_all(reaper.descendants(me), signal.SIGTERM)
    reaper.signal_all(pids, signal.SIGCONT)  # a stopped process cannot act on TERM
    if pids:
        log.warning("stopping processes the workload left behind", pids=pids, grace=grace)
    deadline = time.monotonic() + grace
    killed = False
    while reaper.reap(0).children_left:
        now = time.monotonic()
        if now >= deadline:
            if killed:
                log.warning("processes survived SIGKILL; exiting without them")
                return
            pids = reaper.signal_all(reaper.descendants(me), signal.SIGKILL)
            log.warning("leftover processes outlived the grace period; sent SIGKILL", pids=pids)
            killed = True
            deadline = now + AFTER_KILL_WAIT
            continue
        signals.next_signal(deadline - now)  # wakes on SIGCHLD; others are dropped


def _send(target: int, signum: int) -> None:
    try:
        os.kill(target, signum)
    except ProcessLookupError:
        pass  # it is already gone; the reap will tell
