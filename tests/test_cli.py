"""The command line, podinit's own log lines, and interactive use on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from harness import PID1, PODINIT, WORKLOAD, clean_env

pytestmark = pytest.mark.timeout(60)


def podinit(*args: str, env=None):
    return subprocess.run(PODINIT + list(args), env=env or clean_env(),
                          capture_output=True, timeout=30)


def test_help_lists_every_option_with_its_variable():
    result = podinit("--help")
    assert result.returncode == 0
    out = result.stdout.decode()
    from podinit.options import OPTIONS

    for option in OPTIONS:
        assert option.flag in out and option.env in out
    assert "-- CMD" in out


def test_version():
    from podinit import __version__

    assert podinit("--version").stdout.decode().strip() == f"podinit {__version__}"
    result = subprocess.run([sys.executable, "-m", "podinit", "--version"],
                            capture_output=True, timeout=30)
    assert result.stdout.decode().strip() == f"podinit {__version__}"


def test_python_dash_m_runs_a_workload():
    result = subprocess.run([sys.executable, "-m", "podinit", "--", *WORKLOAD, "exit-with", "9"],
                            env=clean_env(), capture_output=True, timeout=30)
    assert result.returncode == 9


@pytest.mark.parametrize("args", [
    ["run", "--", "*", "exit-with", "4"],
    ["run", "--exit-code-map", "5:4", "--", "*", "exit-with", "5"],
    ["--exit-code-map", "5:4", "run", "--", "*", "exit-with", "5"],
    ["--exit-code-map", "5:4", "--", "*", "exit-with", "5"],
    ["--kill-group", "--", "*", "exit-with", "4"],
])
def test_run_spelled_out_and_with_flags(args):
    split = args.index("*")
    result = podinit(*args[:split], *WORKLOAD, *args[split + 1:])
    assert result.returncode == 4, result.stderr


@pytest.mark.parametrize("args, fragment", [
    ([], "no command given"),
    (["--"], "no command given"),
    (["run"], "no command given"),
    (["python3", "job.py"], "podinit [OPTIONS] -- python3 job.py"),
])
def test_missing_or_misplaced_command_is_a_usage_error(args, fragment):
    result = podinit(*args)
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


def test_own_lines_go_to_stderr_as_json_and_stdout_stays_the_workloads():
    env = clean_env(PODINIT_LOG_LEVEL="debug", PODINIT_LOG_FORMAT="json")
    result = podinit("--", "sh", "-c", "echo out-line; echo err-line >&2", env=env)
    assert result.returncode == 0
    assert result.stdout == b"out-line\n"
    lines = result.stderr.decode().splitlines()
    events = [json.loads(line) for line in lines if line != "err-line"]
    assert {"workload started", "workload ended", "exiting"} <= {e["event"] for e in events}
    assert all(e["logger"] == "podinit" and "timestamp" in e for e in events)


def test_console_format_is_one_line_per_event():
    env = clean_env(PODINIT_LOG_LEVEL="info")
    result = podinit("--", "sh", "-c", "sleep 60 & exit 0", env=env)
    assert result.returncode == 0
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "[warning" in lines[0] and "left behind" in lines[0]


def _read_until(fd: int, needle: bytes, timeout: float = 10.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            raise AssertionError(f"{needle!r} not seen; got {data!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("under", ["session-leader", "pid1"])
def test_ctrl_c_on_a_terminal_interrupts_the_workload(under):
    """As with `docker run -it IMAGE podinit -- CMD`: Ctrl-C stops CMD, code 130."""
    prefix = PID1 if under == "pid1" else []
    script = "import os,signal,sys; print('ready tty=%d' % os.isatty(0), flush=True); signal.pause()"
    pid, master = pty.fork()
    if pid == 0:  # the child leads a new session whose terminal is the pty
        env = clean_env()
        os.execvpe(prefix[0] if prefix else PODINIT[0],
                   prefix + PODINIT + ["--", sys.executable, "-c", script], env)
    try:
        output = _read_until(master, b"\n")
        assert b"ready tty=1" in output, output
        os.write(master, b"\x03")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 130
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(master)
