"""Every manifest the project ships or writes validates against the official
Kubernetes schemas (kubernetes-validate, strict: unknown fields are errors),
for the oldest supported version and the newest; native sidecars from 1.29."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

from harness import PODINIT, clean_env  # noqa: E402

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
OLDEST = "1.27.0"
NATIVE_SIDECARS = "1.29.0"  # restartPolicy on an initContainer
NEWEST = kubernetes_validate.latest_version()
EXAMPLES = sorted(ROOT.glob("examples/*/job.yaml"))
# inject's inputs, and the arguments each needs
INJECTED = {
    "examples/seed-original/job.yaml": [],
    "examples/native-sidecars/job.yaml": [],
    "tests/inject/backup-cronjob.yaml": ["--wait", "cloud-sql-proxy=tcp://127.0.0.1:5432"],
    "tests/inject/stream.yaml": ["--main", "api"],
    "tests/inject/restricted-job.yaml": [],
}


def errors(text: str, version: str) -> list:
    found = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            found.append(f"{document['kind']}/{document['metadata']['name']}: {error.message}")
    return found


def is_native(text: str) -> bool:
    return "restartPolicy: Always" in text


def versions(text: str) -> list:
    return [NATIVE_SIDECARS if is_native(text) else OLDEST, NEWEST]


def inject(path: str, *args: str) -> str:
    result = subprocess.run(PODINIT + ["inject", str(ROOT / path), *args], env=clean_env(),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_validate(path):
    text = path.read_text()
    for version in versions(text):
        assert errors(text, version) == [], version


@pytest.mark.parametrize("path", sorted(ROOT.glob("tests/inject/golden/*.yaml")), ids=lambda p: p.stem)
def test_golden_outputs_validate(path):
    text = path.read_text()
    for version in versions(text):
        assert errors(text, version) == [], version


@pytest.mark.parametrize("path", sorted(INJECTED))
@pytest.mark.parametrize("native", [False, True], ids=["sidecars", "native"])
def test_inject_output_validates(path, native):
    text = inject(path, *INJECTED[path], *(["--native"] if native else []))
    assert is_native(text) == (native or "native-sidecars" in path)
    for version in versions(text):
        assert errors(text, version) == [], version


def test_the_schemas_have_teeth():
    """Native sidecars are not in 1.27's schema, and strict mode refuses a
    field that does not exist: a manifest that is wrong does fail."""
    native = inject("examples/seed-original/job.yaml", "--native")
    assert any("restartPolicy" in error for error in errors(native, OLDEST))
    typo = (ROOT / "examples/seed-original/job.yaml").read_text().replace("command:", "comand:", 1)
    assert errors(typo, NEWEST)
