"""Waiting for sidecars before the workload starts: real sockets, real servers."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import PODINIT, WORKLOAD, children_of, clean_env, wait_until, workload

pytestmark = pytest.mark.timeout(60)


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.fixture
def closed_port():
    """A port that refuses connections until the test calls listen() on it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


class Flaky(http.server.BaseHTTPRequestHandler):
    """503 until the server's `healthy` is set; counts the answers it gave."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        healthy = self.server.healthy.is_set()
        self.send_response(200 if healthy else 503)
        self.end_headers()
        with self.server.lock:
            self.server.answers.append((self.path, 200 if healthy else 503))
            self.server.answered.set()

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    server.healthy, server.answered = threading.Event(), threading.Event()
    server.lock, server.answers = threading.Lock(), []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def started_at(run) -> float:
    """The workload reports CLOCK_MONOTONIC (system-wide) when it starts."""
    line = run.line()
    assert line.startswith("started ")
    return float(line.split()[1])


STARTED = ["--", *WORKLOAD, "started-at"]


def test_workload_starts_only_when_every_target_is_ready(start, tmp_path, closed_port, flaky_server):
    unix_path = str(tmp_path / "app.sock")
    appears = tmp_path / "config.ready"
    port = closed_port.getsockname()[1]
    targets = [
        f"tcp://127.0.0.1:{port}",
        f"http://127.0.0.1:{flaky_server.server_port}/healthz/ready?status=200",
        f"unix://{unix_path}",
        f"file://{appears}",
    ]
    run = start("plain", ["--wait", ",".join(targets), "--wait-timeout", "30", *STARTED])
    pid = run.podinit_pid
    wait_until(lambda: threads_of(pid) == 5, what="one probe thread per target")
    assert flaky_server.answered.wait(10)  # it has been told 503 at least once
    flaky_server.healthy.set()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(unix_path)
    listener.listen()
    appears.write_text("")
    wait_until(lambda: threads_of(pid) == 2, what="three targets seen ready")
    assert children_of(pid) == []  # the closed port still holds the workload back
    opened = time.monotonic()
    closed_port.listen()
    assert started_at(run) > opened
    assert run.finish() == 0
    assert ("/healthz/ready", 503) in flaky_server.answers  # status= is not sent on
    assert flaky_server.answers[-1] == ("/healthz/ready", 200)
    listener.close()


def test_timeout_exits_with_the_wait_code_and_names_the_target(mode, start, tmp_path, closed_port):
    port = closed_port.getsockname()[1]
    env = clean_env(PODINIT_WAIT=f"tcp://127.0.0.1:{port}", PODINIT_WAIT_TIMEOUT="0.3")
    run = start(mode, workload("touch", str(tmp_path / "ran")), env)
    assert run.finish() == 75
    err = run.stderr.decode()
    assert f"tcp://127.0.0.1:{port}" in err and "Connection refused" in err
    assert not (tmp_path / "ran").exists()


def test_timeout_code_is_settable(start, tmp_path, closed_port):
    port = closed_port.getsockname()[1]
    env = clean_env(PODINIT_WAIT=f"tcp://127.0.0.1:{port}", PODINIT_WAIT_TIMEOUT="0.2",
                    PODINIT_WAIT_EXIT_CODE="99")
    assert start("plain", workload("exit-with", "0"), env).finish() == 99


def test_start_policy_runs_the_workload_anyway(start, closed_port):
    port = closed_port.getsockname()[1]
    env = clean_env(PODINIT_WAIT=f"tcp://127.0.0.1:{port}", PODINIT_WAIT_TIMEOUT="0.2",
                    PODINIT_WAIT_ON_TIMEOUT="start")
    run = start("plain", workload("exit-with", "4"), env)
    assert run.finish() == 4
    assert b"starting the workload anyway" in run.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_term_while_waiting_exits_at_once_without_the_workload(mode, start, tmp_path, closed_port, sig):
    port = closed_port.getsockname()[1]
    env = clean_env(PODINIT_WAIT=f"tcp://127.0.0.1:{port}", PODINIT_WAIT_TIMEOUT="600")
    run = start(mode, workload("touch", str(tmp_path / "ran")), env)
    wait_until(lambda: threads_of(run.podinit_pid) == 2, what="podinit waiting")
    run.send(sig)
    assert run.finish(timeout=10) == 128 + sig  # long before the 600 s deadline
    assert not (tmp_path / "ran").exists()


def test_other_signal_while_waiting_reaches_the_workload(start, closed_port):
    """Not lost, and podinit does not quit on it (scuttle does)."""
    port = closed_port.getsockname()[1]
    env = clean_env(PODINIT_WAIT=f"tcp://127.0.0.1:{port}")
    run = start("plain", ["--", "sleep", "600"], env)
    wait_until(lambda: threads_of(run.podinit_pid) == 2, what="podinit waiting")
    run.send(signal.SIGUSR1)
    closed_port.listen()
    assert run.finish() == 128 + signal.SIGUSR1  # sleep died of the forwarded USR1


def test_exec_target_retries_until_the_command_succeeds(start, tmp_path):
    counter = tmp_path / "tries"
    check = f"exec:sh -c 'echo x >> {counter}; [ $(wc -l < {counter}) -ge 3 ]'"
    run = start("plain", ["--wait", check, *STARTED])
    started_at(run)
    assert run.finish() == 0
    assert len(counter.read_text().splitlines()) == 3


def test_exec_target_that_hangs_is_killed_at_the_attempt_timeout(start, tmp_path):
    env = clean_env(PODINIT_WAIT="exec:sleep 600", PODINIT_WAIT_ATTEMPT_TIMEOUT="0.1",
                    PODINIT_WAIT_TIMEOUT="0.5")
    run = start("plain", workload("exit-with", "0"), env)
    assert run.finish() == 75
    assert b"timed out after 0.1s" in run.stderr


def test_file_target_can_require_content(start, tmp_path):
    path = tmp_path / "token"
    path.write_text("")
    run = start("plain", ["--wait", f"file://{path}?nonempty=1", *STARTED])
    wait_until(lambda: threads_of(run.podinit_pid) == 2, what="podinit waiting")
    assert children_of(run.podinit_pid) == []
    written = time.monotonic()
    path.write_text("secret")
    assert started_at(run) > written
    assert run.finish() == 0


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS server with a self-signed certificate, answering 200."""
    directory = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    server.healthy, server.answered = threading.Event(), threading.Event()
    server.lock, server.answers = threading.Lock(), []
    server.healthy.set()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_https_checks_certificates_unless_asked_not_to(start, tls_server):
    url = f"https://127.0.0.1:{tls_server.server_port}/ready"
    refused = start("plain", ["--wait", url, "--wait-timeout", "0.5", "--", "true"])
    assert refused.finish() == 75
    assert b"CERTIFICATE_VERIFY_FAILED" in refused.stderr
    accepted = start("plain", ["--wait", url + "?insecure=1", "--", "true"])
    assert accepted.finish() == 0


