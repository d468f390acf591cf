"""The exit codes podinit itself uses, and how a workload's end becomes one.

podinit's job is to make the container's exit code the workload's: its own
code when it exits, 128+N when signal N killed it (what a shell reports).
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import values

if TYPE_CHECKING:
    from typing import Dict

USAGE = 2  # bad flag, variable or config file: the workload was not started
CANNOT_EXECUTE = 126  # the command exists but could not be executed
NOT_FOUND = 127  # the command does not exist
SIGNAL_BASE = 128  # a workload killed by signal N gives 128+N
# The targets were not ready in time: EX_TEMPFAIL of sysexits.h ("try again
# later"), rare as a workload's own code, so a Job's podFailurePolicy can
# match it (e.g. to count it against the pod, not the workload).
WAIT_TIMEOUT = 75


def from_wait_status(status: int) -> int:
    """Turn a waitpid() status into the code a shell would report."""
    if os.WIFSIGNALED(status):
        return SIGNAL_BASE + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _code(text: str) -> int:
    try:
        code = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an exit code") from None
    if not 0 <= code <= 255:
        raise ValueError(f"{code} is not an exit code in 0..255")
    return code


def parse_code(text: str) -> int:
    """An exit code podinit may use for itself: 1..255."""
    code = _code(text.strip())
    if code == 0:
        raise ValueError("must be an exit code in 1..255")
    return code


def parse_map(text: str) -> Dict[int, int]:
    """Parse an exit-code map such as "143:0,137:1"."""
    return values.pairs(text, _code, _code)
