"""The data path of `podinit run`, top to bottom.

configuration (already resolved) -> take over signals -> wait for readiness
-> spawn -> supervise (signals, reaping) -> exit code.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import exitcodes, log, reaper, signals, spawn, supervise

if TYPE_CHECKING:
    from typing import Optional, Sequence

    from podinit.config import Config


def run(command: Sequence[str], config: Config) -> int:
    """Run `command` as the workload; returns podinit's exit code."""
    mask = signals.block()
    tty = spawn.detach_terminal()
    if os.getpid() != 1 and not reaper.become_subreaper():
        log.warning("cannot become child subreaper; orphans go to the real init")
    if config.wait:
        refused = wait_for_targets(config)
        if refused is not None:
            return refused
    try:
        workload = spawn.spawn(command, mask, tty)
    except spawn.SpawnError as error:
        log.error(str(error))
        return error.exit_code
    log.debug("workload started", pid=workload, command=list(command))
    status = supervise.supervise(workload, config)
    code = exitcodes.from_wait_status(status)
    final = config.exit_code_map.get(code, code)
    log.debug("exiting", workload_code=code, exit_code=final)
    return final


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
