"""Pod Security Standards, `restricted` profile (latest), as the admission
plugin checks a pod spec: every baseline rule and every restricted rule.

Written from the Pod Security Standards page of the Kubernetes docs, for the
tests; `violations(spec)` lists (rule, where) for each failed check.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}
CONFINED_SECCOMP = {"RuntimeDefault", "Localhost"}

RULES = [
    "hostProcess", "host namespaces", "privileged", "capabilities (baseline)", "hostPath volumes",
    "host ports", "AppArmor", "SELinux", "/proc mount type", "seccomp (baseline)", "sysctls",
    "volume types", "privilege escalation", "running as non-root", "running as non-root user",
    "seccomp (restricted)", "capabilities (restricted)",
]


def containers(spec: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            yield f"{field}[{container.get('name')}]", container


def violations(spec: Dict[str, Any], annotations: Dict[str, str] = None) -> List[Tuple[str, str]]:
    found: List[Tuple[str, str]] = []
    pod = spec.get("securityContext") or {}

    def check(rule: str, ok: bool, where: str) -> None:
        if not ok:
            found.append((rule, where))

    # baseline
    check("hostProcess", not (pod.get("windowsOptions") or {}).get("hostProcess"), "pod")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        check("host namespaces", not spec.get(field), field)
    for volume in spec.get("volumes") or []:
        check("hostPath volumes", "hostPath" not in volume, f"volumes[{volume.get('name')}]")
        check("volume types", any(kind in volume for kind in RESTRICTED_VOLUMES),
              f"volumes[{volume.get('name')}]")
    for key, value in (annotations or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            check("AppArmor", value == "runtime/default" or value.startswith("localhost/"), key)
    for name in ((pod.get("sysctls") or [])):
        check("sysctls", name.get("name") in SAFE_SYSCTLS, f"sysctls[{name.get('name')}]")

    def contexts(where: str, context: Dict[str, Any]) -> None:
        apparmor = (context.get("appArmorProfile") or {}).get("type")
        check("AppArmor", apparmor in (None, *CONFINED_SECCOMP), where)
        selinux = context.get("seLinuxOptions") or {}
        check("SELinux", selinux.get("type", "") in SELINUX_TYPES
              and "user" not in selinux and "role" not in selinux, where)
        check("seccomp (baseline)", (context.get("seccompProfile") or {}).get("type") != "Unconfined", where)
        check("running as non-root user", context.get("runAsUser") != 0, where)

    contexts("pod", pod)
    for where, container in containers(spec):
        context = container.get("securityContext") or {}
        contexts(where, context)
        check("hostProcess", not (context.get("windowsOptions") or {}).get("hostProcess"), where)
        check("privileged", not context.get("privileged"), where)
        capabilities = context.get("capabilities") or {}
        added = set(capabilities.get("add") or [])
        check("capabilities (baseline)", added <= BASELINE_CAPABILITIES, where)
        for port in container.get("ports") or []:
            check("host ports", not port.get("hostPort"), where)
        check("/proc mount type", context.get("procMount", "Default") == "Default", where)
        # restricted
        check("privilege escalation", context.get("allowPrivilegeEscalation") is False, where)
        non_root = context.get("runAsNonRoot", pod.get("runAsNonRoot"))
        check("running as non-root", non_root is True, where)
        seccomp = (context.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        check("seccomp (restricted)", seccomp in CONFINED_SECCOMP, where)
        check("capabilities (restricted)", "ALL" in (capabilities.get("drop") or [])
              and added <= {"NET_BIND_SERVICE"}, where)
    return found
