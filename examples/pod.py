#!/usr/bin/env python3
"""Play an example under podman as a real pod, and report how it ended.

podman 4.3 does not play `kind: Job`, so a Job's pod template is played as a
Pod. Pods are played with --network none: the pod keeps its own shared
localhost and nothing leaves it.

    python3 examples/pod.py MANIFEST [--timeout SECONDS] [--keep] [--logs]

prints each container's exit code (and the pod's state), then removes the pod
and its volumes unless --keep. Needs PyYAML and podman (images/build).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import yaml

HERE = Path(__file__).resolve().parent
CONTAINERS_CONF = HERE.parent / "images" / "podman" / "containers.conf"


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def to_pod(manifest: dict, name: Optional[str] = None) -> dict:
    """A Pod from a Pod or a Job's pod template."""
    if manifest.get("kind") == "Job":
        template = manifest["spec"]["template"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": dict(template.get("metadata") or {}, name=manifest["metadata"]["name"]),
               "spec": template["spec"]}
    elif manifest.get("kind") == "Pod":
        pod = manifest
    else:
        raise ValueError(f"cannot play a {manifest.get('kind')}")
    if name:
        pod["metadata"]["name"] = name
    return pod


class Pod:
    """A pod played from a manifest; remove() undoes everything play made."""

    def __init__(self, manifest_path: Path, name: Optional[str] = None) -> None:
        manifest = yaml.safe_load(Path(manifest_path).read_text())
        self.spec = to_pod(manifest, name)
        self.name = self.spec["metadata"]["name"]
        handle, path = tempfile.mkstemp(suffix=".yaml", prefix=f"{self.name}-")
        with os.fdopen(handle, "w") as file:
            yaml.safe_dump(self.spec, file)
        self.file = path
        self.containers = [c["name"] for c in self.spec["spec"]["containers"]]
        self.played_at = 0.0

    def play(self) -> None:
        self.played_at = time.time()
        podman("kube", "play", "--network", "none", self.file)

    def container(self, name: str) -> str:
        return f"{self.name}-{name}"

    def wait(self, name: str, timeout: float = 120) -> int:
        """Wait for a container to exit (podman's own wait); returns its code."""
        return int(podman("wait", self.container(name), timeout=timeout).strip())

    def state(self, name: str) -> dict:
        return json.loads(podman("inspect", self.container(name)))[0]["State"]

    def logs(self, name: str) -> List[str]:
        return podman("logs", self.container(name)).splitlines()

    def exit_codes(self, timeout: float = 120) -> Dict[str, int]:
        return {name: self.wait(name, timeout) for name in self.containers}

    def pod_state(self) -> str:
        return podman("pod", "inspect", self.name, "--format", "{{.State}}").strip()

    def remove(self) -> None:
        podman("kube", "down", self.file, check=False)
        podman("pod", "rm", "-f", self.name, check=False)
        os.unlink(self.file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--keep", action="store_true", help="leave the pod for inspection")
    parser.add_argument("--logs", action="store_true", help="print each container's logs")
    args = parser.parse_args()
    pod = Pod(args.manifest)
    pod.play()
    try:
        codes = pod.exit_codes(args.timeout)
        for name, code in codes.items():
            if args.logs:
                print(f"-- logs of {name}:")
                for line in pod.logs(name):
                    print(f"   {line}")
        for name, code in codes.items():
            print(f"container {name}: exit code {code}")
        print(f"pod {pod.name}: {pod.pod_state()}")
    except subprocess.TimeoutExpired:
        print(f"pod {pod.name} did not end within {args.timeout:g}s", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            pod.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
