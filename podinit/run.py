"""The data path of `podinit run`, top to bottom.

configuration (already resolved) -> take over signals -> join the shared
directory -> wait for readiness -> spawn -> mark ready, watch the peers ->
supervise (signals, reaping) -> record the exit for the peers -> exit code.
"""

from __future__ import annotations

import gc
import os
import time

from podinit import exitcodes, log, reaper, signals, spawn, supervise

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Optional, Sequence

    from podinit.config import Config
    from podinit.handshake import Member
    from podinit.peers import PeerWatch


def run(command: Sequence[str], config: Config) -> int:
    """Run `command` as the workload; returns podinit's exit code."""
    mask = signals.block()
    tty = spawn.detach_terminal()
    if os.getpid() != 1 and not reaper.become_subreaper():
        log.warning("cannot become child subreaper; orphans go to the real init")
    if config.parent_death_signal and not reaper.set_parent_death_signal(config.parent_death_signal):
        log.warning("cannot set the parent death signal", signal=config.parent_death_signal)
    member = None
    if config.shared_dir:
        from podinit.handshake import Member, SharedDirError

        member = Member(config.shared_dir, config.name, config.role, config.restart_policy)
        try:
            member.join()
        except SharedDirError as error:
            log.error(f"PODINIT_SHARED_DIR={config.shared_dir!r}: {error}")
            return exitcodes.USAGE
        from podinit import notify  # noqa: F401 - now, not on the exit's critical path
    if config.wait:
        refused = wait_for_targets(config)
        if refused is not None:
            return refused
    try:
        workload = spawn.spawn(command, mask, tty)
    except spawn.SpawnError as error:
        log.error(str(error))
        return error.exit_code
    started = time.time()
    log.debug("workload started", pid=workload, command=list(command))
    watch = watch_peers(config, member)
    if not (member and config.ready_check):
        leave_working_directory()
    # Everything start-up made lives until exit: keep the cyclic collector
    # off it, so a collection cannot stall a stop or a forwarded signal.
    gc.freeze()
    status, stopped = supervise.supervise(workload, config, watch)
    code = finish(config, member, status, started, watch.reason if stopped and watch else "")
    supervise.stop_leftovers(config.leftover_grace, config.warn_on_reap)  # after the peers know
    return code


def leave_working_directory() -> None:
    """Move to / once the workload runs, as dumb-init does: an init that
    keeps the directory it was started in can block an unmount of it."""
    try:
        os.chdir("/")
    except OSError as error:
        log.debug("cannot move to /", reason=error.strerror)


def watch_peers(config: Config, member: Optional[Member]) -> Optional[PeerWatch]:
    """Mark this container ready when it is, and watch the peers it stops with."""
    if member is None:
        return None
    if config.ready_check:
        from podinit import readiness

        def ready() -> None:
            member.mark_ready()
            leave_working_directory()  # the checks may have used it

        readiness.in_background(config.ready_check, config.wait_attempt_timeout,
                                config.wait_max_interval, ready)
    else:
        member.mark_ready()
    if not config.stop_with:
        return None
    from podinit.peers import PeerWatch

    watch = PeerWatch(config.shared_dir, config.stop_with, config.stop_with_mode,
                      poll=config.peer_watch == "poll", member=member)
    watch.start()
    return watch


def finish(config: Config, member: Optional[Member], status: int, started: float,
           stopped_because: str) -> int:
    """Record the workload's end for the peers; returns podinit's exit code.

    `stopped_because` is why podinit stopped the workload, "" if it did not.
    """
    stopped = bool(stopped_because)
    workload_code = exitcodes.from_wait_status(status)
    code = config.exit_code_map.get(workload_code, workload_code)
    if stopped and config.role == "sidecar":
        code = 0  # stopped on purpose: the pod must not fail because of it
    if member is not None or config.quit_urls or config.stop_processes or \
            os.path.exists(config.termination_log):
        from podinit import notify

        record = {
            "code": code,
            "workload_code": workload_code,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
            "workload_started": started,
            "ended": time.time(),
            "stopped": stopped,
            "reason": stopped_because,
            "final": notify.is_final(config.restart_policy, code),
        }
        notify.workload_ended(config, member, record)
    log.debug("exiting", workload_code=workload_code, exit_code=code, stopped=stopped)
    return code


def wait_for_targets(config: Config, then: str = "the workload was not started") -> Optional[int]:
    """Wait for config.wait; returns an exit code if the workload must not start."""
    from podinit import readiness

    outcome = readiness.wait(
        config.wait, config.wait_timeout, config.wait_attempt_timeout, config.wait_max_interval
    )
    if outcome.signal is not None:
        log.info(f"stopped while waiting; {then}", signal=outcome.signal)
        return exitcodes.SIGNAL_BASE + outcome.signal
    if outcome.ready:
        return None
    for target, error in outcome.pending.items():
        log.error("target not ready", target=target, last_error=error)
    if config.wait_on_timeout == "start":
        log.warning("targets not ready; starting the workload anyway",
                    waited=config.wait_timeout, policy="start")
        return None
    log.error(f"targets not ready; {then}",
              waited=config.wait_timeout, exit_code=config.wait_exit_code)
    return config.wait_exit_code
