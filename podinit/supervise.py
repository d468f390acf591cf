"""The supervise loop: forward signals, reap, escalate, then clear up.

Like tini's main loop: take the next signal (or wake at a deadline), forward
it unless it is SIGCHLD, reap every exited child, and stop when the workload
has ended. When the peers this container stops with have ended (`stop`, set
by podinit.peers, which wakes the loop), the workload gets stop_signal and,
after stop_grace, SIGKILL. A sidecar holds a TERM or INT that comes while
those peers run (a pod being deleted TERMs every container at once) until
they end, a second one comes, or hold_timeout passes. Then (stop_leftovers,
called once the peers have been told) whatever the workload left running
gets SIGTERM (and SIGCONT if it is stopped), SIGKILL after the leftover grace
period, and podinit returns as soon as nothing is left, at once when nothing
was.
"""

from __future__ import annotations

import _signal as signal  # see podinit.signals: the enum-free C module
import os
import time
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import log, reaper, signals

if TYPE_CHECKING:
    from typing import Optional, Tuple

    from podinit.config import Config
    from podinit.peers import PeerWatch

# After SIGKILL a process in uninterruptible sleep may take a while to go;
# podinit waits this long for it, then exits (as PID 1 the kernel kills the
# rest of the namespace when podinit exits).
AFTER_KILL_WAIT = 5.0
# What a sidecar holds while its peers run (PODINIT_HOLD_TERM): the stop
# requests of a pod's deletion and of a person at a terminal.
HOLDABLE = (signal.SIGTERM, signal.SIGINT)


def supervise(workload: int, config: Config,
              watch: Optional[PeerWatch] = None) -> Tuple[int, bool]:
    """Run until the workload has ended; returns its wait status and whether
    podinit stopped it because its peers ended."""
    kill_at: Optional[float] = None
    hold_until: Optional[float] = None  # while a TERM or INT is held
    held = 0
    stopping = False
    can_hold = watch is not None and config.role == "sidecar" and config.hold_term
    while True:
        deadline = kill_at
        if hold_until is not None and (deadline is None or hold_until < deadline):
            deadline = hold_until
        signum = signals.next_signal(None if deadline is None else deadline - time.monotonic())
        if signum in HOLDABLE and not stopping:
            if held:  # a second one: a person at a terminal means it
                kill_at = forward_and_time(workload, signum, config, kill_at)
                hold_until, held = None, 0
                watch.end_hold()
                log.info("second stop request while holding: forwarded",
                         signal=signals.name(signum))
                signum = None
            elif can_hold and watch.begin_hold(signum, config.hold_timeout):
                hold_until, held = time.monotonic() + config.hold_timeout, signum
                log.info("holding the stop request until the peers end",
                         signal=signals.name(signum), peers=config.stop_with,
                         hold_timeout=config.hold_timeout)
                signum = None
        if signum is not None and signum != signal.SIGCHLD:
            kill_at = forward_and_time(workload, signum, config, kill_at)
        reaped = reaper.reap(workload, config.warn_on_reap)
        if reaped.workload_status is not None:
            break
        if watch is not None and not stopping and watch.stop.is_set():
            stopping = True
            _send(target(workload, config), config.stop_signal)
            log.info("stopping the workload: its peers ended", signal=config.stop_signal)
            if held:
                hold_until, held = None, 0
                watch.end_hold()
            stop_kill_at = time.monotonic() + config.stop_grace
            kill_at = stop_kill_at if kill_at is None else min(kill_at, stop_kill_at)
        if hold_until is not None and time.monotonic() >= hold_until:
            kill_at = forward_and_time(workload, held, config, kill_at)
            watch.end_hold()
            log.info("held the stop request for hold_timeout: forwarded",
                     signal=signals.name(held), hold_timeout=config.hold_timeout)
            hold_until, held = None, 0
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


def forward_and_time(workload: int, signum: int, config: Config,
                     kill_at: Optional[float]) -> Optional[float]:
    """Forward `signum`; returns when SIGKILL is due (grace_period starts
    with the first terminating signal sent)."""
    sent = forward(workload, signum, config)
    if sent in signals.TERMINATING and config.grace_period is not None and kill_at is None:
        return time.monotonic() + config.grace_period
    return kill_at


def forward(workload: int, signum: int, config: Config) -> int:
    """Pass `signum` on (rewritten if asked); returns the signal sent, 0 if none."""
    sent = config.signal_rewrite.get(signum, signum)
    if sent:
        _send(target(workload, config), sent)
    if log.enabled("debug"):  # naming a signal imports the enum module
        if sent:
            log.debug("signal forwarded", received=signals.name(signum), sent=signals.name(sent),
                      to=target(workload, config))
        else:
            log.debug("signal dropped", signal=signals.name(signum))
    if signum in signals.TTY_STOPS and os.getpid() != 1:
        os.kill(os.getpid(), signal.SIGSTOP)  # stop with the job, as dumb-init does
    return sent


def target(workload: int, config: Config) -> int:
    """Who gets the workload's signals: it, or its whole process group."""
    return -workload if config.kill_group else workload


def stop_leftovers(grace: float, warn: bool = False) -> None:
    """TERM what the workload left behind, KILL it after `grace`, reap it all
    (`warn`: saying so for each)."""
    if not reaper.reap(0, warn).children_left:
        return  # nothing was left: no /proc scan, no wait
    me = os.getpid()
    pids = reaper.signal_all(reaper.descendants(me), signal.SIGTERM)
    reaper.signal_all(reaper.stopped(pids), signal.SIGCONT)  # a stopped one cannot act on TERM
    if pids:
        log.warning("stopping processes the workload left behind", pids=pids, grace=grace)
    deadline = time.monotonic() + grace
    killed = False
    while reaper.reap(0, warn).children_left:
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