@pytest.mark.parametrize("target, fragment", [
    ("foo://127.0.0.1:80", "unknown scheme"),
    ("tcp://127.0.0.1:70000", "port out of range"),
    ("tcp://:80", "missing host"),
    ("http:///healthz", "missing host"),
    ("tcp://127.0.0.1:80,,tcp://127.0.0.1:81", "empty target"),
    ("unix://relative.sock", "absolute path"),
    ("sidecar:", "sidecar name"),
    ("sidecar:proxy", "PODINIT_SHARED_DIR"),
])
def test_bad_target_is_refused_before_anything_runs(start, tmp_path, target, fragment):
    env = clean_env(PODINIT_WAIT=target)
    run = start("plain", workload("touch", str(tmp_path / "ran")), env)
    assert run.finish() == 2
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and "PODINIT_WAIT" in lines[0] and fragment in lines[0], lines
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("variable, value", [
    ("PODINIT_WAIT_TIMEOUT", "0"), ("PODINIT_WAIT_TIMEOUT", "-5"),
    ("PODINIT_WAIT_ATTEMPT_TIMEOUT", "soon"), ("PODINIT_WAIT_EXIT_CODE", "0"),
    ("PODINIT_WAIT_ON_TIMEOUT", "retry"),
])
def test_bad_wait_setting_is_refused(start, tmp_path, variable, value):
    env = clean_env(PODINIT_WAIT="tcp://127.0.0.1:1", **{variable: value})
    run = start("plain", workload("touch", str(tmp_path / "ran")), env)
    assert run.finish() == 2
    assert variable in run.stderr.decode() and repr(value) in run.stderr.decode()
    assert not (tmp_path / "ran").exists()


def test_wait_subcommand(closed_port):
    port = closed_port.getsockname()[1]
    target = f"tcp://127.0.0.1:{port}"
    timed_out = subprocess.run(PODINIT + ["wait", target, "--wait-timeout", "0.2"],
                               env=clean_env(), capture_output=True, timeout=30)
    assert timed_out.returncode == 75 and target.encode() in timed_out.stderr
    closed_port.listen()
    ready = subprocess.run(PODINIT + ["wait", target], env=clean_env(),
                           capture_output=True, timeout=30)
    assert ready.returncode == 0 and ready.stderr == b""
    nothing = subprocess.run(PODINIT + ["wait"], env=clean_env(), capture_output=True, timeout=30)
    assert nothing.returncode == 2


def test_wait_subcommand_exits_on_term(closed_port):
    port = closed_port.getsockname()[1]
    proc = subprocess.Popen(PODINIT + ["wait", f"tcp://127.0.0.1:{port}"], env=clean_env(),
                            stderr=subprocess.PIPE)
    wait_until(lambda: threads_of(proc.pid) == 2, what="podinit wait waiting")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 143
    proc.stderr.close()
