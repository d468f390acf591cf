"""The suite's own hygiene: what a test starts, it stops, even when it fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness import MARK, left_running, marked_processes, wait_until, workload

pytestmark = pytest.mark.timeout(60)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().split(b") ")[1][:1] != b"Z"
    except OSError:
        return False


def test_a_process_re_parented_to_init_is_still_found_and_killed():
    shell = subprocess.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"],
                           capture_output=True, text=True, timeout=10, check=True)
    orphan = int(shell.stdout)
    wait_until(lambda: orphan in marked_processes(MARK), what="the orphan to be found")
    assert left_running(linger=0.1) == [orphan]
    wait_until(lambda: not alive(orphan), what="the orphan to be killed")


def test_closing_a_run_kills_its_workload_too(start, mode):
    run = start(mode, workload("record", "TERM"))
    assert run.line().startswith("ready")
    workloads = [pid for pid in marked_processes(MARK)
                 if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1].endswith(b"workload.py")]
    assert len(workloads) == 1
    run.close()  # as after a failed test: podinit and its workload still running
    wait_until(lambda: not alive(workloads[0]), what="the workload to be gone")
