"""Resolve every option: flag, then environment, then TOML file, then default.

Bad input stops here, before anything is started, with one line that names
the flag, variable or key and the value it had.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

from podinit import exitcodes
from podinit.options import BY_ENV, BY_NAME, ENV_PREFIX, OPTIONS

if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Tuple

    from podinit.options import Option

MAX_FILE_BYTES = 1 << 20  # a config file is small; refuse to read a huge one


class ConfigError(Exception):
    """A user error in the configuration: one line, exit code 2."""

    exit_code = exitcodes.USAGE


class Config:
    """The resolved options, as attributes named like the options."""

    __slots__ = tuple(option.name for option in OPTIONS) + ("ignored_variables",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.ignored_variables: List[str] = []  # service links, named at debug level
        for name, value in values.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"Config({fields})"


def resolve(flags: Mapping[str, Any], environ: Mapping[str, str]) -> Config:
    """Build the Config; `flags` maps option names to what the command line gave."""
    ignored = _unknown_variables(environ)
    file_values, file_path = _read_config_file(flags, environ)
    resolved: Dict[str, Any] = {}
    labels: Dict[str, str] = {}
    for option in OPTIONS:
        raw, label = _pick(option, flags, environ, file_values, file_path)
        labels[option.name] = label or option.env
        if raw is None:
            resolved[option.name] = option.default
        elif isinstance(raw, bool) and option.switch:
            resolved[option.name] = raw
        else:
            resolved[option.name] = _parse(option, str(raw), label)
    _check_together(resolved, labels)
    config = Config(resolved)
    config.ignored_variables = ignored
    return config


def _check_together(resolved: Dict[str, Any], labels: Dict[str, str]) -> None:
    """Rules that involve more than one option, and defaults that depend on others."""
    # podinit moves to / once the workload runs (it must pin no directory),
    # so the paths it uses later are made absolute now.
    for option in ("shared_dir", "termination_log"):
        if resolved[option]:
            resolved[option] = os.path.abspath(resolved[option])
    shared = resolved["shared_dir"]
    if resolved["kill_group"]:  # a group gets SIGSTOP for a terminal's stop, as with dumb-init
        import _signal

        from podinit.signals import TTY_STOPS

        stops = dict.fromkeys(TTY_STOPS, _signal.SIGSTOP)
        resolved["signal_rewrite"] = {**stops, **resolved["signal_rewrite"]}
    needs_shared = f"{labels['shared_dir']} (the directory shared by the pod's containers)"
    for option in ("wait", "ready_check"):
        for target in resolved[option]:
            if hasattr(target, "shared_dir"):
                if not shared:
                    raise ConfigError(
                        f"{labels[option]}={target.text!r}: a sidecar target needs {needs_shared}"
                    )
                target.shared_dir = shared
    if resolved["role"] == "sidecar":
        if not resolved["name"]:
            raise ConfigError(f"{labels['role']}='sidecar' needs {labels['name']}: a pod's "
                              "containers share one hostname, so the name cannot be guessed")
        if not shared:
            raise ConfigError(f"{labels['role']}='sidecar' needs {needs_shared}")
        if resolved["stop_with"] is None:
            resolved["stop_with"] = ["main"]
    if resolved["name"] is None:
        resolved["name"] = "main"
    if resolved["stop_with"] is None:
        resolved["stop_with"] = []
    if resolved["stop_with"] and not shared:
        raise ConfigError(f"{labels['stop_with']}={','.join(resolved['stop_with'])!r} needs {needs_shared}")
    if resolved["stop_processes"]:
        import importlib.util

        if importlib.util.find_spec("psutil") is None:
            raise ConfigError(f"{labels['stop_processes']}={','.join(resolved['stop_processes'])!r} "
                              "needs psutil, which this build of podinit does not include")
    if resolved["name"] in resolved["stop_with"]:
        raise ConfigError(f"{labels['stop_with']}={','.join(resolved['stop_with'])!r}: "
                          f"a container cannot stop with itself ({resolved['name']!r})")


def _pick(
    option: Option,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    file_values: Mapping[str, Any],
    file_path: Optional[str],
) -> Tuple[Any, str]:
    """The raw value with the highest precedence, and where it came from."""
    given = flags.get(option.name)
    if given is not None and given != ():
        if isinstance(given, tuple):  # a repeated flag: one item per line
            return "\n".join(given), option.flag
        return given, option.flag
    if environ.get(option.env, "") != "":  # an empty variable counts as unset
        return environ[option.env], option.env
    if option.name in file_values:
        return file_values[option.name], f"{file_path}: {option.name}"
    return None, ""


def _parse(option: Option, raw: str, label: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as error:
        raise ConfigError(f"{label}={raw!r}: {error}") from None


def _unknown_variables(environ: Mapping[str, str]) -> List[str]:
    """PODINIT_ variables that are no option: Kubernetes service links are
    returned (to be named at debug level), any other is refused, since a
    misspelt variable would silently do nothing."""
    ignored = []
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX) or key in BY_ENV:
            continue
        if is_service_link(key, environ[key]):
            ignored.append(key)
            continue
        import difflib

        close = difflib.get_close_matches(key, list(BY_ENV), n=1, cutoff=0.8)
        if close:
            raise ConfigError(f"{key} is not a podinit variable; did you mean {close[0]}?")
        known = ", ".join(sorted(BY_ENV))
        raise ConfigError(f"{key} is not a podinit variable (known: {known})")
    return ignored


# What the kubelet puts into every container for each Service of the
# namespace (unless enableServiceLinks: false), for a Service named S (upper
# case, '-' as '_'): S_SERVICE_HOST, S_SERVICE_PORT, S_SERVICE_PORT_<NAME>,
# and the Docker-link style S_PORT, S_PORT_<N>_<PROTO>[_PROTO|_PORT|_ADDR].
# A Service named podinit or podinit-anything gives PODINIT_ variables.
_ADDRESS = r"[0-9A-Fa-f.:]+"
_URL = rf"(tcp|udp|sctp)://(\[?{_ADDRESS}\]?):[0-9]+"
_SERVICE_LINKS = (
    (r"_SERVICE_HOST", _ADDRESS),
    (r"_SERVICE_PORT(_[A-Z0-9_]+)?", r"[0-9]+"),
    (r"_PORT", _URL),
    (r"_PORT_[0-9]+_(TCP|UDP|SCTP)", _URL),
    (r"_PORT_[0-9]+_(TCP|UDP|SCTP)_PROTO", r"tcp|udp|sctp"),
    (r"_PORT_[0-9]+_(TCP|UDP|SCTP)_PORT", r"[0-9]+"),
    (r"_PORT_[0-9]+_(TCP|UDP|SCTP)_ADDR", _ADDRESS),
)


def is_service_link(key: str, value: str) -> bool:
    """Whether KEY=VALUE has the shape of a Kubernetes service-link variable."""
    import re

    return any(re.fullmatch(rf"[A-Z][A-Z0-9_]*{name}", key) and re.fullmatch(shape, value)
               for name, shape in _SERVICE_LINKS)


def _read_config_file(
    flags: Mapping[str, Any], environ: Mapping[str, str]
) -> Tuple[Dict[str, Any], Optional[str]]:
    option = BY_NAME["config"]
    path, label = _pick(option, flags, environ, {}, None)
    if path is None:
        return {}, None
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{label}={path!r}: cannot read: {error.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{label}={path!r}: larger than {MAX_FILE_BYTES} bytes")
    table = _parse_toml(data, label, path)
    values: Dict[str, Any] = {}
    for key, value in table.items():
        known = BY_NAME.get(key)
        if known is None or not known.in_file:
            names = ", ".join(o.name for o in OPTIONS if o.in_file)
            raise ConfigError(f"{path}: unknown key {key!r} (known: {names})")
        values[key] = _toml_to_text(value, f"{path}: {key}")
    return values, path


def _parse_toml(data: bytes, label: str, path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{label}={path!r}: not valid TOML: {reason}") from None


def _toml_to_text(value: Any, label: str) -> Any:
    """Give TOML's typed values the text form the option parsers read."""
    if isinstance(value, (bool, str)):
        return value if isinstance(value, str) else ("true" if value else "false")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict) and all(isinstance(v, (str, int)) for v in value.values()):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    raise ConfigError(f"{label}={value!r}: not a value podinit understands")


def from_environment(flags: Optional[Mapping[str, Any]] = None) -> Config:
    return resolve(flags or {}, os.environ)
