"""Fixtures: `mode` runs every test that takes it twice, as a real PID 1 of a
new PID namespace (unshare --pid --fork --mount-proc) and as an ordinary
process; `start` starts podinit runs and kills what is left of them.

Nothing a test starts may outlive it: every process started from the suite
carries the session's mark in its environment; after each test any marked
process still alive is killed and the test errors, and the session fails if
one is alive at its end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from harness import MARK, SESSION_MARK, Run, left_running


def pytest_configure(config):
    os.environ[SESSION_MARK] = MARK  # inherited by everything the tests start


def describe(pids: List[int]) -> str:
    names = []
    for pid in pids:
        try:
            names.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes()
                         .replace(b"\0", b" ").decode(errors="replace")[:120])
        except OSError:
            names.append(str(pid))
    return "; ".join(names)


@pytest.fixture(autouse=True)
def nothing_left_running():
    yield
    leaked = left_running()
    if leaked:
        pytest.fail(f"the test left processes running (now killed): {describe(leaked)}")


def pytest_sessionfinish(session, exitstatus):
    leaked = left_running()
    if leaked:
        session.config.get_terminal_writer().line(
            f"processes of the test session still running (now killed): {describe(leaked)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(params=["pid1", "plain"])
def mode(request) -> str:
    if request.param == "pid1" and not shutil.which("unshare"):
        pytest.skip("unshare is not installed")
    return request.param


@pytest.fixture
def shared(tmp_path) -> Path:
    """A directory all containers of one pod share, as an emptyDir."""
    directory = tmp_path / "shared"
    directory.mkdir()
    return directory


@pytest.fixture
def start(tmp_path):
    runs: List[Run] = []

    def starter(mode: str, args: List[str], env: Optional[Dict[str, str]] = None) -> Run:
        run = Run(mode, args, env, tmp_path)
        runs.append(run)
        return run

    yield starter
    for run in runs:
        run.close()
