"""Sidecar stop latency: the workload's exit -> the sidecar's process gets its
stop signal, through two podinits and a shared directory.

Each run: a sidecar podinit around a process that blocks SIGTERM and reports
CLOCK_MONOTONIC (system-wide) when sigwaitinfo() returns it; a main podinit
around a workload that reports CLOCK_MONOTONIC and exits at once. Also the
crash path: the main podinit SIGKILLed (as by the OOM killer), timed from the
kill. Results: Markdown and JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SIDECAR = (
    "import os, signal, sys, time; fd = int(sys.argv[1]); "
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}); os.write(fd, b'ready\\n'); "
    "signal.sigwaitinfo({signal.SIGTERM}); os.write(fd, b'%r\\n' % time.monotonic())"
)
WORKLOAD = "import os, sys, time; os.write(int(sys.argv[1]), b'%r\\n' % time.monotonic()); os._exit(3)"


def read_line(fd: int, timeout: float = 10.0) -> str:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        if not select.select([fd], [], [], max(deadline - time.monotonic(), 0))[0]:
            raise SystemExit(f"no report within {timeout}s")
        chunk = os.read(fd, 100)
        if not chunk:
            raise SystemExit("report pipe closed")
        data += chunk
    return data.decode().strip()


WATCH = "inotify"  # set by --watch: how the sidecar learns of the exit


def env_for(shared: str, name: str, role: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODINIT_")}
    env.update(PODINIT_SHARED_DIR=shared, PODINIT_NAME=name, PODINIT_ROLE=role,
               PODINIT_PEER_WATCH=WATCH)
    return env


def start_sidecar(podinit: str, python: str, shared: str):
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([podinit, "--", python, "-c", SIDECAR, str(write_fd)],
                            pass_fds=(write_fd,), env=env_for(shared, "logger", "sidecar"))
    os.close(write_fd)
    assert read_line(read_fd) == "ready"
    while not os.path.exists(os.path.join(shared, "logger.ready")):
        time.sleep(0.001)
    return proc, read_fd


def one_exit(podinit: str, python: str) -> float:
    shared = tempfile.mkdtemp(prefix="podinit-bench-")
    sidecar, sidecar_fd = start_sidecar(podinit, python, shared)
    read_fd, write_fd = os.pipe()
    main = subprocess.Popen([podinit, "--", python, "-c", WORKLOAD, str(write_fd)],
                            pass_fds=(write_fd,), env=env_for(shared, "main", "main"))
    os.close(write_fd)
    exited = float(read_line(read_fd))
    signalled = float(read_line(sidecar_fd))
    main.wait(10), sidecar.wait(10)
    os.close(read_fd), os.close(sidecar_fd)
    shutil.rmtree(shared)
    return (signalled - exited) * 1000


def one_kill(podinit: str, python: str) -> float:
    shared = tempfile.mkdtemp(prefix="podinit-bench-")
    sidecar, sidecar_fd = start_sidecar(podinit, python, shared)
    main = subprocess.Popen([podinit, "--", "sleep", "600"], env=env_for(shared, "main", "main"))
    while not os.path.exists(os.path.join(shared, "main.ready")):
        time.sleep(0.001)
    workload = [int(p) for p in open(f"/proc/{main.pid}/task/{main.pid}/children").read().split()]
    killed = time.monotonic()
    main.send_signal(signal.SIGKILL)
    signalled = float(read_line(sidecar_fd))
    main.wait(10), sidecar.wait(10)
    for pid in workload:  # the orphaned `sleep`
        os.kill(pid, signal.SIGKILL)
    os.close(sidecar_fd)
    shutil.rmtree(shared)
    return (signalled - killed) * 1000


def stats(values: list) -> dict:
    ordered = sorted(values)
    return {"runs": len(ordered), "p50": ordered[len(ordered) // 2],
            "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--podinit", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--kill-runs", type=int, default=50)
    args = parser.parse_args()
    global WATCH
    exits = stats([one_exit(args.podinit, args.python) for _ in range(args.runs)])
    kills = stats([one_kill(args.podinit, args.python) for _ in range(args.kill_runs)])
    WATCH = "poll"
    polled = stats([one_exit(args.podinit, args.python) for _ in range(args.runs // 2)])
    WATCH = "inotify"
    result = {
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")},
        "workload_exit_to_sidecar_signalled_ms": exits,
        "main_podinit_sigkilled_to_sidecar_signalled_ms": kills,
        "workload_exit_to_sidecar_signalled_polling_ms": polled,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "handshake.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Sidecar stop latency",
        "",
        f"{os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"{result['machine']['date']}. Shared directory on the local disk; inotify unless said.",
        "",
        "| path | runs | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in (("workload exits -> sidecar's process signalled", exits),
                       ("main podinit SIGKILLed -> sidecar's process signalled", kills),
                       ("workload exits -> signalled, polling (PODINIT_PEER_WATCH=poll)", polled)):
        lines.append(f"| {label} | {row['runs']} | {row['p50']:.1f} | {row['p99']:.1f} | {row['max']:.1f} |")
    lines += ["", "kubexit polls (its default is 1 s via the Kubernetes API); scuttle and "
              "the native-sidecar kubelet path are not measured here."]
    (RESULTS / "handshake.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
