"""`podinit inject`: add podinit to workload manifests without rebuilding images.

In each pod template (Pod, Job, CronJob, Deployment, StatefulSet, DaemonSet,
ReplicaSet; other kinds pass through) it adds:
- an emptyDir `podinit-bin` and an initContainer `podinit-install` that copies
  podinit's self-contained form into it from the podinit image;
- an emptyDir `podinit-shared` for the handshake, at /run/podinit;
- podinit in front of each container's command, and its PODINIT_* settings:
  the main container waits for every sidecar and records its exit; each
  sidecar stops with the main container, and when the pod is deleted holds
  its TERM until the main container has ended (for as long as the pod's
  terminationGracePeriodSeconds allows).
With --native, the sidecars move to initContainers with restartPolicy Always
(Kubernetes 1.29+) and only the main container runs under podinit.

All documents are read and checked before anything is written: on bad input
nothing reaches stdout. A template injected before carries the annotation
podinit/injected and is left as it is, so injecting twice changes nothing.
"""

from __future__ import annotations

import io

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

ANNOTATION = "podinit/injected"
INSTALLER = "podinit-install"
BIN_VOLUME, BIN_PATH = "podinit-bin", "/podinit-bin"
SHARED_VOLUME, SHARED_PATH = "podinit-shared", "/run/podinit"
PODINIT = f"{BIN_PATH}/bin/podinit"
DEFAULT_IMAGE = "podinit:latest"
DEFAULT_GRACE = 30  # the kubelet's terminationGracePeriodSeconds

# Where each kind keeps its pod template.
TEMPLATE_PATHS = {
    "Pod": (),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
}


class InjectError(Exception):
    """Bad input: one line naming the document; exit code 2."""


class Options:
    """What the command line asked for; `installer` is the initContainer to add."""

    def __init__(self, main: Optional[str], waits: Mapping[str, List[str]],
                 commands: Mapping[str, List[str]], installer: Dict[str, Any], native: bool) -> None:
        self.main, self.waits, self.commands = main, waits, commands
        self.installer, self.native = installer, native


def installer(image: str, user: int, requests: Dict[str, str], limits: Dict[str, str]) -> Dict[str, Any]:
    """The initContainer that copies podinit into the pod.

    It passes Pod Security Admission's `restricted` profile (non-root with a
    numeric UID, no privilege escalation, no capabilities, RuntimeDefault
    seccomp) and writes nothing but the emptyDir, so its root filesystem is
    read-only. `cp -R`, not `cp -a`: a non-root copy cannot keep root's
    ownership, and needs none.
    """
    container: Dict[str, Any] = {
        "name": INSTALLER,
        "image": image,
        "command": ["cp", "-R", "/podinit/dist/.", f"{BIN_PATH}/"],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": user,
            "runAsGroup": user,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    wanted = {kind: amounts for kind, amounts in (("requests", requests), ("limits", limits)) if amounts}
    if wanted:
        container["resources"] = wanted
    container["volumeMounts"] = [{"name": BIN_VOLUME, "mountPath": BIN_PATH}]
    return container


# A Kubernetes resource quantity: 100m, 0.5, 64Mi, 1G, 2e3.
QUANTITY = r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?"


def resources(text: str, flag: str) -> Dict[str, str]:
    """`cpu=10m,memory=16Mi` as a resources map; '' gives none."""
    import re

    amounts: Dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, amount = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z0-9]([-a-z0-9./]*[a-z0-9])?", name):
            raise InjectError(f"{flag}={text!r}: expected RESOURCE=QUANTITY,... (cpu=10m,memory=16Mi)")
        if not re.fullmatch(QUANTITY, amount):
            raise InjectError(f"{flag}={text!r}: {amount!r} is not a Kubernetes quantity")
        amounts[name] = amount
    return amounts


def parse_pairs(values: Sequence[str], flag: str) -> List[Tuple[str, str]]:
    """NAME=VALUE pairs of a repeated flag."""
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise InjectError(f"{flag}={value!r}: expected NAME=VALUE")
        pairs.append((name, rest))
    return pairs


