"""Which signals podinit takes over, their names, and the wait for the next one.

Like tini, podinit blocks every signal it handles and takes them one at a
time with sigtimedwait(): no handler runs at an arbitrary moment, nothing is
lost between two checks, and a signal that arrives before the workload exists
stays pending until it can be forwarded. Blocked signals are also the ones a
kernel delivers to a PID 1 that installed no handler.

The hot path uses `_signal`, the C module under `signal`: the same functions
and constants as plain ints. `signal` itself builds enums at import, which
costs more than half of an interpreter's start; it is imported only to read
or print a signal's name.
"""

from __future__ import annotations

import _signal as signal
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Dict, Iterable, Optional, Set

# Raised by a faulting thread against itself, but also sent with kill() like
# any other. Blocking them is safe: for a real fault the kernel unblocks the
# signal, resets it to its default action and kills podinit (the faulting
# instruction could never go on), whereas the same numbers sent by another
# process (SI_USER, SI_QUEUE, SI_TKILL) stay pending and are forwarded like
# every other signal, as dumb-init does; tini leaves them unblocked, so a
# `kill -ABRT` kills tini and orphans its workload.
SYNCHRONOUS = {
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGFPE,
    signal.SIGILL,
    signal.SIGTRAP,
    signal.SIGABRT,
    signal.SIGSYS,
}
UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}

# Forwarding one of these starts the grace period (when one is set).
TERMINATING = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}
# A terminal's stop requests: forwarded (as SIGSTOP to a process group, which
# cannot ignore it, unless rewritten), then podinit stops itself too, even if
# the rewrite dropped it, so the shell that started it sees the job stopped
# (dumb-init's behaviour).
TTY_STOPS = {signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}

FORWARDED = set(signal.valid_signals()) - UNCATCHABLE - {signal.SIGCHLD}
HANDLED = FORWARDED | {signal.SIGCHLD}


def block() -> Set[int]:
    """Block every handled signal; returns the mask to give the workload."""
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED))


def unblock(mask: Iterable[int]) -> None:
    """Put back a mask returned by block() (done in the child before exec)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def next_signal(timeout: Optional[float]) -> Optional[int]:
    """Wait for the next handled signal; None when `timeout` runs out first."""
    return next_of(HANDLED, timeout)


def next_of(wanted: Set[int], timeout: Optional[float]) -> Optional[int]:
    """Wait for one of `wanted` (others stay pending); None on timeout."""
    if timeout is None:
        return signal.sigwaitinfo(wanted).si_signo
    info = signal.sigtimedwait(wanted, max(timeout, 0.0))
    return None if info is None else info.si_signo


def drain(signums: Iterable[int]) -> None:
    """Discard pending instances of `signums` without waiting."""
    wanted = set(signums)
    while signal.sigtimedwait(wanted, 0) is not None:
        pass


def name(signum: int) -> str:
    """SIGTERM for 15, SIGRTMIN+3 for a real-time signal."""
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
            return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
        return str(signum)


def parse(text: str, *, allow_zero: bool = False) -> int:
    """Read a signal as TERM, SIGTERM, term, 15, RTMIN+2 or RTMAX-1."""
    import signal

    word = text.strip().upper()
    if word.isdigit():
        signum = int(word)
        if signum == 0 and allow_zero:
            return 0
        if signum in FORWARDED or signum in UNCATCHABLE:
            return signum
        raise ValueError(f"{text!r} is not a signal that can be sent")
    if not word.startswith("SIG"):
        word = "SIG" + word
    for base, sign in (("SIGRTMIN", 1), ("SIGRTMAX", -1)):
        if word.startswith(base) and word != base:
            offset = word[len(base):]
            if offset[:1] in "+-" and offset[1:].isdigit():
                signum = int(getattr(signal, base)) + int(offset)
                if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
                    return signum
            raise ValueError(f"{text!r} is not a real-time signal")
    member = getattr(signal.Signals, word, None) if word.isidentifier() else None
    if member is None or not isinstance(member, signal.Signals):
        raise ValueError(f"{text!r} is not a signal name")
    return int(member)


def parse_rewrite(text: str) -> Dict[int, int]:
    """Parse a rewrite map such as "TERM:QUIT,HUP:0" (0 drops the signal)."""
    from podinit import values

    def source(word: str) -> int:
        signum = parse(word)
        if signum not in FORWARDED:
            raise ValueError(f"{word!r} is never forwarded, so cannot be rewritten")
        return signum

    return values.pairs(text, source, lambda word: parse(word, allow_zero=True))
