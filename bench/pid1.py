"""PID-1 duties side by side: signal forwarding, reaping, idle cost.

For podinit and, where installed, tini, dumb-init and catatonit, in one run:
- signals: SIGUSR1 sent to the init one at a time, N times; the workload
  takes each with sigwaitinfo() and reports CLOCK_MONOTONIC; latency is
  report - send; a signal that never arrives counts as lost. All inits run
  at once and take turns in rounds of 100 signals, so that noise falls on
  each alike;
- reaping: each init as PID 1 of a new PID namespace; the workload makes
  10,000 orphans (double fork, the grandchild exits at once); the runner
  samples the init's zombie children until none is left: time from the first
  fork until all are reaped, and the most zombies seen at once;
- idle: each init around `sleep`, all at once; the init's own CPU time
  (utime+stime) over S seconds, counted from one second after start (so start-up
  is not in it), and its resident memory at the end.
Results: Markdown and JSON in bench/results/, with the ratio to the best peer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")

RECEIVER = """
import os, signal, struct, sys, time
fd = int(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
os.write(fd, struct.pack("d", 0.0))
while True:
    signum = signal.sigwaitinfo({signal.SIGUSR1, signal.SIGTERM}).si_signo
    if signum == signal.SIGTERM:
        os._exit(0)
    os.write(fd, struct.pack("d", time.monotonic()))
"""

ORPHANS = """
import os, sys, signal
count = int(sys.argv[1]); fd = int(sys.argv[2])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.write(fd, b"S")
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
os.write(fd, b"D")
signal.sigwaitinfo({signal.SIGTERM})
"""


def inits(podinit: str) -> dict:
    table = {
        "podinit": [podinit, "--"],
        "tini": ["tini", "-s", "--"],
        "dumb-init": ["dumb-init"],
        "catatonit": ["catatonit", "--"],
    }
    found = {}
    for name, argv in table.items():
        path = shutil.which(argv[0])
        if path:
            found[name] = [path, *argv[1:]]
    return found


def read_exact(fd: int, size: int, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def signals_bench(table: dict, python: str, count: int, round_size: int = 100) -> dict:
    running = {}
    for name, prefix in table.items():
        read_fd, write_fd = os.pipe()
        proc = subprocess.Popen([*prefix, python, "-c", RECEIVER, str(write_fd)], pass_fds=(write_fd,))
        os.close(write_fd)
        read_exact(read_fd, 8, 10)
        running[name] = (proc, read_fd, [], [0])
    for _ in range(max(1, count // round_size)):
        for proc, read_fd, latencies, lost in running.values():
            for _ in range(round_size):
                sent = time.monotonic()
                proc.send_signal(signal.SIGUSR1)
                try:
                    received = struct.unpack("d", read_exact(read_fd, 8, 1.0))[0]
                except TimeoutError:
                    lost[0] += 1
                    continue
                latencies.append((received - sent) * 1e6)
    result = {}
    for name, (proc, read_fd, latencies, lost) in running.items():
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        os.close(read_fd)
        latencies.sort()
        result[name] = {"sent": len(latencies) + lost[0], "lost": lost[0],
                        "p50_us": latencies[len(latencies) // 2],
                        "p99_us": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}
    return result


def zombie_children(pid: int) -> int:
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return 0
    zombies = 0
    for child in children:
        try:
            stat = open(f"/proc/{child}/stat", "rb").read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] == b"Z":
            zombies += 1
    return zombies


def reaping_bench(prefix: list, python: str, count: int) -> dict:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", *prefix, python, "-c",
                             ORPHANS, str(count), str(write_fd)], pass_fds=(write_fd,))
    os.close(write_fd)
    read_exact(read_fd, 1, 10)
    started = time.monotonic()
    init = int(open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()[0])
    most, spawned = 0, False
    while True:
        zombies = zombie_children(init)
        most = max(most, zombies)
        if not spawned and select.select([read_fd], [], [], 0)[0]:
            spawned = os.read(read_fd, 1) == b"D"
        if spawned and zombies == 0:
            break
        time.sleep(0.002)
    finished = time.monotonic()
    os.kill(init, signal.SIGTERM)
    proc.wait(30)
    os.close(read_fd)
    return {"orphans": count, "all_reaped_s": finished - started, "most_zombies": most}


def cpu_seconds(pid: int) -> float:
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def idle_bench(table: dict, seconds: float) -> dict:
    procs = {name: subprocess.Popen([*prefix, "sleep", str(seconds + 30)]) for name, prefix in table.items()}
    time.sleep(1)  # past start-up
    before = {name: cpu_seconds(proc.pid) for name, proc in procs.items()}
    time.sleep(seconds)  # the benchmark's subject: what an init costs while nothing happens
    result = {}
    for name, proc in procs.items():
        cpu = cpu_seconds(proc.pid) - before[name]
        rss_kib = next(int(line.split()[1]) for line in open(f"/proc/{proc.pid}/status")
                       if line.startswith("VmRSS:"))
        result[name] = {"seconds": seconds, "cpu_s": cpu, "rss_mib": rss_kib / 1024}
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        proc.wait(10)
    return result


def ratio(value: float, peers: list) -> str:
    best = min(peers) if peers else 0
    return f"{value / best:.2f}x" if best else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--podinit", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--signals", type=int, default=2000)
    parser.add_argument("--orphans", type=int, default=10000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    args = parser.parse_args()
    table = inits(args.podinit)
    results = {"signals": {}, "reaping": {}, "idle": {}}
    results["signals"] = signals_bench(table, args.python, args.signals)
    for name, prefix in table.items():
        results["reaping"][name] = reaping_bench(prefix, args.python, args.orphans)
    results["idle"] = idle_bench(table, args.idle_seconds)
    machine = {"cores": os.cpu_count(), "kernel": platform.release(),
               "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pid1.json").write_text(json.dumps({"machine": machine, **results}, indent=2) + "\n")

    peers = [n for n in table if n != "podinit"]
    sig, reap, idle = results["signals"], results["reaping"], results["idle"]
    lines = ["# PID-1 duties, side by side", "",
             f"{machine['cores']} cores, Linux {machine['kernel']}, Python {machine['python']}, "
             f"{machine['date']}. Ratios: podinit against the best peer.", "",
             f"## Signal forwarding ({args.signals} SIGUSR1, one at a time)", "",
             "| init | p50 us | p99 us | lost |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['lost']} |" for n, r in sig.items()]
    lines += ["", f"podinit p50 {ratio(sig['podinit']['p50_us'], [sig[p]['p50_us'] for p in peers])}, "
              f"p99 {ratio(sig['podinit']['p99_us'], [sig[p]['p99_us'] for p in peers])} of the best peer.",
              "", f"## Reaping ({args.orphans} orphans, each init as PID 1)", "",
              "| init | all reaped after s | most zombies at once |", "|---|---:|---:|"]
    lines += [f"| {n} | {r['all_reaped_s']:.2f} | {r['most_zombies']} |" for n, r in reap.items()]
    lines += ["", f"podinit {ratio(reap['podinit']['all_reaped_s'], [reap[p]['all_reaped_s'] for p in peers])} "
              "of the best peer's time (the orphans' creation, the same for all, is most of it).",
              "", f"## Idle ({args.idle_seconds:g} s of a sleeping workload)", "",
              "| init | CPU s | RSS MiB |", "|---|---:|---:|"]
    lines += [f"| {n} | {r['cpu_s']:.2f} | {r['rss_mib']:.1f} |" for n, r in idle.items()]
    (RESULTS / "pid1.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