def inject_text(text: str, options: Options) -> str:
    """The whole YAML stream, injected; raises InjectError on bad input."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # the usual style of Kubernetes manifests
    try:
        documents = list(yaml.load_all(text))
    except YAMLError as error:
        first = str(error).strip().splitlines()
        raise InjectError(f"not YAML: {first[-1] if first else error}") from None
    for index, document in enumerate(documents):
        if document is not None:
            inject_document(document, index, options)
    out = io.StringIO()
    yaml.dump_all(documents, out)
    return out.getvalue()


def inject_document(document: Any, index: int, options: Options) -> None:
    if not isinstance(document, dict):
        raise InjectError(f"document {index + 1}: not a Kubernetes object")
    kind = document.get("kind")
    if kind not in TEMPLATE_PATHS:
        return  # not a workload: passes through unchanged
    label = f"{kind}/{(document.get('metadata') or {}).get('name', '?')}"
    template = document
    for key in TEMPLATE_PATHS[kind]:
        template = template.get(key) if isinstance(template, dict) else None
    spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) \
            or not spec["containers"]:
        where = ".".join(TEMPLATE_PATHS[kind] + ("spec", "containers"))
        raise InjectError(f"{label}: no pod template with containers ({where})")
    metadata = template.setdefault("metadata", {})
    annotations = metadata.get("annotations") or {}
    if annotations.get(ANNOTATION) == "true":
        return  # injected before: idempotent
    _inject_spec(spec, label, options)
    metadata.setdefault("annotations", {})[ANNOTATION] = "true"


def _inject_spec(spec: Dict[str, Any], label: str, options: Options) -> None:
    containers = spec["containers"]
    names = [c.get("name") for c in containers]
    for name in list(options.waits) + list(options.commands) + ([options.main] if options.main else []):
        if name not in names:
            raise InjectError(f"{label}: no container named {name!r} (containers: {', '.join(map(str, names))})")
    main_name = options.main or names[0]
    sidecars = [c for c in containers if c.get("name") != main_name]
    main = next(c for c in containers if c.get("name") == main_name)
    _check_collisions(spec, label)
    restart = str(spec.get("restartPolicy", "Always"))
    hold = hold_timeout(spec.get("terminationGracePeriodSeconds"))

    for container in containers:
        if container.get("name") in options.commands:
            container["command"] = options.commands[container["name"]]
        if not container.get("command"):
            raise InjectError(
                f"{label}: container {container.get('name')!r} has no command (its image's entrypoint "
                f"cannot be known offline); give it: --command {container.get('name')}='...'")

    waits: List[str] = []
    for sidecar in sidecars:
        targets = options.waits.get(sidecar["name"], [])
        if options.native:
            waits.extend(targets)
            continue
        _wrap(sidecar, label, {
            "PODINIT_ROLE": "sidecar", "PODINIT_NAME": sidecar["name"],
            "PODINIT_SHARED_DIR": SHARED_PATH, "PODINIT_STOP_WITH": main_name,
            "PODINIT_RESTART_POLICY": restart,
            **({"PODINIT_READY_CHECK": ",".join(targets)} if targets else {}),
            **({"PODINIT_HOLD_TIMEOUT": hold} if hold else {}),
        }, shared=True)
        waits.append(f"sidecar:{sidecar['name']}")
    main_env = {"PODINIT_NAME": main_name, "PODINIT_RESTART_POLICY": restart}
    if not options.native:
        main_env["PODINIT_SHARED_DIR"] = SHARED_PATH
    if waits:
        main_env["PODINIT_WAIT"] = ",".join(waits)
    _wrap(main, label, main_env, shared=not options.native)

    init = spec.setdefault("initContainers", [])
    import copy

    init.insert(0, copy.deepcopy(options.installer))  # each template its own
    volumes = spec.setdefault("volumes", [])
    volumes.append({"name": BIN_VOLUME, "emptyDir": {}})
    if not options.native:
        volumes.append({"name": SHARED_VOLUME, "emptyDir": {}})
    else:
        for sidecar in sidecars:
            containers.remove(sidecar)
            sidecar["restartPolicy"] = "Always"
            init.append(sidecar)


def hold_timeout(grace: Any) -> Optional[str]:
    """PODINIT_HOLD_TIMEOUT for a pod's terminationGracePeriodSeconds, None
    where podinit's default (20 s, for the kubelet's default 30 s) fits.

    The sidecar must still get its own stop (stop_grace, 10 s) before the
    kubelet's SIGKILL; with a short grace period, half of it.
    """
    from podinit.options import BY_NAME

    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0 or grace == DEFAULT_GRACE:
        return None
    seconds = max(grace - BY_NAME["stop_grace"].default, grace / 2)
    return f"{seconds:g}"


def _wrap(container: Dict[str, Any], label: str, env: Dict[str, str], shared: bool) -> None:
    """podinit in front of the command, its settings, its mounts."""
    from ruamel.yaml.comments import CommentedSeq

    command = CommentedSeq([PODINIT, "--", *container["command"]])
    old = container["command"]
    if getattr(old, "fa", None) is not None and old.fa.flow_style():
        command.fa.set_flow_style()  # keep ["a", "b"] as it was written
    container["command"] = command
    existing = container.setdefault("env", [])
    taken = {item.get("name") for item in existing if isinstance(item, dict)}
    for name, value in env.items():
        if name in taken:
            raise InjectError(f"{label}: container {container['name']!r} already sets {name}; "
                              "podinit inject will not overwrite it")
        existing.append({"name": name, "value": value})
    mounts = container.setdefault("volumeMounts", [])
    paths = {m.get("mountPath") for m in mounts if isinstance(m, dict)}
    wanted = [(BIN_VOLUME, BIN_PATH)] + ([(SHARED_VOLUME, SHARED_PATH)] if shared else [])
    for volume, path in wanted:
        if path in paths:
            raise InjectError(f"{label}: container {container['name']!r} already mounts {path}")
        mounts.append({"name": volume, "mountPath": path})


def _check_collisions(spec: Dict[str, Any], label: str) -> None:
    volumes = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for name in (BIN_VOLUME, SHARED_VOLUME):
        if name in volumes:
            raise InjectError(f"{label}: it already has a volume named {name!r}")
    containers = spec.get("initContainers") or []
    if any(isinstance(c, dict) and c.get("name") == INSTALLER for c in containers):
        raise InjectError(f"{label}: it already has an initContainer named {INSTALLER!r}")


def command_for(value: str, flag: str) -> List[str]:
    from podinit import values

    try:
        return values.command(value)
    except ValueError as error:
        raise InjectError(f"{flag}={value!r}: {error}") from None
