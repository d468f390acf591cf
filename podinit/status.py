"""`podinit status`: each peer's state, read from the shared directory."""

from __future__ import annotations

import os
import time

from podinit import handshake

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any, Dict, List


def peers(shared_dir: str) -> List[Dict[str, Any]]:
    """One row per podinit that has run in `shared_dir`, sorted by name."""
    rows = []
    for entry in sorted(os.listdir(shared_dir)):
        if not entry.endswith(".run") or entry.startswith("."):
            continue
        name = entry[: -len(".run")]
        run = handshake.read_record(shared_dir, name, "run")
        if run is None:
            continue
        state = handshake.peer_state(shared_dir, name)
        row: Dict[str, Any] = {
            "name": name,
            "role": run.get("role"),
            "state": state,
            "run_id": run["run_id"],
            "pid": run.get("pid"),
            "started": run.get("started"),
            "exit_code": None,
        }
        if state == "exited":
            record = handshake.read_record(shared_dir, name, "exit") or {}
            row["exit_code"] = record.get("code")
            row["final"] = record.get("final")
        rows.append(row)
    return rows


def table(rows: List[Dict[str, Any]]) -> str:
    header = ("NAME", "ROLE", "STATE", "EXIT", "STARTED", "RUN")
    lines = [header]
    for row in rows:
        started = row["started"]
        when = time.strftime("%H:%M:%S", time.gmtime(started)) if isinstance(started, (int, float)) else "-"
        code = "-" if row["exit_code"] is None else str(row["exit_code"])
        lines.append((row["name"], str(row["role"]), row["state"], code, when, row["run_id"]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)
