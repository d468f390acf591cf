"""Readiness wait: how soon the workload starts after a port opens, and what
waiting costs.

1. Latency: podinit waits on a bound, not yet listening, port; after a random
   pause (0-300 ms, so every phase of the retry back-off is sampled) the
   runner calls listen() and times how long until the workload (a shell that
   writes one byte to an inherited pipe) has started. N runs, p50/p99.
2. Cost: CPU time (user+sys, from wait4) of podinit waiting 10 s on a closed
   port, minus that of a 0.5 s wait (which has the same one-time costs:
   start-up, imports, the timeout's log lines), as a share of one core.
Results: Markdown and JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import select
import socket
import statistics
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def one_latency(podinit: str, env: dict) -> float:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [podinit, "--wait", f"tcp://127.0.0.1:{port}", "--", "sh", "-c", f"echo >&{write_fd}"],
        pass_fds=(write_fd,), env=env,
    )
    os.close(write_fd)
    deadline = time.monotonic() + 10
    while threads(proc.pid) < 2:  # the probe thread runs: podinit is waiting
        if time.monotonic() > deadline:
            raise SystemExit("podinit did not start waiting")
        time.sleep(0.001)
    time.sleep(random.uniform(0, 0.3))
    opened = time.perf_counter()
    sock.listen()
    ready, _, _ = select.select([read_fd], [], [], 10)
    started = time.perf_counter()
    if not ready:
        raise SystemExit("the workload did not start")
    os.close(read_fd)
    proc.wait(10)
    sock.close()
    return (started - opened) * 1000


def cpu_seconds(argv: list, env: dict) -> float:
    devnull = os.open(os.devnull, os.O_WRONLY)  # the timeout's error lines are expected
    pid = os.posix_spawn(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 2)])
    os.close(devnull)
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--podinit", required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODINIT_")}

    latencies = sorted(one_latency(args.podinit, env) for _ in range(args.runs))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    def waiting(seconds: float) -> float:
        return cpu_seconds([args.podinit, "--wait", f"tcp://127.0.0.1:{port}", "--wait-timeout",
                            str(seconds), "--", "true"], env)

    long_wait = statistics.median(waiting(args.idle_seconds) for _ in range(3))
    short_wait = statistics.median(waiting(0.5) for _ in range(5))
    closed.close()
    extra = (long_wait - short_wait) * args.idle_seconds / (args.idle_seconds - 0.5)
    result = {
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")},
        "port_open_to_workload_started_ms": {
            "runs": args.runs,
            "p50": latencies[len(latencies) // 2],
            "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "max": latencies[-1],
        },
        "waiting_on_closed_port": {
            "seconds": args.idle_seconds,
            "cpu_ms": extra * 1000,
            "share_of_one_core_percent": 100 * extra / args.idle_seconds,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "wait.json").write_text(json.dumps(result, indent=2) + "\n")
    lat, idle = result["port_open_to_workload_started_ms"], result["waiting_on_closed_port"]
    lines = [
        "# Readiness wait",
        "",
        f"{os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"{result['machine']['date']}. Default settings (back-off 2 ms doubling to 25 ms).",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| port open -> workload started, p50 ({args.runs} runs) | {lat['p50']:.1f} ms |",
        f"| port open -> workload started, p99 | {lat['p99']:.1f} ms |",
        f"| port open -> workload started, max | {lat['max']:.1f} ms |",
        f"| CPU of {args.idle_seconds:g} s of waiting on a closed port (one-time costs excluded) | {idle['cpu_ms']:.0f} ms "
        f"({idle['share_of_one_core_percent']:.2f}% of one core) |",
        "",
        "For comparison, fixed-interval pollers notice a ready target after half their "
        "interval on average and a whole one at worst: Istio's `pilot-agent wait` 500 ms, "
        "linkerd-await and Tekton 1 s.",
    ]
    (RESULTS / "wait.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
