"""podinit as a container's init: exit codes, signals, reaping, leftovers."""

from __future__ import annotations

import os
import signal

import pytest

from harness import children_of, clean_env, state_of, wait_until, workload, zombies_of

pytestmark = pytest.mark.timeout(60)

# Every catchable signal a user is likely to send, plus real-time ones.
# TERM comes last: the recording workload exits after it.
FORWARDED = [
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
    signal.SIGWINCH, signal.SIGALRM, signal.SIGCONT, signal.SIGPIPE, signal.SIGURG,
    signal.SIGVTALRM, signal.SIGPROF, signal.SIGIO, signal.SIGPWR, signal.SIGXCPU,
    signal.SIGXFSZ, signal.SIGRTMIN, signal.SIGRTMIN + 5,
    signal.SIGRTMAX, signal.SIGTERM,
]


def name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


@pytest.mark.parametrize("code", [0, 3, 255])
def test_exit_code_is_the_workloads(mode, start, code):
    run = start(mode, workload("exit-with", str(code)))
    assert run.finish() == code
    assert run.stderr == b""  # quiet by default


@pytest.mark.parametrize("sig, code", [("TERM", 143), ("KILL", 137), ("INT", 130)])
def test_workload_killed_by_signal_gives_128_plus_n(mode, start, sig, code):
    run = start(mode, workload("kill-self", sig))
    assert run.finish() == code


def test_every_catchable_signal_is_forwarded(mode, start):
    run = start(mode, workload("record", "TERM"))
    assert run.line().startswith("ready")
    for signum in FORWARDED:
        run.send(signum)
        assert run.line() == f"workload {name(signum)}"
    assert run.finish() == 0


def test_sigchld_is_not_forwarded(mode, start):
    run = start(mode, workload("record", "TERM"))
    run.line()
    run.send(signal.SIGCHLD)
    run.send(signal.SIGUSR1)
    assert run.line() == "workload SIGUSR1"
    run.send(signal.SIGTERM)
    assert run.line() == "workload SIGTERM"
    assert run.finish() == 0


def test_term_kills_a_workload_without_handler_and_gives_143(mode, start):
    run = start(mode, ["--", "sleep", "1000"])
    wait_until(lambda: children_of(run.podinit_pid), what="sleep started")
    run.send(signal.SIGTERM)
    assert run.finish() == 143


@pytest.mark.parametrize("kill_group", [False, True])
def test_group_mode_reaches_the_workloads_children(mode, start, kill_group):
    env = clean_env(PODINIT_KILL_GROUP="1" if kill_group else "0")
    run = start(mode, workload("group"), env)
    assert sorted([run.line(), run.line()]) == ["child-ready", "ready"]
    run.send(signal.SIGUSR1)
    run.send(signal.SIGUSR2)  # the workload then sends its child SIGPWR
    seen = run.lines_until("child SIGPWR")
    assert "workload SIGUSR1" in seen
    assert ("child SIGUSR1" in seen) is kill_group


def test_signal_rewrite(mode, start):
    env = clean_env(PODINIT_SIGNAL_REWRITE="TERM:QUIT,HUP:0")
    run = start(mode, workload("record", "TERM"), env)
    run.line()
    run.send(signal.SIGTERM)
    assert run.line() == "workload SIGQUIT"
    run.send(signal.SIGHUP)  # dropped
    run.send(signal.SIGUSR1)
    assert run.line() == "workload SIGUSR1"
    run.send(signal.SIGINT)
    assert run.line() == "workload SIGINT"


@pytest.mark.parametrize("args, code", [(["exit-with", "3"], 0), (["kill-self", "TERM"], 1),
                                        (["exit-with", "4"], 4)])
def test_exit_code_map(mode, start, args, code):
    env = clean_env(PODINIT_EXIT_CODE_MAP="3:0,143:1")
    run = start(mode, workload(*args), env)
    assert run.finish() == code


