"""Start the workload with a clean process state, in a session of its own.

The child gets its own session (so a group signal reaches exactly the
workload and what it started), the signal mask podinit had before it blocked
everything, and default dispositions for the signals Python ignores (SIGPIPE,
SIGXFSZ; exec keeps an ignored signal ignored). Without a terminal this is
one posix_spawn() call, which also reports a failed exec as an errno. With
one, podinit forks instead, because only code in the child can make the
terminal its controlling terminal (so Ctrl-C goes straight to the workload,
as with dumb-init); a failed exec sends errno back over a close-on-exec pipe.
"""

from __future__ import annotations

import _signal as signal  # see podinit.signals: the enum-free C module
import errno
import os
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import exitcodes, signals

if TYPE_CHECKING:
    from typing import Iterable, List, Sequence, Tuple


class SpawnError(Exception):
    """The command could not be started; `exit_code` is 126 or 127."""

    def __init__(self, command: str, error: int) -> None:
        self.exit_code = (
            exitcodes.NOT_FOUND
            if error in (errno.ENOENT, errno.ENOTDIR)
            else exitcodes.CANNOT_EXECUTE
        )
        reason = "command not found" if error == errno.ENOENT else os.strerror(error)
        super().__init__(f"cannot run {command!r}: {reason}")


def detach_terminal() -> bool:
    """Give up stdin's terminal so the workload's session can take it.

    Returns whether stdin is a terminal. When podinit leads the session that
    owns the terminal, letting go makes the kernel send SIGHUP and SIGCONT to
    podinit's group; they are pending (blocked) and are discarded here rather
    than forwarded to a workload that would die of the HUP.
    """
    if not os.isatty(0):
        return False
    import fcntl
    import termios

    try:
        fcntl.ioctl(0, termios.TIOCNOTTY)
    except OSError:
        return True
    if os.getsid(0) == os.getpid():
        signals.drain((signal.SIGHUP, signal.SIGCONT))
    return True


PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)


def spawn(argv: Sequence[str], mask: Iterable[int], tty: bool) -> int:
    """Start `argv`; returns the workload's pid or raises SpawnError."""
    if tty:
        return _fork_exec(argv, mask)
    return _posix_spawn(argv, mask)


def _posix_spawn(argv: Sequence[str], mask: Iterable[int], file_actions: Sequence = ()) -> int:
    """posix_spawn with a session of its own and a clean signal state."""
    try:
        return os.posix_spawnp(
            argv[0], list(argv), os.environ, setsid=True, setsigmask=list(mask),
            setsigdef=PYTHON_IGNORES, file_actions=list(file_actions),
        )
    except OSError as error:
        raise SpawnError(argv[0], error.errno or errno.EIO) from None


def _fork_exec(argv: Sequence[str], mask: Iterable[int]) -> int:
    report_r, report_w = os.pipe()  # both ends are close-on-exec
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported over the pipe
        try:
            os.close(report_r)
            _prepare_child(list(mask))
            os.execvp(argv[0], list(argv))
        except OSError as error:
            os.write(report_w, str(error.errno or errno.EIO).encode())
        except BaseException:
            os.write(report_w, str(errno.EIO).encode())
        finally:
            os._exit(exitcodes.NOT_FOUND)
    os.close(report_w)
    with os.fdopen(report_r, "rb") as report:
        failure = report.read()
    if failure:
        os.waitpid(pid, 0)
        raise SpawnError(argv[0], int(failure))
    return pid


def _prepare_child(mask: List[int]) -> None:
    import fcntl
    import termios

    os.setsid()
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError:
        pass  # the terminal belongs to another session; podinit forwards
    for signum in PYTHON_IGNORES:
        signal.signal(signum, signal.SIG_DFL)
    signals.unblock(mask)


CHECK_OUTPUT_LIMIT = 4096  # enough for the last line of an error


def run_check(argv: Sequence[str], timeout: float) -> Tuple[int, str]:
    """Run a readiness command to completion or `timeout`; returns (code, output).

    It starts like the workload does (own session, clean signal state), so a
    timeout kills its whole group, including anything it started.
    """
    import select
    import time

    read_fd, write_fd = os.pipe()
    try:
        pid = _posix_spawn(argv, [], [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, write_fd, 1),
            (os.POSIX_SPAWN_DUP2, write_fd, 2),
        ])
    except SpawnError as failure:
        os.close(read_fd)
        return failure.exit_code, str(failure)
    finally:
        os.close(write_fd)
    output = b""
    deadline = time.monotonic() + timeout
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return -1, f"timed out after {timeout:g}s"
            chunk = pipe.read(65536)
            if not chunk:
                break
            output = (output + chunk)[-CHECK_OUTPUT_LIMIT:]
    _, status = os.waitpid(pid, 0)
    return exitcodes.from_wait_status(status), output.decode(errors="replace")
