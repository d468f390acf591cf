"""Every option podinit has, in one table.

An option named `grace_period` is the flag `--grace-period`, the environment
variable `PODINIT_GRACE_PERIOD` and the key `grace_period` in the TOML file;
the command line, the environment reader, the file reader and `--help` are
all generated from this table, so they cannot drift apart.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import exitcodes, signals, values

if TYPE_CHECKING:
    from typing import Any, Callable

ENV_PREFIX = "PODINIT_"


def _targets(text: str) -> Any:
    """podinit.targets.parse_list, imported only when a target is given."""
    from podinit import targets

    return targets.parse_list(text)


def _urls(text: str) -> Any:
    from podinit import targets

    return targets.parse_urls(text)


class Option:
    """One option; `switch` makes it an on/off flag (--name / --no-name)."""

    __slots__ = ("name", "parse", "default", "help", "switch", "in_file", "metavar", "multiple")

    def __init__(
        self,
        name: str,
        parse: Callable[[str], Any],
        default: Any,
        help: str,
        switch: bool = False,
        in_file: bool = True,  # False: flag and environment only
        metavar: str = "TEXT",
        multiple: bool = False,  # a flag given many times; a list elsewhere
    ) -> None:
        self.name = name
        self.parse = parse
        self.default = default
        self.help = help
        self.switch = switch
        self.in_file = in_file
        self.metavar = metavar
        self.multiple = multiple

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


OPTIONS = (
    Option(
        "config",
        str,
        None,
        "TOML file with more options (keys are the option names).",
        in_file=False,
        metavar="PATH",
    ),
    Option(
        "grace_period",
        values.seconds,
        None,
        "Seconds between forwarding TERM, INT or QUIT and sending SIGKILL to a "
        "workload still alive. Unset: never escalate; the runtime's own grace "
        "period (terminationGracePeriodSeconds) decides.",
        metavar="SECONDS",
    ),
    Option(
        "leftover_grace",
        values.seconds,
        5.0,
        "Seconds that processes the workload left behind get between SIGTERM "
        "and SIGKILL after it exits.",
        metavar="SECONDS",
    ),
    Option(
        "kill_group",
        values.boolean,
        False,
        "Forward signals to the workload's whole process group, not only to it.",
        switch=True,
    ),
    Option(
        "parent_death_signal",
        signals.parse,
        None,
        "The signal podinit gets when the process that started it dies "
        "(PR_SET_PDEATHSIG), forwarded to the workload like any other (tini -p).",
        metavar="SIGNAL",
    ),
    Option(
        "warn_on_reap",
        values.boolean,
        False,
        "Log a warning for every process other than the workload that podinit "
        "reaps (tini -w).",
        switch=True,
    ),
    Option(
        "signal_rewrite",
        signals.parse_rewrite,
        {},
        "Rewrite signals on the way through, e.g. TERM:QUIT; 0 drops a signal.",
        metavar="FROM:TO,...",
    ),
    Option(
        "exit_code_map",
        exitcodes.parse_map,
        {},
        "Rewrite the workload's exit code on the way out, e.g. 143:0,137:1.",
        metavar="FROM:TO,...",
    ),
    Option(
        "wait",
        _targets,
        [],
        "Hold the workload back until these are ready: tcp://HOST:PORT, "
        "http(s)://HOST:PORT/PATH[?status=2xx][&insecure=1], unix:///PATH, "
        "file:///PATH[?nonempty=1], sidecar:NAME, exec:COMMAND. Comma-separated; "
        "the flag may be repeated.",
        metavar="TARGET",
        multiple=True,
    ),
    Option(
        "wait_timeout",
        values.positive_seconds,
        60.0,
        "Seconds to wait for all targets before giving up.",
        metavar="SECONDS",
    ),
    Option(
        "wait_attempt_timeout",
        values.positive_seconds,
        1.0,
        "Seconds one check of one target may take.",
        metavar="SECONDS",
    ),
    Option(
        "wait_max_interval",
        values.positive_seconds,
        0.025,
        "The longest pause between two checks of a target (they start at 2 ms "
        "and double): a target that becomes ready is seen within this.",
        metavar="SECONDS",
    ),
    Option(
        "wait_exit_code",
        exitcodes.parse_code,
        exitcodes.WAIT_TIMEOUT,
        "Exit code when the targets are not ready in time (and "
        "wait_on_timeout is fail).",
        metavar="CODE",
    ),
    Option(
        "wait_on_timeout",
        values.choice("fail", "start"),
        "fail",
        "When the wait times out: fail (exit with wait_exit_code, workload not "
        "started) or start (warn, then start the workload anyway).",
        metavar="POLICY",
    ),
    Option(
        "shared_dir",
        str,
        None,
        "The directory every container of the pod mounts (an emptyDir), where "
        "podinit containers exchange readiness and exit records.",
        metavar="PATH",
    ),
    Option(
        "role",
        values.choice("main", "sidecar"),
        "main",
        "main: this container runs the pod's workload; sidecar: it serves the "
        "workload and stops when its peers (stop_with) end.",
        metavar="ROLE",
    ),
    Option(
        "name",
        values.name,
        None,
        "This container's name in the shared directory. Required for a sidecar "
        "(a pod's containers share one hostname); a main container is 'main'.",
        metavar="NAME",
    ),
    Option(
        "ready_check",
        _targets,
        [],
        "A sidecar marks itself ready once these targets (as for --wait) are "
        "ready; unset: as soon as its process has started.",
        metavar="TARGET",
        multiple=True,
    ),
    Option(
        "stop_with",
        values.names,
        None,
        "Stop the workload when these peers end (see stop_with_mode). A "
        "sidecar's default: main. A main container may name the sidecars it "
        "cannot work without.",
        metavar="NAME,...",
    ),
    Option(
        "stop_with_mode",
        values.choice("any", "all"),
        "any",
        "any: stop when the first of stop_with ends; all: when every one has.",
        metavar="MODE",
    ),
    Option(
        "stop_signal",
        signals.parse,
        15,
        "The signal podinit sends when it stops its workload because of its "
        "peers (SIGKILL follows after stop_grace).",
        metavar="SIGNAL",
    ),
    Option(
        "stop_grace",
        values.seconds,
        10.0,
        "Seconds between stop_signal and SIGKILL when podinit stops its "
        "workload because of its peers.",
        metavar="SECONDS",
    ),
    Option(
        "hold_term",
        values.boolean,
        True,
        "A sidecar that gets TERM or INT while the peers it stops with still "
        "run (a pod being deleted: the kubelet TERMs every container at once) "
        "holds it until they have ended, then stops its process as usual; a "
        "second TERM or INT is forwarded at once. Main containers never hold.",
        switch=True,
    ),
    Option(
        "hold_timeout",
        values.seconds,
        20.0,
        "The longest a sidecar holds a TERM or INT; then it is forwarded. The "
        "default leaves stop_grace (10 s) of Kubernetes' default 30 s "
        "terminationGracePeriodSeconds for the sidecar's own stop.",
        metavar="SECONDS",
    ),
    Option(
        "peer_watch",
        values.choice("inotify", "poll"),
        "inotify",
        "How to learn of the peers' records: inotify (falls back to polling "
        "where it is unavailable) or poll (every 0.1 s; for a shared directory "
        "whose filesystem does not report changes).",
        metavar="HOW",
    ),
    Option(
        "restart_policy",
        values.restart_policy,
        "Never",
        "The pod's restartPolicy. With OnFailure a failed exit is not final (the "
        "kubelet restarts the container), so peers keep running.",
        metavar="POLICY",
    ),
    Option(
        "quit_urls",
        _urls,
        [],
        "When the workload's end is final, POST to these (sidecars not wrapped "
        "by podinit: Istio's http://127.0.0.1:15020/quitquitquit, Linkerd's "
        "http://localhost:4191/shutdown).",
        metavar="URL",
        multiple=True,
    ),
    Option(
        "stop_processes",
        values.words,
        [],
        "When the workload's end is final, send stop_signal to processes with "
        "these names (needs shareProcessNamespace).",
        metavar="NAME,...",
    ),
    Option(
        "termination_log",
        str,
        "/dev/termination-log",
        "Where to write a one-line summary when the workload ends, if the file "
        "exists and the workload left it empty.",
        metavar="PATH",
    ),
    Option(
        "log_format",
        values.choice("console", "json"),
        "console",
        "How podinit's own lines on stderr look: console or json.",
        metavar="FORMAT",
    ),
    Option(
        "log_level",
        values.choice("debug", "info", "warning", "error"),
        "warning",
        "The least severe of podinit's own lines to print.",
        metavar="LEVEL",
    ),
)

BY_NAME = {option.name: option for option in OPTIONS}
BY_ENV = {option.env: option for option in OPTIONS}


def describe(option: Option) -> str:
    """The option's help with where else it can be set and its default."""
    default = "unset" if option.default in (None, {}, []) else option.default
    if option.parse is signals.parse and isinstance(default, int):
        default = signals.name(default)[3:]
    if isinstance(default, bool):
        default = "on" if default else "off"
    return f"{option.help} [env: {option.env}; default: {default}]"
