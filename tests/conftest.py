"""Fixtures: `mode` runs every test that takes it twice, as a real PID 1 of a
new PID namespace (unshare --pid --fork --mount-proc) and as an ordinary
process; `start` starts podinit runs and kills what is left of them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from harness import Run


@pytest.fixture(params=["pid1", "plain"])
def mode(request) -> str:
    if request.param == "pid1" and not shutil.which("unshare"):
        pytest.skip("unshare is not installed")
    return request.param


@pytest.fixture
def shared(tmp_path) -> Path:
    """A directory all containers of one pod share, as an emptyDir."""
    directory = tmp_path / "shared"
    directory.mkdir()
    return directory


@pytest.fixture
def start(tmp_path):
    runs: List[Run] = []

    def starter(mode: str, args: List[str], env: Optional[Dict[str, str]] = None) -> Run:
        run = Run(mode, args, env, tmp_path)
        runs.append(run)
        return run

    yield starter
    for run in runs:
        run.close()
