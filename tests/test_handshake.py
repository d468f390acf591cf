"""The shared-directory handshake: each container played by its own podinit.

A main podinit and sidecar podinits around real long-running processes share
a real temporary directory, as the containers of a pod share an emptyDir.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from harness import PODINIT, clean_env, env_for, record, wait_until, workload

pytestmark = pytest.mark.timeout(60)


def start_sidecar(start, shared, name, **extra):
    """A sidecar podinit around a process that records the signals it gets."""
    run = start("plain", workload("record", "TERM"), env_for(shared, name, "sidecar", **extra))
    assert run.line().startswith("ready")
    wait_until(lambda: (shared / f"{name}.ready").exists(), what=f"{name} marked ready")
    return run


def checked_after(run, predicate_on_peers):
    """Wait for the sidecar's next decision on peers in the given states, and
    require that it decided not to stop (and has not stopped its process)."""
    event = run.log_event(lambda e: e.get("event") == "peers checked"
                          and predicate_on_peers(e["peers"]))
    assert event["stop"] is False, event
    return event


def test_workload_exit_stops_every_sidecar_and_keeps_its_code(start, shared):
    logger = start_sidecar(start, shared, "logger")
    proxy = start_sidecar(start, shared, "proxy")
    main = start("plain", workload("exit-with", "3"),
                 env_for(shared, "main", PODINIT_WAIT="sidecar:logger,sidecar:proxy"))
    assert main.finish() == 3
    for sidecar in (logger, proxy):
        assert sidecar.line() == "workload SIGTERM"
        assert sidecar.finish() == 0  # stopped on purpose
    assert record(shared, "main", "exit")["code"] == 3
    assert record(shared, "main", "exit")["final"] is True
    assert record(shared, "logger", "exit")["stopped"] is True


def test_sidecar_whose_process_dies_keeps_its_code(start, shared):
    run = start("plain", workload("exit-with", "5"), env_for(shared, "logger", "sidecar"))
    assert run.finish() == 5
    assert record(shared, "logger", "exit")["stopped"] is False


def test_exit_recorded_before_the_sidecar_started_is_seen(start, shared):
    """kubexit misses an exit recorded before it began to watch."""
    assert start("plain", workload("exit-with", "0"), env_for(shared, "main")).finish() == 0
    sidecar = start("plain", workload("record", "TERM"), env_for(shared, "late", "sidecar"))
    assert sidecar.finish() == 0


def test_stop_with_any_and_all(start, shared):
    peer_a = start_sidecar(start, shared, "a", PODINIT_STOP_WITH="nobody")
    peer_b = start_sidecar(start, shared, "b", PODINIT_STOP_WITH="nobody")
    any_ = start_sidecar(start, shared, "any", PODINIT_STOP_WITH="a,b", PODINIT_STOP_WITH_MODE="any")
    all_ = start_sidecar(start, shared, "all", PODINIT_STOP_WITH="a,b", PODINIT_STOP_WITH_MODE="all")
    peer_a.send(signal.SIGTERM)
    assert peer_a.finish() == 0
    assert any_.line() == "workload SIGTERM"
    checked_after(all_, lambda peers: peers["a"].startswith("a exited") and peers["b"] == "running")
    assert all_.nothing_reported()
    peer_b.send(signal.SIGTERM)
    assert peer_b.finish() == 0
    assert all_.line() == "workload SIGTERM"
    assert any_.finish() == 0 and all_.finish() == 0


def test_on_failure_a_failed_run_is_not_final(start, shared):
    sidecar = start_sidecar(start, shared, "logger")
    policy = {"PODINIT_RESTART_POLICY": "OnFailure"}
    first = start("plain", workload("exit-with", "1"), env_for(shared, "main", **policy))
    assert first.finish() == 1
    assert record(shared, "main", "exit")["final"] is False
    checked_after(sidecar, lambda peers: "to be restarted" in peers["main"])
    assert sidecar.nothing_reported()
    # The kubelet restarts the main container: a new run, which succeeds.
    second = start("plain", workload("exit-with", "0"), env_for(shared, "main", **policy))
    assert second.finish() == 0
    assert sidecar.line() == "workload SIGTERM"
    assert sidecar.finish() == 0


def test_record_of_an_earlier_run_never_stops_a_sidecar(start, shared):
    main = start("plain", workload("record", "TERM"), env_for(shared, "main"))
    assert main.line().startswith("ready")
    old = {"run_id": "0123456789abcdef", "code": 0, "final": True, "name": "main"}
    (shared / "main.exit").write_text(json.dumps(old))  # left by an earlier run
    sidecar = start_sidecar(start, shared, "logger")
    checked_after(sidecar, lambda peers: peers["main"] == "running")
    assert sidecar.nothing_reported()
    main.send(signal.SIGTERM)
    assert main.finish() == 0
    assert sidecar.line() == "workload SIGTERM"


@pytest.mark.parametrize("policy, stops", [("Never", True), ("OnFailure", False)])
def test_sigkill_of_the_main_podinit(start, shared, policy, stops):
    main = start("pid1", ["--", "sleep", "600"],
                 env_for(shared, "main", PODINIT_RESTART_POLICY=policy))
    wait_until(lambda: (shared / "main.ready").exists(), what="main running")
    sidecar = start_sidecar(start, shared, "logger")
    os.kill(main.podinit_pid, signal.SIGKILL)  # as the OOM killer would
    assert main.finish() != 0  # (unshare reports its child's SIGKILL as 1)
    if stops:
        assert sidecar.line() == "workload SIGTERM"
        assert sidecar.finish() == 0
        assert not (shared / "main.exit").exists()
    else:
        checked_after(sidecar, lambda peers: "to be restarted" in peers["main"])
        assert sidecar.nothing_reported()


@pytest.mark.parametrize("plant", ["symlink", "garbage", "huge", "truncated", "fifo"])
def test_bad_exit_record_is_ignored_without_a_false_stop(start, shared, tmp_path, plant):
    main = start("plain", workload("record", "TERM"), env_for(shared, "main"))
    assert main.line().startswith("ready")
    run_id = record(shared, "main", "run")["run_id"]
    forged = json.dumps({"run_id": run_id, "code": 0, "final": True})
    target = shared / "main.exit"
    if plant == "symlink":
        (tmp_path / "forged.json").write_text(forged)
        target.symlink_to(tmp_path / "forged.json")
    elif plant == "garbage":
        target.write_bytes(os.urandom(3000))
    elif plant == "huge":
        with open(target, "wb") as file:
            file.write(forged.encode())
            file.truncate(100 * 1024 * 1024)
    elif plant == "truncated":
        target.write_text(forged[: len(forged) // 2])
    else:
        os.mkfifo(target)
    sidecar = start_sidecar(start, shared, "logger")
    checked_after(sidecar, lambda peers: peers["main"] == "running")
    assert sidecar.nothing_reported()
    main.send(signal.SIGTERM)  # the real exit replaces the planted file
    assert main.finish() == 0
    assert sidecar.line() == "workload SIGTERM"
    assert sidecar.finish() == 0
    assert b"ignoring record" in sidecar.stderr
    assert b"Traceback" not in sidecar.stderr


@pytest.mark.parametrize("make, fragment", [
    (lambda p: None, "No such file"),
    (lambda p: p.write_text("a file"), "not a directory"),
])
def test_unusable_shared_directory_is_refused_at_start(start, tmp_path, make, fragment):
    shared = tmp_path / "shared"
    make(shared)
    run = start("plain", workload("touch", str(tmp_path / "ran")), env_for(shared, "main"))
    assert run.finish() == 2
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and "PODINIT_SHARED_DIR" in lines[0] and fragment in lines[0]
    assert not (tmp_path / "ran").exists()


@pytest.fixture
def mounted(tmp_path):
    """Mount points made by a test, unmounted afterwards even if it fails."""
    points = []

    def mount(*args: str) -> None:
        result = subprocess.run(["mount", *args], capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount here: {result.stderr.decode().strip()}")
        points.append(args[-1])

    yield mount
    for point in reversed(points):
        subprocess.run(["umount", "-l", point], capture_output=True)


def test_read_only_shared_directory_is_refused_at_start(start, tmp_path, shared, mounted):
    mounted("--bind", str(shared), str(shared))
    mounted("-o", "remount,bind,ro", str(shared))
    run = start("plain", workload("touch", str(tmp_path / "ran")), env_for(shared, "main"))
    assert run.finish() == 2
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0]
    assert not (tmp_path / "ran").exists()


def test_full_shared_directory_still_stops_sidecars(start, shared, mounted):
    mounted("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(shared))
    sidecar = start_sidecar(start, shared, "logger")
    main = start("plain", workload("record", "TERM"), env_for(shared, "main"))
    assert main.line().startswith("ready")
    with pytest.raises(OSError):  # fill it up
        with open(shared / "filler", "wb") as file:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
    main.send(signal.SIGTERM)
    assert main.finish() == 0
    assert record(shared, "main", "exit")["code"] == 0  # the space was reserved at start
    assert sidecar.line() == "workload SIGTERM"
    assert sidecar.finish() == 0


def test_main_stops_when_a_sidecar_it_needs_dies(start, shared):
    proxy = start("plain", workload("ignore-term", "1"), env_for(shared, "proxy", "sidecar"))
    assert proxy.line() == "ready"
    main = start("plain", ["--", "sleep", "600"], env_for(shared, "main", PODINIT_STOP_WITH="proxy"))
    wait_until(lambda: (shared / "main.ready").exists(), what="main running")
    proxy.send(signal.SIGUSR1)  # the proxy's process exits 1 on its own
    assert proxy.finish() == 1
    assert main.finish() == 143  # its workload was stopped with SIGTERM


def test_sidecar_escalates_to_sigkill_after_stop_grace(start, shared):
    sidecar = start("plain", workload("ignore-term", "0"),
                    env_for(shared, "proxy", "sidecar", PODINIT_STOP_GRACE="0.2"))
    assert sidecar.line() == "ready"
    assert start("plain", workload("exit-with", "0"), env_for(shared, "main")).finish() == 0
    assert sidecar.finish() == 0
    assert record(shared, "proxy", "exit")["workload_code"] == 137


class Quit(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.server.posts.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def quit_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quit)
    server.posts = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("code, policy, posted", [
    (0, "Never", True), (3, "Never", True), (3, "OnFailure", False),
])
def test_quit_urls_get_a_post_when_the_end_is_final(start, quit_server, code, policy, posted):
    url = f"http://127.0.0.1:{quit_server.server_port}/quitquitquit"
    env = clean_env(PODINIT_QUIT_URLS=url, PODINIT_RESTART_POLICY=policy)
    assert start("plain", workload("exit-with", str(code)), env).finish() == code
    assert quit_server.posts == (["/quitquitquit"] if posted else [])


def test_stop_processes_signals_processes_by_name(start, tmp_path):
    program = tmp_path / "podinit-sdcar"
    shutil.copy(shutil.which("sleep"), program)
    victim = subprocess.Popen([str(program), "600"])
    try:
        env = clean_env(PODINIT_STOP_PROCESSES="podinit-sdcar")
        assert start("plain", workload("exit-with", "0"), env).finish() == 0
        assert victim.wait(timeout=10) == -signal.SIGTERM
    finally:
        victim.kill()
        victim.wait()


def test_termination_message_only_when_the_workload_left_none(start, tmp_path):
    empty, used = tmp_path / "empty-log", tmp_path / "used-log"
    empty.write_text("")
    used.write_text("the workload's own message\n")
    for path in (empty, used):
        env = clean_env(PODINIT_TERMINATION_LOG=str(path))
        assert start("plain", workload("exit-with", "3"), env).finish() == 3
    assert empty.read_text() == "podinit: the workload exited with code 3 after " \
        + empty.read_text().split(" after ")[1]
    assert used.read_text() == "the workload's own message\n"


def test_status_shows_each_peer(start, shared):
    sidecar = start_sidecar(start, shared, "logger")
    assert start("plain", workload("exit-with", "4"), env_for(shared, "main",
                 PODINIT_RESTART_POLICY="OnFailure")).finish() == 4
    result = subprocess.run(PODINIT + ["status", "--json", "--shared-dir", str(shared)],
                            env=clean_env(), capture_output=True, timeout=30)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["main"]["state"] == "exited" and rows["main"]["exit_code"] == 4
    assert rows["logger"]["state"] == "ready"
    table = subprocess.run(PODINIT + ["status", "--shared-dir", str(shared)],
                           env=clean_env(), capture_output=True, timeout=30).stdout.decode()
    assert table.splitlines()[0].split() == ["NAME", "ROLE", "STATE", "EXIT", "STARTED", "RUN"]
    assert "logger" in table and "exited" in table
    sidecar.send(signal.SIGTERM)


@pytest.mark.parametrize("env, fragment", [
    ({"PODINIT_ROLE": "sidecar", "PODINIT_SHARED_DIR": "/tmp"}, "PODINIT_NAME"),
    ({"PODINIT_ROLE": "sidecar", "PODINIT_NAME": "x"}, "PODINIT_SHARED_DIR"),
    ({"PODINIT_NAME": "../etc"}, "PODINIT_NAME"),
    ({"PODINIT_STOP_WITH": "main", "PODINIT_SHARED_DIR": "/tmp"}, "cannot stop with itself"),
    ({"PODINIT_RESTART_POLICY": "Sometimes"}, "PODINIT_RESTART_POLICY"),
    ({"PODINIT_QUIT_URLS": "tcp://127.0.0.1:1"}, "PODINIT_QUIT_URLS"),
    ({"PODINIT_STOP_SIGNAL": "NOPE"}, "PODINIT_STOP_SIGNAL"),
])
def test_bad_handshake_settings_are_refused(start, tmp_path, env, fragment):
    run = start("plain", workload("touch", str(tmp_path / "ran")), clean_env(**env))
    assert run.finish() == 2
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "ran").exists()


def test_two_containers_with_one_name_are_refused(start, shared, tmp_path):
    first = start_sidecar(start, shared, "logger")
    second = start("plain", workload("touch", str(tmp_path / "ran")), env_for(shared, "logger", "sidecar"))
    assert second.finish() == 2
    assert b"another podinit named 'logger'" in second.stderr
    first.send(signal.SIGTERM)


def test_without_inotify_the_watch_polls(shared, monkeypatch):
    """Where inotify is missing (ENOSYS, or no instance left), peers poll."""
    from podinit import inotify, peers
    from podinit.handshake import Member

    def unavailable(*args):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(inotify, "Watch", unavailable)
    main = Member(str(shared), "main", "main", "Never")
    main.join()
    watch = peers.PeerWatch(str(shared), ["main"], "any")
    decided_twice = threading.Event()
    decisions = []
    holds = watch.holds

    def counted() -> bool:
        decisions.append(holds())
        if len(decisions) >= 2:
            decided_twice.set()
        return decisions[-1]

    watch.holds = counted
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # the wake-up, as in podinit
    try:
        watch.start()
        assert decided_twice.wait(5)  # it polled again, and main is running: no stop
        assert not watch.stop.is_set()
        assert main.record_exit({"code": 0, "final": True})
        assert watch.stop.wait(5)
        assert watch.reason == "main exited with code 0"
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


def test_peers_are_told_before_leftovers_are_cleared(start, shared):
    """A leftover that ignores SIGTERM holds podinit for its grace period; the
    sidecars must not wait for that."""
    sidecar = start_sidecar(start, shared, "logger")
    main = start("plain", workload("leftover", "0", "ignore"),
                 env_for(shared, "main", PODINIT_LEFTOVER_GRACE="60"))
    leftover = int(main.line().split()[1])
    assert sidecar.line() == "workload SIGTERM"
    assert main.proc.poll() is None  # still clearing up, the sidecar already told
    os.kill(leftover, signal.SIGKILL)
    assert main.finish() == 0
