"""What hardened clusters demand of what podinit adds: Pod Security Admission
at `restricted`, and ResourceQuotas that need requests and limits."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import PODINIT, clean_env
from psa import RULES, violations

pytestmark = pytest.mark.timeout(60)

HERE = Path(__file__).resolve().parent
RESTRICTED_JOB = HERE / "inject/restricted-job.yaml"
SEED = HERE.parent / "examples/seed-original/job.yaml"


def inject(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(PODINIT + ["inject", *args], env=clean_env(), capture_output=True,
                          text=True, timeout=30)


def pod_spec(text: str) -> dict:
    return yaml.safe_load(text)["spec"]["template"]["spec"]


def installer_of(spec: dict) -> dict:
    return next(c for c in spec["initContainers"] if c["name"] == "podinit-install")


def test_the_input_is_restricted_to_begin_with():
    assert violations(pod_spec(RESTRICTED_JOB.read_text())) == []


@pytest.mark.parametrize("args", [[], ["--native"]], ids=["sidecars", "native"])
def test_a_restricted_pod_stays_restricted_once_injected(args):
    result = inject(str(RESTRICTED_JOB), *args)
    assert result.returncode == 0, result.stderr
    spec = pod_spec(result.stdout)
    assert violations(spec) == []
    installer = installer_of(spec)
    assert installer["resources"] == {"requests": {"cpu": "10m", "memory": "16Mi"},
                                      "limits": {"cpu": "200m", "memory": "64Mi"}}
    assert installer["securityContext"]["runAsUser"] == 65532
    assert installer["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_installer_passes_every_rule_even_in_a_pod_that_does_not():
    spec = pod_spec(inject(str(SEED)).stdout)
    assert violations(spec)  # the seed's own containers run as root, unhardened
    alone = {"initContainers": [installer_of(spec)],
             "volumes": [v for v in spec["volumes"] if v["name"].startswith("podinit-")]}
    assert violations(alone) == []


def compliant() -> dict:
    return pod_spec(RESTRICTED_JOB.read_text())


def _set(spec: dict, path: str, value) -> None:
    target = spec
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
    target[last] = value


# For each rule, a change to the compliant pod that breaks it.
BREAKS = {
    "hostProcess": ("securityContext.windowsOptions", {"hostProcess": True}),
    "host namespaces": ("hostPID", True),
    "privileged": ("containers.0.securityContext.privileged", True),
    "capabilities (baseline)": ("containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
    "hostPath volumes": ("volumes", [{"name": "out", "hostPath": {"path": "/"}}]),
    "host ports": ("containers.0.ports", [{"containerPort": 80, "hostPort": 80}]),
    "AppArmor": ("containers.0.securityContext.appArmorProfile", {"type": "Unconfined"}),
    "SELinux": ("containers.0.securityContext.seLinuxOptions", {"type": "spc_t"}),
    "/proc mount type": ("containers.0.securityContext.procMount", "Unmasked"),
    "seccomp (baseline)": ("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}),
    "sysctls": ("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
    "volume types": ("volumes", [{"name": "out", "nfs": {"server": "nfs", "path": "/"}}]),
    "privilege escalation": ("containers.1.securityContext.allowPrivilegeEscalation", True),
    "running as non-root": ("containers.0.securityContext.runAsNonRoot", False),
    "running as non-root user": ("containers.1.securityContext.runAsUser", 0),
    "seccomp (restricted)": ("securityContext.seccompProfile", None),
    "capabilities (restricted)": ("containers.1.securityContext.capabilities", {"drop": ["ALL"], "add": ["CHOWN"]}),
}


@pytest.mark.parametrize("rule", RULES)
def test_the_checker_catches_each_rule(rule):
    spec = copy.deepcopy(compliant())
    _set(spec, *BREAKS[rule])
    assert rule in {found for found, _ in violations(spec)}, violations(spec)


@pytest.mark.parametrize("flag, value, fragment", [
    ("--install-requests", "cpu=lots", "'lots' is not a Kubernetes quantity"),
    ("--install-limits", "memory", "expected RESOURCE=QUANTITY"),
    ("--install-user", "0", "--install-user"),
])
def test_bad_install_settings_are_refused(flag, value, fragment):
    result = inject(str(SEED), f"{flag}={value}")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr, result.stderr


def test_install_settings_can_be_changed():
    result = inject(str(SEED), "--install-user", "4242", "--install-requests", "cpu=5m",
                    "--install-limits", "")
    assert result.returncode == 0, result.stderr
    installer = installer_of(pod_spec(result.stdout))
    assert installer["resources"] == {"requests": {"cpu": "5m"}}
    assert installer["securityContext"]["runAsUser"] == 4242
    assert installer["securityContext"]["runAsGroup"] == 4242
