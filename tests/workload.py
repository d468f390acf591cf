"""A workload for the tests: it does one thing and reports what it saw.

Reports are lines written to the file descriptor named by REPORT_FD (a pipe
the test reads), so a test waits on an event, never on a sleep.
Usage: workload.py MODE [ARGS...]; the modes are the functions below.
"""

import os
import signal
import sys
import time

CATCHABLE = sorted(
    set(signal.valid_signals())
    - {signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}
)


def report(line):
    os.write(int(os.environ["REPORT_FD"]), (line + "\n").encode())


def signame(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


def sleep_forever():
    while True:
        signal.pause()


def record_signals(role, exit_on=None, react=None):
    """Take signals one at a time (sigwaitinfo, lowest number first) and report each.

    Synchronous on purpose: Python handlers can nest, so their reports could
    come out of order. Exits 0 after reporting `exit_on`; `react` maps a
    signal to a function called after it is reported.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, CATCHABLE)
    while True:
        signum = signal.sigwaitinfo(CATCHABLE).si_signo
        report(f"{role} {signame(signum)}" + (f" at {time.time()}" if os.environ.get("REPORT_TIME") else ""))
        if react and signum in react:
            react[signum]()
        if signum == exit_on:
            os._exit(0)


def exit_with(code):
    sys.exit(int(code))


def kill_self(name):
    signum = signal.Signals["SIG" + name]
    if signum != signal.SIGKILL:
        signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    sleep_forever()


def record(exit_on="TERM"):
    """Record every catchable signal; exit 0 after recording `exit_on`."""
    signal.pthread_sigmask(signal.SIG_BLOCK, CATCHABLE)  # before "ready": none slips by
    report(f"ready {os.getpid()} tty={int(os.isatty(0))}")
    record_signals("workload", signal.Signals["SIG" + exit_on])


def slow_stop(seconds):
    """Report "stopping" on SIGTERM, go on for `seconds` (a workload's own
    graceful stop), then exit 0."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    report("ready")
    signal.sigwaitinfo({signal.SIGTERM})
    report("stopping")
    time.sleep(float(seconds))
    sys.exit(0)


def group():
    """Record signals, with a child in the same process group doing the same.

    On SIGUSR2 the workload sends its child SIGPWR itself; the child handles
    pending signals lowest number first, so once it reports SIGPWR it has
    reported any SIGUSR1 that reached it before.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, CATCHABLE)  # the child inherits it
    child = os.fork()
    if child == 0:
        report("child-ready")
        record_signals("child", signal.SIGTERM)
    report("ready")
    record_signals(
        "workload", signal.SIGTERM, {signal.SIGUSR2: lambda: os.kill(child, signal.SIGPWR)}
    )


def ignore_term(exit_on_usr1="5"):
    """Ignore SIGTERM; exit with the given code on SIGUSR1."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda s, f: os._exit(int(exit_on_usr1)))
    report("ready")
    sleep_forever()


def orphans(count):
    """Make `count` orphans that exit at once, then wait until all have exited."""
    gone_r, gone_w = os.pipe()
    for _ in range(int(count)):
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:
                os._exit(0)  # the orphan: holds gone_w until it exits
            os._exit(0)
        os.waitpid(pid, 0)
    os.close(gone_w)
    os.read(gone_r, 1)  # EOF once every orphan has exited
    report("orphans-exited")
    record("TERM")


def orphan_parent():
    """Make one orphan and report who its parent became."""
    middle = os.fork()
    if middle == 0:
        middle = os.getpid()
        if os.fork() == 0:
            while os.getppid() == middle:
                time.sleep(0.001)  # polls the kernel's answer, not a timing guess
            report(f"orphan-parent {os.getppid()}")
            os._exit(0)
        os._exit(0)
    os.waitpid(middle, 0)
    record("TERM")


def leftover(code="0", behaviour="record"):
    """Leave a process behind and exit with `code`.

    behaviour=record: it reports SIGTERM and exits; ignore: it ignores SIGTERM.
    """
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        if behaviour == "ignore":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.pthread_sigmask(signal.SIG_BLOCK, CATCHABLE)
        report(f"leftover {os.getpid()}")
        os.close(ready_w)
        if behaviour == "ignore":
            sleep_forever()
        record_signals("leftover", signal.SIGTERM)
    os.close(ready_w)
    os.read(ready_r, 1)  # EOF once the leftover has set itself up
    sys.exit(int(code))


def started_at():
    """Report CLOCK_MONOTONIC (the same clock in every process) at start."""
    report(f"started {time.monotonic()}")


def storm(rt_expected):
    """Count a signal storm. Real-time signals queue, so every one must
    arrive; when all `rt_expected` have and a TERM came, report the counts and
    die of SIGTERM (standard signals are taken before real-time ones, so the
    TERM usually arrives first)."""
    rt_expected = int(rt_expected)
    signal.pthread_sigmask(signal.SIG_BLOCK, CATCHABLE)
    report("ready")
    counts = {}
    while True:
        signum = signal.sigwaitinfo(CATCHABLE).si_signo
        counts[signum] = counts.get(signum, 0) + 1
        rt = sum(n for s, n in counts.items() if s >= signal.SIGRTMIN)
        if counts.get(signal.SIGTERM) and rt >= rt_expected:
            report(" ".join(f"{signame(s)}={n}" for s, n in sorted(counts.items())))
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            os.kill(os.getpid(), signal.SIGTERM)
            sleep_forever()


def touch(path):
    """Prove the workload ran: create `path`."""
    open(path, "w").close()


if __name__ == "__main__":
    globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
