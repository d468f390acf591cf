"""`podinit inject`: golden files, idempotence, and refusals of bad input."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import PODINIT, clean_env

pytestmark = pytest.mark.timeout(60)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOLDEN = HERE / "inject" / "golden"
IMAGE = ["--image", "localhost/podinit:latest"]

# name of the golden file -> (input, arguments)
CASES = {
    "seed-original": (ROOT / "examples/seed-original/job.yaml", IMAGE),
    "seed-original-native": (ROOT / "examples/seed-original/job.yaml", IMAGE + ["--native"]),
    "backup-cronjob": (HERE / "inject/backup-cronjob.yaml",
                       ["--wait", "cloud-sql-proxy=tcp://127.0.0.1:5432"]),
    "stream": (HERE / "inject/stream.yaml", ["--main", "api"]),
}


def inject(*args: str, stdin: str = None) -> subprocess.CompletedProcess:
    return subprocess.run(PODINIT + ["inject", *args], input=stdin, env=clean_env(),
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    source, args = CASES[name]
    result = inject(str(source), *args)
    assert result.returncode == 0, result.stderr
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_injecting_twice_changes_nothing(name):
    _, args = CASES[name]
    golden = (GOLDEN / f"{name}.yaml").read_text()
    again = inject("-", *args, stdin=golden)
    assert again.returncode == 0, again.stderr
    assert again.stdout == golden


def test_comments_and_key_order_are_kept():
    source = (HERE / "inject/backup-cronjob.yaml").read_text()
    out = inject("-", stdin=source).stdout
    assert out.startswith("".join(source.splitlines(keepends=True)[:2]))  # the comment
    top = [line.split(":")[0] for line in out.splitlines() if line[:1].isalpha()]
    assert top == ["apiVersion", "kind", "metadata", "spec"]
    first_container = out.index("- name: backup")
    assert out.index("image: postgres:16", first_container) < out.index("command:", first_container)


def test_a_container_configured_by_hand_is_not_overwritten():
    result = inject(str(ROOT / "examples/proxy-quit/job.yaml"))
    assert result.returncode == 2 and result.stdout == ""
    assert "Job/proxy-quit: container 'main-app' already sets PODINIT_WAIT" in result.stderr


def test_other_kinds_pass_through_unchanged():
    out = inject(str(HERE / "inject/stream.yaml"), "--main", "api").stdout
    documents = out.split("\n---\n")
    source = (HERE / "inject/stream.yaml").read_text().split("\n---\n")
    assert documents[0] == source[0] and documents[2] == source[2].rstrip("\n") + "\n"


@pytest.mark.parametrize("text, args, fragment", [
    ("kind: Job\nmetadata: {name: x}\nspec: [\n", [], "not YAML"),
    ("kind: Job\nmetadata: {name: nightly}\nspec: {}\n", [], "Job/nightly: no pod template"),
    ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: i, command: [x]}\n",
     ["--main", "b"], "Pod/p: no container named 'b'"),
    ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: i, command: [x]}\n"
     "    - {name: proxy, image: envoy}\n", [], "--command proxy="),
    ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: i, command: [x]}\n"
     "  volumes:\n    - {name: podinit-bin, emptyDir: {}}\n", [], "already has a volume named 'podinit-bin'"),
    ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: i\n"
     "      command: [x]\n      env: [{name: PODINIT_NAME, value: mine}]\n", [], "already sets PODINIT_NAME"),
    ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: i, command: [x]}\n",
     ["--wait", "a=foo://x"], "unknown scheme"),
    ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: i, command: [x]}\n",
     ["--wait", "nosuch=tcp://127.0.0.1:1"], "no container named 'nosuch'"),
])
def test_bad_input_is_refused_and_nothing_is_written(text, args, fragment):
    result = inject("-", *args, stdin=text)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines


def test_command_given_for_a_container_without_one():
    text = ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: i, command: [x]}\n"
            "    - {name: proxy, image: envoy}\n")
    result = inject("-", "--command", "proxy=envoy -c '/etc/envoy.yaml'", stdin=text)
    assert result.returncode == 0, result.stderr
    assert "envoy, -c, /etc/envoy.yaml" in result.stdout or "- envoy" in result.stdout


def sidecar_env(text: str) -> dict:
    import yaml

    result = inject("-", stdin=text)
    assert result.returncode == 0, result.stderr
    containers = yaml.safe_load(result.stdout)["spec"]["containers"]
    return {c["name"]: {e["name"]: e["value"] for e in c["env"]} for c in containers}


@pytest.mark.parametrize("grace, timeout", [(None, None), (30, None), (120, "110"), (8, "4"), (0, "0")])
def test_sidecars_hold_their_term_within_the_pods_grace_period(grace, timeout):
    """Hold is podinit's default for sidecars; inject sizes it to the pod's
    terminationGracePeriodSeconds so the sidecar keeps its own stop_grace."""
    text = ("kind: Pod\nmetadata: {name: p}\nspec:\n"
            + (f"  terminationGracePeriodSeconds: {grace}\n" if grace is not None else "")
            + "  containers:\n    - {name: app, image: i, command: [x]}\n"
            "    - {name: proxy, image: envoy, command: [envoy]}\n")
    env = sidecar_env(text)
    assert "PODINIT_HOLD_TERM" not in env["proxy"]  # on: the default
    assert env["proxy"].get("PODINIT_HOLD_TIMEOUT") == timeout
    assert "PODINIT_HOLD_TIMEOUT" not in env["app"]
