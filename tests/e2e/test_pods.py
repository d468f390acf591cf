"""The examples as real pods (podman kube play): what a user would check with kubectl."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: harness

from e2e_support import finished_at, record_figure

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def workload_lines(lines):
    return [line for line in lines if "#" in line and "podinit" not in line]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_seed_job_without_podinit_never_completes(play):
    pod = play("seed-original")
    assert pod.wait("main-app") == 0  # the workload has ended...
    written = workload_lines(pod.logs("main-app"))
    assert len(written) == 3
    # ...and after that the sidecar prints the whole file again: it runs on.
    wait_for(lambda: pod.logs("sidecar-logger").count(written[-1]) >= 2, 30,
             "the sidecar to go on after the workload ended")
    assert pod.state("sidecar-logger")["Running"] is True
    assert pod.pod_state() != "Exited"  # the Job would never complete


@pytest.mark.parametrize("example, code", [("seed-with-podinit", 0), ("failing-workload", 3)])
def test_seed_job_with_podinit_ends_with_the_workloads_code(play, example, code):
    pod = play(example)
    assert pod.exit_codes() == {"main-app": code, "sidecar-logger": 0}
    assert pod.pod_state() == "Exited"
    written = workload_lines(pod.logs("main-app"))
    assert len(written) == 3
    assert workload_lines(pod.logs("sidecar-logger")) == written  # no line lost at shutdown
    main_end = finished_at(pod.state("main-app"))
    pod_end = max(finished_at(pod.state(name)) for name in pod.containers)
    record_figure("workload exit -> pod end (s)", pod_end - main_end)


def test_workload_waits_for_the_proxy_and_stops_it_by_its_quit_url(play):
    pod = play("proxy-quit")
    assert pod.exit_codes() == {"main-app": 0, "proxy": 0}
    proxy, main = pod.logs("proxy"), pod.logs("main-app")
    ready = float(next(l for l in proxy if l.startswith("proxy ready at")).split()[-1])
    started = float(next(l for l in main if l.startswith("workload started at")).split()[-1])
    quit_at = float(next(l for l in proxy if l.startswith("proxy quit at")).split()[-1])
    assert ready < started < quit_at
    record_figure("proxy ready -> workload started (s)", started - ready)
    main_end = finished_at(pod.state("main-app"))
    pod_end = max(finished_at(pod.state(name)) for name in pod.containers)
    record_figure("workload exit -> pod end, quit URL (s)", pod_end - main_end)


def restricted(job: dict) -> dict:
    """The Job as a namespace at Pod Security `restricted` wants it: non-root
    (any UID), no privilege escalation, no capabilities, RuntimeDefault seccomp."""
    spec = job["spec"]["template"]["spec"]
    spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": 4321,
                               "seccompProfile": {"type": "RuntimeDefault"}}
    for container in spec["containers"]:
        container["securityContext"] = {"allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["ALL"]}}
    return job


@pytest.mark.parametrize("hardened", [False, True], ids=["as-is", "restricted"])
def test_injected_seed_job_completes_with_images_never_rebuilt(images, tmp_path, hardened):
    """podinit inject on the seed's original Job: its own images (the sidecar
    is plain busybox), podinit copied in by an initContainer at run time, as
    UID 65532 into the emptyDir; and the same Job hardened for `restricted`."""
    import subprocess
    import uuid

    import yaml

    from harness import PODINIT, clean_env
    from pod import Pod

    job = yaml.safe_load((ROOT / "examples/seed-original/job.yaml").read_text())
    if hardened:
        job = restricted(job)
    injected = subprocess.run(
        PODINIT + ["inject", "-", "--image", "localhost/podinit:latest"], input=yaml.safe_dump(job),
        env=clean_env(), capture_output=True, text=True, timeout=30, check=True).stdout
    manifest = tmp_path / "injected.yaml"
    manifest.write_text(injected)
    pod = Pod(manifest, f"injected-{uuid.uuid4().hex[:6]}")
    try:
        pod.play()
        assert pod.exit_codes() == {"main-app": 0, "sidecar-logger": 0}
        assert pod.pod_state() == "Exited"
        assert len(workload_lines(pod.logs("main-app"))) == 3
        if hardened:
            from pod import podman

            for name in pod.containers:
                user = podman("inspect", pod.container(name), "--format", "{{.Config.User}}").strip()
                assert user.split(":")[0] == "4321", (name, user)
    finally:
        pod.remove()


def logged_time(lines, prefix: str) -> float:
    """The Unix time at the end of the first line that starts with `prefix`."""
    line = next(l for l in lines if l.startswith(prefix))
    return float(line[len(prefix):].split()[0].rstrip(":"))


@pytest.mark.parametrize("hold", [True, False], ids=["hold", "no-hold"])
def test_pod_deletion_stops_the_proxy_only_after_the_workload(images, tmp_path, hold):
    """`podman pod stop` TERMs every container at once, as the kubelet does
    when a pod is deleted. The workload takes 2 s to stop, sending requests
    through the proxy meanwhile. With the hold (the default) they all succeed
    and the proxy gets its TERM after the workload exited; without it the
    proxy goes first and the workload's last requests fail."""
    import uuid

    import yaml

    from pod import Pod, podman

    manifest = yaml.safe_load((ROOT / "examples/pod-deletion/job.yaml").read_text())
    if not hold:
        proxy = manifest["spec"]["template"]["spec"]["containers"][1]
        proxy["env"].append({"name": "PODINIT_HOLD_TERM", "value": "0"})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(manifest))
    pod = Pod(path, f"pod-deletion-{uuid.uuid4().hex[:6]}")
    try:
        pod.play()
        wait_for(lambda: "workload running" in pod.logs("main-app"), 60, "the workload to run")
        stop_sent = time.time()
        podman("pod", "stop", "--time", "30", pod.name, timeout=60)
        assert pod.exit_codes() == {"main-app": 0, "proxy": 0}
        main, proxy = pod.logs("main-app"), pod.logs("proxy")
        workload_term = logged_time(main, "workload got TERM at ")
        workload_exit = logged_time(main, "workload exiting at ")
        proxy_term = logged_time(proxy, "proxy got TERM at ")
        summary = next(l for l in main if l.startswith("workload exiting at "))
        requests, failed = int(summary.split()[4]), int(summary.split()[9])
        assert workload_term - stop_sent < 1.5  # TERM reached the workload at once
        assert workload_exit - workload_term >= 2  # its own stop took 2 s
        assert requests >= 10
        pod_end = max(finished_at(pod.state(name)) for name in pod.containers)
        if hold:
            assert proxy_term > workload_exit
            assert failed == 0, summary
            assert pod_end - workload_exit < 2  # down soon after the workload
            record_figure("pod stop: workload exit -> proxy TERM (s)", proxy_term - workload_exit)
            record_figure("pod stop: workload exit -> pod end (s)", pod_end - workload_exit)
        else:
            assert proxy_term < workload_exit
            assert failed > 0, summary
    finally:
        pod.remove()


def test_the_podinit_image_runs_as_a_numeric_non_root_user(images):
    from pod import podman

    user = podman("image", "inspect", "localhost/podinit:latest", "--format", "{{.Config.User}}").strip()
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user
