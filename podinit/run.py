"""The data path of `podinit run`, top to bottom.

configuration (already resolved) -> take over signals -> spawn -> supervise
(signals, reaping) -> exit code.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import exitcodes, log, reaper, signals, spawn, supervise

if TYPE_CHECKING:
    from typing import Sequence

    from podinit.config import Config


def run(command: Sequence[str], config: Config) -> int:
    """Run `command` as the workload; returns podinit's exit code."""
    mask = signals.block()
    tty = spawn.detach_terminal()
    if os.getpid() != 1 and not reaper.become_subreaper():
        log.warning("cannot become child subreaper; orphans go to the real init")
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
