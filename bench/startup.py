"""Start-up cost of `INIT -- true`, side by side, in one run.

Each tool runs `true` N times, interleaved round-robin so that machine noise
falls on all of them alike. Wall time is spawn-to-reap as seen by this
process. Peak RSS comes from GNU time (%M, the largest process of the tree):
a child spawned straight from this Python process would report Python's own
high-water mark, which the kernel records into the child at exec.
Results: Markdown and JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def tools(podinit: str, python: str) -> dict:
    candidates = {
        "true (no init)": ["true"],
        "python3 -c pass": [python, "-c", "pass"],
        "podinit -- true": [podinit, "--", "true"],
        # The same code without pip's console-script wrapper, which imports `re`.
        "podinit -- true (no pip wrapper)": [
            python, "-c", "from podinit.cli import main; main()", "--", "true",
        ],
        "tini -s -- true": ["tini", "-s", "--", "true"],
        "dumb-init true": ["dumb-init", "true"],
        "catatonit -- true": ["catatonit", "--", "true"],
    }
    found = {}
    for label, argv in candidates.items():
        path = shutil.which(argv[0])
        if path:
            found[label] = [path, *argv[1:]]
        else:
            print(f"skipping {label}: {argv[0]} not installed", file=sys.stderr)
    return found


def wall(argv: list) -> float:
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return elapsed


def peak_rss_kib(argv: list) -> int:
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], capture_output=True, check=True)
    return int(result.stderr.decode().split()[-1])


def percentile(values: list, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--podinit", required=True, help="path of an installed podinit command")
    parser.add_argument("--python", required=True, help="the interpreter podinit runs on")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rss-runs", type=int, default=30)
    args = parser.parse_args()

    import tempfile

    os.chdir(tempfile.gettempdir())  # so that `-c` imports the installed podinit
    selected = tools(args.podinit, args.python)
    walls = {label: [] for label in selected}
    rss = {label: [] for label in selected}
    for argv in selected.values():  # warm the page cache
        wall(argv)
    for _ in range(args.runs):
        for label, argv in selected.items():
            walls[label].append(wall(argv) * 1000)
    for _ in range(args.rss_runs):
        for label, argv in selected.items():
            rss[label].append(peak_rss_kib(argv) / 1024)

    rows = {
        label: {
            "median_ms": statistics.median(walls[label]),
            "p95_ms": percentile(walls[label], 0.95),
            "peak_rss_mib": statistics.median(rss[label]),
        }
        for label in selected
    }
    ratios = {}
    for ours in ("podinit -- true", "podinit -- true (no pip wrapper)"):
        for peer in ("python3 -c pass", "tini -s -- true", "dumb-init true", "catatonit -- true"):
            if peer in rows:
                ratios[f"{ours} / {peer}"] = {
                    "wall": rows[ours]["median_ms"] / rows[peer]["median_ms"],
                    "rss": rows[ours]["peak_rss_mib"] / rows[peer]["peak_rss_mib"],
                }
    machine = {
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "runs": args.runs,
        "rss_runs": args.rss_runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(
        json.dumps({"machine": machine, "tools": rows, "podinit_ratio_to": ratios}, indent=2) + "\n"
    )
    lines = [
        "# Start-up: `INIT -- true`",
        "",
        f"{machine['cores']} cores, Linux {machine['kernel']}, Python {machine['python']}, "
        f"{machine['date']}, {args.runs} interleaved runs each for time, "
        f"{args.rss_runs} for RSS (GNU time).",
        "",
        "| command | median ms | p95 ms | peak RSS MiB |",
        "|---|---:|---:|---:|",
    ]
    for label, row in rows.items():
        lines.append(
            f"| {label} | {row['median_ms']:.2f} | {row['p95_ms']:.2f} | {row['peak_rss_mib']:.1f} |"
        )
    lines += ["", "| ratio | wall (median) | peak RSS |", "|---|---:|---:|"]
    for peer, ratio in ratios.items():
        lines.append(f"| {peer} | {ratio['wall']:.2f}x | {ratio['rss']:.2f}x |")
    (RESULTS / "startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
