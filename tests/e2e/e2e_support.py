"""Helpers of the end-to-end tests: podman's times, and figures to report."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Dict, List

FIGURES: Dict[str, List[float]] = {}


RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def finished_at(state: dict) -> float:
    """podman's FinishedAt (RFC 3339 with nanoseconds) as Unix time."""
    match = RFC3339.match(state["FinishedAt"])
    assert match, state["FinishedAt"]
    whole, fraction, zone = match.groups()
    moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    return moment.timestamp() + float(fraction or 0)


def record_figure(name: str, value: float) -> None:
    FIGURES.setdefault(name, []).append(value)
