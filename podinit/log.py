"""podinit's own lines: structlog to stderr, imported only when a line is due.

The workload owns stdout; podinit writes only to stderr. Importing structlog
costs more than starting Python, so a quiet run (the default) never does.
"""

from __future__ import annotations

import sys
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Any, Optional

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

_threshold = LEVELS["warning"]
_format = "console"
_logger: Optional[Any] = None


def configure(level: str, fmt: str) -> None:
    """Set the threshold and format; cheap, nothing is imported yet."""
    global _threshold, _format, _logger
    _threshold = LEVELS[level]
    _format = fmt
    _logger = None


def enabled(level: str) -> bool:
    return LEVELS[level] >= _threshold


def debug(event: str, **fields: Any) -> None:
    _emit("debug", event, fields)


def info(event: str, **fields: Any) -> None:
    _emit("info", event, fields)


def warning(event: str, **fields: Any) -> None:
    _emit("warning", event, fields)


def error(event: str, **fields: Any) -> None:
    _emit("error", event, fields)


def _emit(level: str, event: str, fields: Any) -> None:
    global _logger
    if LEVELS[level] < _threshold:
        return
    if _logger is None:
        _logger = _build()
    getattr(_logger, level)(event, **fields)


def _build() -> Any:
    import structlog

    if _format == "json":
        renderer: Any = structlog.processors.JSONRenderer()
    else:
        try:
            renderer = structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
        except TypeError:  # structlog before 25.1 spells it pad_event
            renderer = structlog.dev.ConsoleRenderer(colors=False, pad_event=0)
    return structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        context_class=dict,
    ).bind(logger="podinit")
