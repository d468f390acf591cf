"""Configuration: flag > environment > file > default, and bad input refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import PODINIT, WORKLOAD, clean_env

pytestmark = pytest.mark.timeout(60)


def podinit(args: List[str], env: Optional[dict] = None, cwd: Optional[Path] = None):
    return subprocess.run(PODINIT + args, env=env or clean_env(), cwd=cwd,
                          capture_output=True, timeout=30)


def marker_workload(tmp_path: Path) -> List[str]:
    return ["--", *WORKLOAD, "touch", str(tmp_path / "ran")]


def assert_refused(result, tmp_path: Path, *fragments: str) -> None:
    """Exit 2, one line on stderr naming what was wrong, workload never run."""
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert "Traceback" not in err
    assert not (tmp_path / "ran").exists()


BAD_VARIABLES = [
    ("PODINIT_GRACE_PERIOD", "-1"),
    ("PODINIT_GRACE_PERIOD", "ten"),
    ("PODINIT_GRACE_PERIOD", "nan"),
    ("PODINIT_GRACE_PERIOD", "inf"),
    ("PODINIT_LEFTOVER_GRACE", "-0.5"),
    ("PODINIT_KILL_GROUP", "maybe"),
    ("PODINIT_SIGNAL_REWRITE", "TERM"),
    ("PODINIT_SIGNAL_REWRITE", "FOO:TERM"),
    ("PODINIT_SIGNAL_REWRITE", "TERM:BAR"),
    ("PODINIT_SIGNAL_REWRITE", "CHLD:TERM"),
    ("PODINIT_SIGNAL_REWRITE", "TERM:QUIT,TERM:INT"),
    ("PODINIT_EXIT_CODE_MAP", "143:300"),
    ("PODINIT_EXIT_CODE_MAP", "x:0"),
    ("PODINIT_EXIT_CODE_MAP", "143"),
    ("PODINIT_LOG_FORMAT", "xml"),
    ("PODINIT_LOG_LEVEL", "loud"),
]


@pytest.mark.parametrize("variable, value", BAD_VARIABLES)
def test_bad_variable_is_refused_before_the_workload(tmp_path, variable, value):
    result = podinit(marker_workload(tmp_path), clean_env(**{variable: value}))
    assert_refused(result, tmp_path, variable, repr(value))


@pytest.mark.parametrize("variable, value", BAD_VARIABLES[::3])
def test_bad_flag_is_refused_before_the_workload(tmp_path, variable, value):
    flag = "--" + variable[len("PODINIT_"):].lower().replace("_", "-")
    result = podinit([f"{flag}={value}", *marker_workload(tmp_path)])
    assert_refused(result, tmp_path, flag, repr(value))


@pytest.mark.parametrize("variable", ["PODINIT_GRACE_PERIODS", "PODINIT_GRACE_PERIDO",
                                      "PODINIT_HOLD_TIMOUT", "PODINIT_SHARED_DIRS"])
def test_misspelt_variable_is_refused_with_a_suggestion(tmp_path, variable):
    result = podinit(marker_workload(tmp_path), clean_env(**{variable: "1"}))
    meant = {"PODINIT_GRACE_PERIODS": "PODINIT_GRACE_PERIOD", "PODINIT_GRACE_PERIDO": "PODINIT_GRACE_PERIOD",
             "PODINIT_HOLD_TIMOUT": "PODINIT_HOLD_TIMEOUT", "PODINIT_SHARED_DIRS": "PODINIT_SHARED_DIR"}
    assert_refused(result, tmp_path, variable, f"did you mean {meant[variable]}?")


def test_unknown_variable_far_from_any_is_refused(tmp_path):
    result = podinit(marker_workload(tmp_path), clean_env(PODINIT_FROBNICATE="1"))
    assert_refused(result, tmp_path, "PODINIT_FROBNICATE is not a podinit variable (known: ")


# What the kubelet sets for a Service `podinit` (ports 80/TCP named http and
# 9090/UDP) and a Service `podinit-metrics` (one unnamed port), on IPv4 and IPv6.
SERVICE_LINKS = {
    "PODINIT_SERVICE_HOST": "10.96.12.7",
    "PODINIT_SERVICE_PORT": "80",
    "PODINIT_SERVICE_PORT_HTTP": "80",
    "PODINIT_SERVICE_PORT_STATS_UDP": "9090",
    "PODINIT_PORT": "tcp://10.96.12.7:80",
    "PODINIT_PORT_80_TCP": "tcp://10.96.12.7:80",
    "PODINIT_PORT_80_TCP_PROTO": "tcp",
    "PODINIT_PORT_80_TCP_PORT": "80",
    "PODINIT_PORT_80_TCP_ADDR": "10.96.12.7",
    "PODINIT_PORT_9090_UDP": "udp://10.96.12.7:9090",
    "PODINIT_PORT_9090_UDP_PROTO": "udp",
    "PODINIT_METRICS_SERVICE_HOST": "fd00:10:96::3",
    "PODINIT_METRICS_SERVICE_PORT": "8080",
    "PODINIT_METRICS_PORT": "tcp://[fd00:10:96::3]:8080",
    "PODINIT_METRICS_PORT_8080_TCP": "tcp://[fd00:10:96::3]:8080",
    "PODINIT_METRICS_PORT_8080_TCP_PROTO": "tcp",
    "PODINIT_METRICS_PORT_8080_TCP_PORT": "8080",
    "PODINIT_METRICS_PORT_8080_TCP_ADDR": "fd00:10:96::3",
}


def test_kubernetes_service_links_never_stop_podinit(tmp_path):
    env = clean_env(**SERVICE_LINKS, PODINIT_LOG_LEVEL="debug", PODINIT_LOG_FORMAT="json")
    result = podinit(["--", "env"], env)
    assert result.returncode == 0, result.stderr
    seen = dict(line.split("=", 1) for line in result.stdout.decode().splitlines() if "=" in line)
    assert {k: seen[k] for k in SERVICE_LINKS} == SERVICE_LINKS  # the workload gets them as they were
    events = [json.loads(line) for line in result.stderr.decode().splitlines()]
    ignored = [e for e in events if e["event"] == "ignoring Kubernetes service-link variables"]
    assert len(ignored) == 1 and sorted(ignored[0]["variables"]) == sorted(SERVICE_LINKS)
    assert ignored[0]["level"] == "debug"


def test_service_links_are_quiet_at_the_default_level(tmp_path):
    result = podinit(marker_workload(tmp_path), clean_env(**SERVICE_LINKS))
    assert result.returncode == 0 and result.stderr == b""
    assert (tmp_path / "ran").exists()


@pytest.mark.parametrize("variable, value", [
    ("PODINIT_SERVICE_HOST", "yes"),  # a service link's name, not its value
    ("PODINIT_PORT", "8080"),
    ("PODINIT_SERVICE_PORT_HTTP", "http"),
    ("PODINIT_PORT_80_TCP_PROTO", "tcp6"),
])
def test_a_variable_named_like_a_service_link_with_another_value_is_refused(tmp_path, variable, value):
    result = podinit(marker_workload(tmp_path), clean_env(**{variable: value}))
    assert_refused(result, tmp_path, variable)


def test_unknown_flag_is_refused(tmp_path):
    result = podinit(["--grace-perod=1", *marker_workload(tmp_path)])
    assert_refused(result, tmp_path, "--grace-perod")


def test_missing_config_file_is_refused(tmp_path):
    missing = str(tmp_path / "nope.toml")
    result = podinit(marker_workload(tmp_path), clean_env(PODINIT_CONFIG=missing))
    assert_refused(result, tmp_path, "PODINIT_CONFIG", missing, "No such file")


def test_unreadable_config_file_is_refused(tmp_path):
    result = podinit(["--config", str(tmp_path), *marker_workload(tmp_path)])
    assert_refused(result, tmp_path, "--config", str(tmp_path), "cannot read")


@pytest.mark.parametrize("text, fragments", [
    ("grace_period = ", ["not valid TOML"]),
    ("grace_perod = 3", ["unknown key 'grace_perod'"]),
    ("config = 'x.toml'", ["unknown key 'config'"]),
    ("grace_period = -3", ["grace_period", "'-3'"]),
    ("kill_group = 'perhaps'", ["kill_group", "'perhaps'"]),
    ("exit_code_map = { 3 = 999 }", ["exit_code_map", "999"]),
    ("log_level = 2020-01-01", ["log_level"]),
])
def test_bad_config_file_is_refused(tmp_path, text, fragments):
    path = tmp_path / "podinit.toml"
    path.write_text(text + "\n")
    result = podinit(marker_workload(tmp_path), clean_env(PODINIT_CONFIG=str(path)))
    assert_refused(result, tmp_path, str(path), *fragments)


@pytest.mark.parametrize("in_file, in_env, in_flag, expected", [
    (None, None, None, 3),
    ("3:10", None, None, 10),
    ("3:10", "3:20", None, 20),
    ("3:10", "3:20", "3:30", 30),
    (None, "3:20", "3:30", 30),
    ("3:10", None, "3:30", 30),
])
def test_precedence_flag_then_environment_then_file(tmp_path, in_file, in_env, in_flag, expected):
    path = tmp_path / "podinit.toml"
    path.write_text(f'exit_code_map = "{in_file}"\n' if in_file else "")
    env = clean_env(PODINIT_CONFIG=str(path))
    if in_env:
        env["PODINIT_EXIT_CODE_MAP"] = in_env
    flags = [f"--exit-code-map={in_flag}"] if in_flag else []
    result = podinit([*flags, "--", *WORKLOAD, "exit-with", "3"], env)
    assert result.returncode == expected, result.stderr


def test_file_takes_typed_toml_values(tmp_path):
    path = tmp_path / "podinit.toml"
    path.write_text("kill_group = true\nleftover_grace = 0.5\nexit_code_map = { 7 = 0 }\n"
                    "signal_rewrite = 'TERM:QUIT'\nlog_level = 'debug'\nlog_format = 'json'\n")
    result = podinit(["--config", str(path), "--", *WORKLOAD, "exit-with", "7"])
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.decode().splitlines()]
    assert any(e["event"] == "workload started" for e in events)


def test_empty_variable_counts_as_unset(tmp_path):
    result = podinit(["--", *WORKLOAD, "exit-with", "3"], clean_env(PODINIT_EXIT_CODE_MAP=""))
    assert result.returncode == 3


OPTION_VARIABLES = [
    "PODINIT_GRACE_PERIOD", "PODINIT_LEFTOVER_GRACE", "PODINIT_KILL_GROUP",
    "PODINIT_SIGNAL_REWRITE", "PODINIT_EXIT_CODE_MAP", "PODINIT_LOG_FORMAT",
    "PODINIT_LOG_LEVEL",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(variable=st.sampled_from(OPTION_VARIABLES),
       value=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                     max_size=40))
def test_any_value_parses_or_gives_one_line_error(variable, value):
    from podinit.config import ConfigError, resolve

    try:
        resolve({}, {variable: value})
    except ConfigError as error:
        message = str(error)
        assert variable in message and "\n" not in message.strip()
