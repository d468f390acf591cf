"""Real pods under podman: images built once per session, everything removed after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

from e2e_support import FIGURES  # noqa: E402
from pod import Pod, podman  # noqa: E402

IMAGES = [
    "localhost/podinit-workload:latest", "localhost/podinit-log-shipper:latest",
    "localhost/podinit-proxy:latest", "localhost/podinit:latest",
    "localhost/podinit-busybox:latest", "localhost/podinit-base:bookworm",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e" in item.nodeid:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def images():
    if os.geteuid() != 0 and not shutil.which("podman"):
        pytest.skip("the end-to-end tests need podman, or root to install it")
    before = set(podman_lines("volume", "ls", "-q")) if shutil.which("podman") else set()
    result = subprocess.run(["bash", str(ROOT / "images" / "build")], capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    yield
    leftover = set(podman_lines("volume", "ls", "-q")) - before
    if leftover:
        podman("volume", "rm", "-f", *sorted(leftover), check=False)
    podman("rmi", "-f", *IMAGES, check=False)


def podman_lines(*args: str) -> List[str]:
    return podman(*args, check=False).split()


@pytest.fixture
def play(images):
    """Play an example as a pod with a unique name; removed even if the test fails."""
    pods: List[Pod] = []

    def player(example: str) -> Pod:
        pod = Pod(ROOT / "examples" / example / "job.yaml", f"{example}-{uuid.uuid4().hex[:6]}")
        pods.append(pod)
        pod.play()
        return pod

    yield player
    for pod in pods:
        pod.remove()


def pytest_terminal_summary(terminalreporter):
    for name, values in FIGURES.items():
        shown = ", ".join(f"{v:.3f}" for v in values)
        terminalreporter.write_line(f"e2e figure: {name}: {shown}")
