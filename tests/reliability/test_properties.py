"""Property tests of every parser: any input parses or gives the one-line
error (exit code 2); never a traceback, never a crash on a peer's record."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import PODINIT, clean_env
from podinit.config import ConfigError, resolve
from podinit.options import OPTIONS

pytestmark = pytest.mark.timeout(300)
SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=60)
SCHEMES = ["tcp://", "http://", "https://", "unix://", "file://", "sidecar:", "exec:", ""]
SIGNALS = ["TERM", "SIGKILL", "rtmin+3", "RTMAX-2", "15", "0", "99", "CHLD", ""]


def one_line_error_or_config(environ: dict, flags: dict = None) -> None:
    try:
        resolve(flags or {}, environ)
    except ConfigError as error:
        assert "\n" not in str(error).strip(), str(error)


@SETTINGS
@given(option=st.sampled_from([o for o in OPTIONS if o.name != "config"]), value=TEXT)
def test_any_variable_value(option, value):
    one_line_error_or_config({option.env: value})


@SETTINGS
@given(option=st.sampled_from([o for o in OPTIONS if o.name != "config" and not o.switch]), value=TEXT)
def test_any_flag_value(option, value):
    one_line_error_or_config({}, {option.name: value})


@SETTINGS
@given(targets=st.lists(st.tuples(st.sampled_from(SCHEMES), TEXT), min_size=1, max_size=4),
       shared=st.booleans())
def test_any_wait_targets(targets, shared):
    text = ",".join(scheme + rest for scheme, rest in targets)
    environ = {"PODINIT_WAIT": text}
    if shared:
        environ["PODINIT_SHARED_DIR"] = "/tmp"
    one_line_error_or_config(environ)


@SETTINGS
@given(pairs=st.lists(st.tuples(st.sampled_from(SIGNALS + ["x"]), st.sampled_from(SIGNALS)),
                      max_size=5),
       codes=st.lists(st.tuples(st.integers(-5, 300), st.integers(-5, 300)), max_size=5))
def test_any_signal_and_exit_code_maps(pairs, codes):
    one_line_error_or_config({
        "PODINIT_SIGNAL_REWRITE": ",".join(f"{a}:{b}" for a, b in pairs),
        "PODINIT_EXIT_CODE_MAP": ",".join(f"{a}:{b}" for a, b in codes),
    })


TOML_VALUES = st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=True), st.booleans(), TEXT,
                        st.lists(st.one_of(TEXT, st.integers()), max_size=3),
                        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


def toml_literal(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value > 0 else "-inf") if value in (
            float("inf"), float("-inf")) else repr(value)
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {v}" for k, v in value.items()) + "}"


@SETTINGS
@given(document=st.dictionaries(st.sampled_from([o.name for o in OPTIONS] + ["bogus"]),
                                TOML_VALUES, max_size=6))
def test_any_toml_document(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("toml") / "podinit.toml"
    path.write_text("".join(f"{key} = {toml_literal(value)}\n" for key, value in document.items()))
    one_line_error_or_config({"PODINIT_CONFIG": str(path)})


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_any_toml_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("toml") / "podinit.toml"
    path.write_bytes(data)
    one_line_error_or_config({"PODINIT_CONFIG": str(path)})


@SETTINGS
@given(data=st.one_of(st.binary(max_size=3000),
                      st.builds(lambda d: __import__("json").dumps(d).encode(),
                                st.dictionaries(st.sampled_from(["run_id", "code", "final", "x"]),
                                                st.one_of(st.none(), st.integers(), TEXT,
                                                          st.booleans()), max_size=4))),
       kind=st.sampled_from(["run", "exit", "ready"]))
def test_any_record_reads_as_a_record_or_nothing(tmp_path_factory, data, kind):
    from podinit import handshake, peers

    shared = tmp_path_factory.mktemp("shared")
    (shared / f"main.{kind}").write_bytes(data)
    record = handshake.read_record(str(shared), "main", kind)
    assert record is None or isinstance(record["run_id"], str)
    ended, why = peers.ended(str(shared), "main")
    assert isinstance(ended, bool) and isinstance(why, str)
    assert handshake.peer_state(str(shared), "main") in {"absent", "running", "ready", "exited", "stale"}


@pytest.mark.parametrize("environ", [
    {"PODINIT_WAIT": "tcp://[::1"}, {"PODINIT_WAIT": "http://h:port/"},
    {"PODINIT_SIGNAL_REWRITE": "TERM:RTMIN+999"}, {"PODINIT_EXIT_CODE_MAP": "1:2:3"},
    {"PODINIT_STOP_WITH": ","}, {"PODINIT_GRACE_PERIOD": "1e999"}, {"PODINIT_WAIT": "exec:'"},
])
def test_the_command_gives_exit_code_2_and_one_line(tmp_path: Path, environ):
    result = subprocess.run(PODINIT + ["--", "touch", str(tmp_path / "ran")],
                            env=clean_env(**environ), capture_output=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert b"Traceback" not in result.stderr
    assert not (tmp_path / "ran").exists()
