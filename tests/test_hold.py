"""Pod deletion: a sidecar holds a TERM or INT while its peers still run.

The kubelet TERMs every container of a pod at once (deletion, eviction, a
drain, a Job's deadline). Each podinit here plays one container on a real
shared directory, and the tests send the signals the kubelet would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from harness import PODINIT, clean_env, env_for, record, wait_until, workload

pytestmark = pytest.mark.timeout(60)

HOLDING = "holding the stop request until the peers end"


def is_event(name):
    return lambda event: event.get("event") == name


def sidecar_for(start, shared, mode="plain", exit_on="TERM", **extra):
    """A sidecar podinit around a process that records the signals it gets."""
    run = start(mode, workload("record", exit_on), env_for(shared, "logger", "sidecar", **extra))
    assert run.line().startswith("ready")
    wait_until(lambda: (shared / "logger.ready").exists(), what="logger marked ready")
    return run


def main_for(start, shared, *args, **extra):
    run = start("plain", workload(*args), env_for(shared, "main", **extra))
    assert run.line().startswith("ready")
    return run


def status_of(shared, name):
    result = subprocess.run(PODINIT + ["status", "--json", "--shared-dir", str(shared)],
                            env=clean_env(), capture_output=True, timeout=30, check=True)
    return {row["name"]: row for row in json.loads(result.stdout)}[name]["state"]


def test_sidecar_process_gets_term_only_after_main_exited(start, shared, mode):
    sidecar = sidecar_for(start, shared, mode, REPORT_TIME="1")
    main = main_for(start, shared, "slow-stop", "1")
    sidecar.send(signal.SIGTERM)  # the kubelet: every container at once
    main.send(signal.SIGTERM)
    held = sidecar.log_event(is_event(HOLDING))
    assert held["signal"] == "SIGTERM" and held["peers"] == ["main"]
    assert main.line() == "stopping"
    assert main.finish() == 0
    line = sidecar.line()
    assert line.startswith("workload SIGTERM at ")
    assert float(line.split()[-1]) >= record(shared, "main", "exit")["ended"]
    assert sidecar.finish() == 0
    assert record(shared, "logger", "exit")["stopped"] is True
    assert "main exited with code 0" in record(shared, "logger", "exit")["reason"]


def test_status_shows_a_holding_sidecar_and_the_hold_ends_at_its_timeout(start, shared):
    sidecar = sidecar_for(start, shared, PODINIT_HOLD_TIMEOUT="0.5")
    main = main_for(start, shared, "record", "TERM")
    sent = time.monotonic()
    sidecar.send(signal.SIGTERM)
    sidecar.log_event(is_event(HOLDING))
    assert status_of(shared, "logger") == "holding"
    assert sidecar.line() == "workload SIGTERM"
    assert time.monotonic() - sent >= 0.5
    event = sidecar.log_event(is_event("held the stop request for hold_timeout: forwarded"))
    assert event["signal"] == "SIGTERM"
    assert sidecar.finish() == 0  # the process's own code: it exits 0 on TERM
    assert main.nothing_reported()  # main was never touched
    assert status_of(shared, "main") == "ready"
    main.send(signal.SIGTERM)
    assert main.finish() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_second_stop_request_while_holding_is_forwarded_at_once(start, shared, signum):
    name = signal.Signals(signum).name
    sidecar = sidecar_for(start, shared, exit_on=name[3:])  # default hold_timeout: 20 s
    main = main_for(start, shared, "record", "TERM")
    sidecar.send(signum)
    assert sidecar.log_event(is_event(HOLDING))["signal"] == name
    sent = time.monotonic()
    sidecar.send(signum)
    assert sidecar.line() == f"workload {name}"
    assert time.monotonic() - sent < 20  # not the hold_timeout
    assert sidecar.finish() == 0
    assert main.nothing_reported()
    main.send(signal.SIGTERM)
    assert main.finish() == 0


def test_hold_ends_when_main_ends_even_if_it_would_be_restarted(start, shared):
    """With OnFailure a TERMed main (143) would be restarted, but a pod being
    deleted restarts nothing: the held sidecar stops once main has ended."""
    policy = {"PODINIT_RESTART_POLICY": "OnFailure"}
    sidecar = sidecar_for(start, shared, **policy)
    main = start("plain", ["--", "sleep", "600"], env_for(shared, "main", **policy))
    wait_until(lambda: (shared / "main.ready").exists(), what="main running")
    sidecar.send(signal.SIGTERM)
    sidecar.log_event(is_event(HOLDING))
    main.send(signal.SIGTERM)
    assert main.finish() == 143
    assert record(shared, "main", "exit")["final"] is False
    assert sidecar.line() == "workload SIGTERM"
    assert sidecar.finish() == 0
    assert "main exited with code 143" in record(shared, "logger", "exit")["reason"]


def crash_main(start, shared):
    main = start("pid1", ["--", "sleep", "600"], env_for(shared, "main", PODINIT_RESTART_POLICY="OnFailure"))
    wait_until(lambda: (shared / "main.ready").exists(), what="main running")
    os.kill(main.podinit_pid, signal.SIGKILL)
    main.finish()
    wait_until(lambda: status_of(shared, "main") == "stale", what="main seen dead")


def fail_main(start, shared):
    assert start("plain", workload("exit-with", "1"),
                 env_for(shared, "main", PODINIT_RESTART_POLICY="OnFailure")).finish() == 1


@pytest.mark.parametrize("case", ["main never started", "main crashed", "main failed",
                                  "hold turned off", "a main container"])
def test_no_hold(start, shared, case):
    extra = {}
    if case == "hold turned off":
        extra["PODINIT_HOLD_TERM"] = "0"
    if case in ("main crashed", "main failed"):
        extra["PODINIT_RESTART_POLICY"] = "OnFailure"  # so the sidecar keeps running
    if case == "a main container":  # a main that stops with a sidecar still running
        peer = sidecar_for(start, shared, PODINIT_STOP_WITH="nobody")
        run = start("plain", workload("record", "TERM"),
                    env_for(shared, "main", PODINIT_STOP_WITH="logger"))
        assert run.line().startswith("ready")
    else:
        run = sidecar_for(start, shared, **extra)
        if case == "main crashed":
            crash_main(start, shared)
        elif case == "main failed":
            fail_main(start, shared)
        elif case == "hold turned off":
            main_for(start, shared, "record", "TERM")
    run.send(signal.SIGTERM)
    assert run.line() == "workload SIGTERM"
    assert run.finish() == 0
    assert HOLDING.encode() not in run.stderr
    if case == "a main container":
        peer.send(signal.SIGTERM)  # its peer (main) has ended: no hold
        assert peer.finish() == 0
