"""The `podinit` command: a fast path for `podinit -- CMD`, click for the rest.

`podinit -- CMD` and `podinit run -- CMD`, configured by the environment (the
usual form in a container spec), never import click: the container starts as
fast as a bare interpreter allows. Flags, --help, --version and the other
commands go through click, built from the same option table.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

    from podinit.config import Config


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; as the program itself (no `argv`), exit right away."""
    code = _dispatch(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        # Tearing the interpreter down costs about 3 ms and frees nothing a
        # process that ends needs freed: flush what we wrote and go.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


def _dispatch(args: List[str]) -> int:
    if args[:1] == ["--"]:
        return run_command(args[1:], {})
    if args[:2] == ["run", "--"]:
        return run_command(args[2:], {})
    from podinit import commands

    return commands.dispatch(args)


def configured(flags: Mapping[str, Any]) -> Union[Config, int]:
    """The configuration with logging set up, or the exit code of a bad one."""
    from podinit import log
    from podinit.config import ConfigError, resolve

    try:
        config = resolve(flags, os.environ)
    except ConfigError as error:
        log.error(str(error))
        return error.exit_code
    log.configure(config.log_level, config.log_format)
    if config.ignored_variables:
        log.debug("ignoring Kubernetes service-link variables", variables=config.ignored_variables)
    return config


def run_command(command: List[str], flags: Mapping[str, Any]) -> int:
    """Resolve the configuration, then run `command`; returns the exit code."""
    from podinit import exitcodes, log

    config = configured(flags)
    if isinstance(config, int):
        return config
    if not command:
        log.error("no command given; usage: podinit [OPTIONS] -- CMD [ARGS...]")
        return exitcodes.USAGE
    from podinit.run import run

    return run(command, config)


def status_command(flags: Mapping[str, Any], as_json: bool) -> int:
    """`podinit status`: print the peers' states; returns the exit code."""
    from podinit import exitcodes, log, status

    config = configured(flags)
    if isinstance(config, int):
        return config
    if not config.shared_dir:
        log.error("no shared directory; set PODINIT_SHARED_DIR or --shared-dir")
        return exitcodes.USAGE
    try:
        rows = status.peers(config.shared_dir)
    except OSError as error:
        log.error(f"PODINIT_SHARED_DIR={config.shared_dir!r}: cannot read: {error.strerror}")
        return exitcodes.USAGE
    if as_json:
        import json

        print(json.dumps(rows, indent=2))
    else:
        print(status.table(rows))
    return 0


def inject_command(source: str, main: Optional[str], waits: Sequence[str],
                   commands: Sequence[str], image: str, native: bool,
                   install: Tuple[int, str, str]) -> int:
    """`podinit inject`: rewrite manifests; nothing on stdout unless all is well.

    `install` is the initContainer's UID, resource requests and limits.
    """
    from podinit import exitcodes, inject, log, targets

    try:
        wait_map: dict = {}
        for name, target in inject.parse_pairs(waits, "--wait"):
            try:
                targets.parse(target)
            except ValueError as error:
                raise inject.InjectError(f"--wait={name}={target}: {error}") from None
            wait_map.setdefault(name, []).append(target)
        command_map = {name: inject.command_for(value, f"--command={name}")
                       for name, value in inject.parse_pairs(commands, "--command")}
        try:
            if source == "-":
                text = sys.stdin.read()
            else:
                with open(source, encoding="utf-8") as file:
                    text = file.read()
        except (OSError, UnicodeDecodeError) as error:
            raise inject.InjectError(f"{source}: cannot read: {getattr(error, 'strerror', None) or error}") from None
        user, requests, limits = install
        installer = inject.installer(image, user, inject.resources(requests, "--install-requests"),
                                     inject.resources(limits, "--install-limits"))
        output = inject.inject_text(text, inject.Options(main, wait_map, command_map, installer, native))
    except inject.InjectError as error:
        log.error(str(error))
        return exitcodes.USAGE
    sys.stdout.write(output)
    return 0


def wait_command(flags: Mapping[str, Any]) -> int:
    """`podinit wait`: the readiness wait alone; returns the exit code."""
    from podinit import exitcodes, log, signals

    config = configured(flags)
    if isinstance(config, int):
        return config
    if not config.wait:
        log.error("no target given; usage: podinit wait TARGET...")
        return exitcodes.USAGE
    from podinit.run import wait_for_targets

    signals.block()
    return wait_for_targets(config, then="gave up") or 0
