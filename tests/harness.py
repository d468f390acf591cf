"""Run podinit the way a container would, and read what its workload reports."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
WORKLOAD = [sys.executable, str(HERE / "workload.py")]
_script = Path(sys.executable).with_name("podinit")
PODINIT = [str(_script)] if _script.exists() else [sys.executable, "-m", "podinit"]
PID1 = ["unshare", "--pid", "--fork", "--mount-proc"]


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODINIT_")}
    env.update(extra)
    return env


def env_for(shared: Path, name: str, role: str = "main", **extra: str) -> Dict[str, str]:
    """The environment of one podinit container of a pod sharing `shared`."""
    return clean_env(PODINIT_SHARED_DIR=str(shared), PODINIT_NAME=name, PODINIT_ROLE=role,
                     PODINIT_LOG_FORMAT="json", PODINIT_LOG_LEVEL="debug", **extra)


def record(shared: Path, name: str, kind: str) -> dict:
    """A record of the shared directory, as a peer would read it."""
    import json

    return json.loads((shared / f"{name}.{kind}").read_text())


def children_of(pid: int) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rfind(b")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


# Every process the tests start carries this variable (scripts/test and
# conftest set it in pytest's environment, which they inherit), so whatever
# outlives its test can be found, even once re-parented to PID 1.
SESSION_MARK = "TESTS_SESSION_MARK"  # not PODINIT_: podinit would refuse it
MARK = os.environ.get(SESSION_MARK) or uuid.uuid4().hex  # scripts/test sets it for pytest too


def marked_processes(mark: str) -> List[int]:
    """Processes alive now (not zombies) whose environment holds `mark`, and
    this process's own children (one forked but not yet exec'd still has the
    environment this process started with)."""
    needle = f"{SESSION_MARK}={mark}".encode()
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            fields = stat[stat.rfind(b")") + 2 :].split()
            if fields[0] == b"Z":
                continue
            if int(fields[1]) == me or needle in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                found.append(int(entry))
        except OSError:
            continue
    return found


LINGER = 5.0  # seconds a process that is on its way out gets to finish


def left_running(linger: float = LINGER) -> List[int]:
    """Marked processes still alive once `linger` has passed; all of them killed.

    Nothing found must be seen twice in a row: a process in the middle of
    execve() can show an empty environment for an instant.
    """
    deadline = time.monotonic() + linger
    empty_scans = 0
    while True:
        alive = marked_processes(MARK)
        empty_scans = 0 if alive else empty_scans + 1
        if empty_scans == 2 or (alive and time.monotonic() > deadline):
            break
        time.sleep(0.02)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return alive


def descendants_of(pid: int) -> List[int]:
    found, todo = [], [pid]
    while todo:
        children = children_of(todo.pop())
        found.extend(children)
        todo.extend(children)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and everything under it. Each is stopped first, so none
    can fork a child that escapes the list or be re-parented out of it."""
    stopped: set = set()
    while True:
        tree = {pid, *descendants_of(pid)} - stopped
        if not tree:
            break
        for member in tree:
            try:
                os.kill(member, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped |= tree
    for member in stopped:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def zombies_of(pid: int) -> List[int]:
    found = []
    for child in children_of(pid):
        try:
            stat = Path(f"/proc/{child}/stat").read_bytes()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2 :].split()[0] == b"Z":
            found.append(child)
    return found


def state_of(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return stat[stat.rfind(b")") + 2 :].split()[0].decode()


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    """Poll `predicate` (a read of kernel state) until true or the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Run:
    """One podinit process with its workload's report pipe."""

    def __init__(self, mode: str, args: List[str], env: Optional[Dict[str, str]] = None,
                 tmp_path: Optional[Path] = None) -> None:
        self.mode = mode
        read_fd, write_fd = os.pipe()
        self._reports = os.fdopen(read_fd, "rb", buffering=0)
        self._buffer = b""
        environment = env if env is not None else clean_env()
        environment["REPORT_FD"] = str(write_fd)
        prefix = PID1 if mode == "pid1" else []
        self.proc = subprocess.Popen(
            prefix + PODINIT + args,
            env=environment,
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(tmp_path) if tmp_path else None,
        )
        os.close(write_fd)
        self._podinit_pid: Optional[int] = None
        self._err_buffer = b""
        self.err_lines: List[bytes] = []

    @property
    def podinit_pid(self) -> int:
        """podinit's pid as seen from here (under unshare, the child of unshare)."""
        if self._podinit_pid is None:
            if self.mode == "pid1":
                self._podinit_pid = wait_until(
                    lambda: children_of(self.proc.pid), what="podinit under unshare"
                )[0]
            else:
                self._podinit_pid = self.proc.pid
        return self._podinit_pid

    def line(self, timeout: float = 10.0) -> str:
        """The next report line; fails the test if none comes in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._reports], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"no report within {timeout}s; got {self._buffer!r}")
            chunk = self._reports.read(65536)
            if not chunk:
                raise AssertionError(f"report pipe closed; got {self._buffer!r}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def nothing_reported(self) -> bool:
        """True if the workload has reported nothing more so far (no waiting)."""
        if self._buffer:
            return False
        ready, _, _ = select.select([self._reports], [], [], 0)
        return not ready

    def log_event(self, predicate, timeout: float = 10.0) -> dict:
        """The next JSON log line of podinit (stderr) that satisfies `predicate`."""
        import json

        deadline = time.monotonic() + timeout
        fd = self.proc.stderr.fileno()
        while True:
            while b"\n" in self._err_buffer:
                line, self._err_buffer = self._err_buffer.split(b"\n", 1)
                self.err_lines.append(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if predicate(event):
                    return event
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError(f"no such log line within {timeout}s; got {self.err_lines!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"podinit closed stderr; got {self.err_lines!r}")
            self._err_buffer += chunk

    def lines_until(self, last: str, timeout: float = 10.0) -> List[str]:
        seen = []
        while True:
            seen.append(self.line(timeout))
            if seen[-1] == last:
                return seen

    def send(self, signum: int) -> None:
        os.kill(self.podinit_pid, signum)

    def finish(self, timeout: float = 20.0) -> int:
        """Wait for podinit to exit; returns its exit code as a shell shows it."""
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
            self.stderr = b"\n".join(self.err_lines + [self._err_buffer + self.stderr]).lstrip(b"\n")
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reports.close()
        code = self.proc.returncode
        return 128 - code if code < 0 else code

    def close(self) -> None:
        """Kill podinit and every process under it (its workload too), then
        reap podinit: nothing of the run outlives the test."""
        if self.proc.poll() is None:
            kill_tree(self.proc.pid)
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self._reports.close()




def workload(*args: str) -> List[str]:
    return ["--", *WORKLOAD, *args]
