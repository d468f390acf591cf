"""The click command line: `podinit [OPTIONS] -- CMD`, `podinit run`, and more.

Everything after the first `--` is the workload's command, untouched; click
parses only what comes before it. Every option comes from podinit.options,
so flags, environment variables and TOML keys stay one set.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import click

from podinit import __version__, exitcodes, log
from podinit.cli import run_command
from podinit.options import OPTIONS, describe


# What `podinit wait` takes: the wait's own settings, not the supervisor's.
WAIT_OPTIONS = {
    "config", "wait_timeout", "wait_attempt_timeout", "wait_max_interval",
    "wait_exit_code", "wait_on_timeout", "shared_dir", "log_format", "log_level",
}


def _run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add one click option per entry of the option table."""
    return _options(function, [option.name for option in OPTIONS])


def _wait_options(function: Callable[..., Any]) -> Callable[..., Any]:
    return _options(function, [o.name for o in OPTIONS if o.name in WAIT_OPTIONS])


def _options_named(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return lambda function: _options(function, list(names))


def _options(function: Callable[..., Any], names: List[str]) -> Callable[..., Any]:
    for option in reversed([o for o in OPTIONS if o.name in names]):
        if option.switch:
            declaration = f"{option.flag}/--no-{option.flag[2:]}"
            decorate = click.option(
                declaration, option.name, default=None, help=describe(option)
            )
        else:
            decorate = click.option(
                option.flag,
                option.name,
                default=None,
                metavar=option.metavar,
                multiple=option.multiple,
                help=describe(option),
            )
        function = decorate(function)
    return function


class _Podinit(click.Group):
    """A group whose usage line shows `-- CMD`, and which says how to run a program."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("podinit", "[OPTIONS] -- CMD [ARGS]...\n       podinit COMMAND [ARGS]...")

    def resolve_command(self, ctx: click.Context, args: List[str]) -> Any:
        if args and args[0] not in self.commands:
            raise click.UsageError(
                f"unknown command {args[0]!r}; to run a program, put it after --: "
                f"podinit [OPTIONS] -- {' '.join(args)}"
            )
        return super().resolve_command(ctx, args)


@click.group(
    cls=_Podinit,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="podinit", message="%(prog)s %(version)s")
@_run_options
@click.pass_context
def app(ctx: click.Context, **flags: Optional[str]) -> None:
    """Run CMD as the container's init: forward signals to it, reap zombies,
    stop what it leaves behind, and exit with its exit code (128+N if signal
    N killed it).

    Every option is also an environment variable and a key in the TOML file
    (--config); a flag beats the environment, which beats the file.

    Exit codes: the workload's own; 2 for a bad option (the workload is not
    started); 126 if CMD cannot be executed; 127 if it is not found.
    """
    ctx.ensure_object(dict)
    ctx.obj["flags"] = flags
    if ctx.invoked_subcommand is None:
        ctx.exit(run_command(ctx.obj.get("command") or [], flags))


@app.command("run")
@_run_options
@click.pass_context
def run(ctx: click.Context, **flags: Optional[str]) -> None:
    """Run CMD (the same as `podinit [OPTIONS] -- CMD`)."""
    merged: Dict[str, Any] = dict(ctx.obj.get("flags", {}))
    merged.update({name: value for name, value in flags.items() if value not in (None, ())})
    ctx.exit(run_command(ctx.obj.get("command") or [], merged))


@app.command("wait")
@_wait_options
@click.argument("targets", nargs=-1, metavar="TARGET...")
def wait(targets: Tuple[str, ...], **flags: Optional[str]) -> None:
    """Wait until every TARGET is ready and exit 0; on timeout exit with
    --wait-exit-code (75 unless set). For an initContainer or a script step.

    TARGET is tcp://HOST:PORT, http(s)://HOST:PORT/PATH, unix:///PATH,
    file:///PATH, sidecar:NAME or exec:COMMAND (see podinit --help).
    """
    from podinit.cli import wait_command

    raise click.exceptions.Exit(wait_command(dict(flags, wait=targets)))


@app.command("status")
@_options_named("config", "shared_dir", "log_format", "log_level")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(as_json: bool, **flags: Optional[str]) -> None:
    """Show each podinit of the pod (ready, running, exited with code, or
    stale: died without a record), read from the shared directory."""
    from podinit.cli import status_command

    raise click.exceptions.Exit(status_command(flags, as_json))


@app.command("inject")
@click.argument("source", default="-", metavar="[FILE]")
@click.option("--main", "main_name", metavar="NAME",
              help="The main container (default: the first); the others are sidecars.")
@click.option("--wait", "waits", multiple=True, metavar="SIDECAR=TARGET",
              help="The main container also waits for TARGET (as for podinit --wait), "
                   "checked as SIDECAR's readiness. Repeatable.")
@click.option("--command", "commands", multiple=True, metavar="NAME='CMD ARGS'",
              help="The command of container NAME, for one that has none in the "
                   "manifest (its image's entrypoint cannot be known offline). Repeatable.")
@click.option("--image", default="podinit:latest", show_default=True,
              help="The podinit image the initContainer copies podinit from.")
@click.option("--native", is_flag=True,
              help="Kubernetes 1.29+ native sidecars: move the sidecars to initContainers "
                   "with restartPolicy Always; only the main container runs under podinit.")
@click.option("--install-user", default=65532, show_default=True, type=click.IntRange(1),
              help="The UID (and GID) the initContainer copies podinit as; never root.")
@click.option("--install-requests", default="cpu=10m,memory=16Mi", show_default=True,
              metavar="RESOURCE=QUANTITY,...",
              help="The initContainer's resource requests; '' for none.")
@click.option("--install-limits", default="cpu=200m,memory=64Mi", show_default=True,
              metavar="RESOURCE=QUANTITY,...",
              help="The initContainer's resource limits; '' for none.")
def inject(source: str, main_name: Optional[str], waits: Tuple[str, ...],
           commands: Tuple[str, ...], image: str, native: bool, install_user: int,
           install_requests: str, install_limits: str) -> None:
    """Add podinit to the pod templates of a YAML stream (FILE, or - for
    stdin) and print it: podinit inject job.yaml | kubectl apply -f -"""
    from podinit.cli import inject_command

    raise click.exceptions.Exit(inject_command(
        source, main_name, waits, commands, image, native,
        install=(install_user, install_requests, install_limits)))


def dispatch(args: List[str]) -> int:
    """Run the click command line on `args`; returns the exit code."""
    command: Optional[List[str]] = None
    if "--" in args:
        split = args.index("--")
        args, command = args[:split], args[split + 1 :]
    try:
        result = app.main(args, prog_name="podinit", standalone_mode=False, obj={"command": command})
    except click.UsageError as error:
        log.error(error.format_message())
        return exitcodes.USAGE
    except click.Abort:
        return exitcodes.SIGNAL_BASE + 2
    return result if isinstance(result, int) else 0
