"""Parsers for option values given as text (flags, environment, TOML).

Each parser takes the raw text and returns the value or raises ValueError
with a short reason; the caller adds which flag or variable it came from.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:  # typing costs milliseconds at start-up; annotations only
    from typing import Callable, Dict, List, TypeVar

    K = TypeVar("K")
    V = TypeVar("V")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def boolean(text: str) -> bool:
    """Accept the spellings people put in environment variables."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("must be one of 1, 0, true, false, yes, no, on, off")


def seconds(text: str) -> float:
    """A duration in seconds: a finite number >= 0."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("must be a number of seconds, e.g. 10 or 0.5") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise ValueError("must be a finite number of seconds >= 0")
    return value


def positive_seconds(text: str) -> float:
    """A duration in seconds that must be more than zero."""
    value = seconds(text)
    if value == 0:
        raise ValueError("must be a number of seconds > 0")
    return value


def choice(*allowed: str) -> Callable[[str], str]:
    """A parser that accepts one word out of `allowed`, case-insensitively."""

    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return word

    return parse


def name(text: str) -> str:
    """A peer's name: letters, digits, '.', '_' and '-' (it names files)."""
    word = text.strip()
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if not word or not set(word) <= allowed or word.startswith("."):
        raise ValueError("must be letters, digits, '.', '_' and '-', not starting with '.'")
    return word


def command(text: str) -> List[str]:
    """A command line, split as a shell would, without running a shell."""
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValueError(str(error)) from None
    if not words:
        raise ValueError("no command")
    return words


def names(text: str) -> List[str]:
    """A comma-separated list of names, at least one."""
    found = [name(item) for item in text.replace("\n", ",").split(",") if item.strip()]
    if not found:
        raise ValueError("must name at least one peer")
    return found


def words(text: str) -> List[str]:
    """A comma-separated list of non-empty words."""
    found = [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]
    if not found:
        raise ValueError("must list at least one item")
    return found


def restart_policy(text: str) -> str:
    """The pod's restartPolicy, spelled as in the pod spec (any case accepted)."""
    for policy in ("Never", "OnFailure", "Always"):
        if text.strip().lower() == policy.lower():
            return policy
    raise ValueError("must be Never, OnFailure or Always (the pod's restartPolicy)")


def pairs(
    text: str, key: Callable[[str], K], value: Callable[[str], V]
) -> Dict[K, V]:
    """Parse "a:b,c:d" into {a: b, c: d}; an empty text is an empty map."""
    result: dict = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        left, sep, right = item.partition(":")
        if not sep or not left.strip() or not right.strip():
            raise ValueError(f"{item!r} is not FROM:TO")
        k = key(left.strip())
        if k in result:
            raise ValueError(f"{left.strip()!r} is given twice")
        result[k] = value(right.strip())
    return result