def test_grace_period_escalates_to_sigkill(mode, start):
    env = clean_env(PODINIT_GRACE_PERIOD="0.2")
    run = start(mode, workload("ignore-term"), env)
    assert run.line() == "ready"
    run.send(signal.SIGTERM)
    assert run.finish() == 137
    assert b"SIGKILL" in run.stderr  # says why it killed


def test_without_grace_period_a_term_is_never_escalated(mode, start):
    run = start(mode, workload("ignore-term", "5"))
    assert run.line() == "ready"
    run.send(signal.SIGTERM)
    run.send(signal.SIGUSR1)  # the workload exits 5 on this, if still alive
    assert run.finish() == 5


def test_thousand_orphans_leave_no_zombie(mode, start):
    run = start(mode, workload("orphans", "1000"))
    assert run.line() == "orphans-exited"
    assert run.line().startswith("ready")
    wait_until(lambda: not zombies_of(run.podinit_pid), what="no zombie under podinit")
    assert state_of(run.podinit_pid) in "SR"
    run.send(signal.SIGTERM)
    assert run.line() == "workload SIGTERM"
    assert run.finish() == 0


def test_as_ordinary_process_podinit_is_the_subreaper(start):
    run = start("plain", workload("orphan-parent"))
    seen = sorted([run.line(), run.line()])
    assert seen[0] == f"orphan-parent {run.podinit_pid}" and seen[1].startswith("ready")
    wait_until(lambda: not zombies_of(run.podinit_pid), what="orphan reaped")
    run.send(signal.SIGTERM)
    assert run.finish() == 0


def test_leftovers_get_sigterm_and_podinit_keeps_the_code(mode, start):
    env = clean_env(PODINIT_LEFTOVER_GRACE="60")
    run = start(mode, workload("leftover", "3"), env)
    assert run.line().startswith("leftover ")
    assert run.line() == "leftover SIGTERM"
    assert run.finish(timeout=10) == 3  # well before the 60 s grace
    assert b"left behind" in run.stderr


def test_leftover_ignoring_term_is_killed_after_grace(mode, start):
    env = clean_env(PODINIT_LEFTOVER_GRACE="0.2")
    run = start(mode, workload("leftover", "4", "ignore"), env)
    leftover = int(run.line().split()[1])
    assert run.finish() == 4
    if mode == "plain":  # under unshare the pid is in another namespace
        assert not os.path.exists(f"/proc/{leftover}")
    assert b"SIGKILL" in run.stderr


def test_workload_leaving_nothing_adds_no_wait(mode, start):
    env = clean_env(PODINIT_LEFTOVER_GRACE="600", PODINIT_GRACE_PERIOD="600")
    run = start(mode, workload("exit-with", "0"), env)
    assert run.finish(timeout=10) == 0


def test_command_not_found_is_127(mode, start):
    run = start(mode, ["--", "no-such-command-podinit"])
    assert run.finish() == 127
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and "no-such-command-podinit" in lines[0] and "not found" in lines[0]


def test_command_not_executable_is_126(mode, start, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    run = start(mode, ["--", str(script)])
    assert run.finish() == 126
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and str(script) in lines[0] and "Permission denied" in lines[0]


def test_tstp_is_forwarded_then_podinit_stops_with_its_job(start):
    run = start("plain", workload("record", "TERM"))
    run.line()
    run.send(signal.SIGTSTP)
    assert run.line() == "workload SIGTSTP"
    wait_until(lambda: state_of(run.podinit_pid) == "T", what="podinit stopped")
    run.send(signal.SIGCONT)
    assert run.line() == "workload SIGCONT"
    run.send(signal.SIGTERM)
    assert run.finish() == 0


def test_workload_starts_with_clean_signal_state(mode, start):
    """Nothing blocked, SIGPIPE and SIGXFSZ not ignored (Python ignores both)."""
    run = start(mode, ["--", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
    assert run.finish() == 0
    masks = dict(line.split(":\t") for line in run.stdout.decode().splitlines())
    assert int(masks["SigBlk"], 16) == 0
    ignored = int(masks["SigIgn"], 16)
    for signum in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored & (1 << (signum - 1)), masks
