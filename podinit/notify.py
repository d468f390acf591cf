"""Tell the rest of the pod that the workload ended.

In order: the exit record in the shared directory (what podinit sidecars
watch), then, if the end is final, a POST to each quit URL (sidecars not
wrapped by podinit) and stop_signal to each named process (with
shareProcessNamespace), and a one-line summary in the termination log for
`kubectl describe`.
"""

from __future__ import annotations

import os
import threading
import time

from podinit import log

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

    from podinit.config import Config
    from podinit.handshake import Member
    from podinit.targets import Http

QUIT_ATTEMPTS = 3
QUIT_TIMEOUT = 2.0  # seconds for one POST
TERMINATION_LOG_LIMIT = 4096  # what the kubelet keeps of a termination message


def is_final(restart_policy: str, code: int) -> bool:
    """Whether the kubelet leaves the container ended (it restarts it otherwise)."""
    if restart_policy == "Never":
        return True
    return restart_policy == "OnFailure" and code == 0


def workload_ended(config: Config, member: Optional[Member], record: Dict[str, Any]) -> None:
    if member is not None:
        member.record_exit(record)
    if record["final"]:
        if config.quit_urls:
            post_quit_urls(config.quit_urls)
        if config.stop_processes:
            stop_processes(config.stop_processes, config.stop_signal)
    write_termination_message(config.termination_log, summary(record))


def summary(record: Dict[str, Any]) -> str:
    seconds = record["ended"] - record["workload_started"]
    how = (f"was killed by signal {record['signal']}" if record["signal"]
           else f"exited with code {record['workload_code']}")
    text = f"podinit: the workload {how} after {seconds:.1f}s"
    if record["stopped"]:
        text += f" (stopped because {record['reason']})"
    if record["code"] != record["workload_code"]:
        text += f"; podinit exits {record['code']}"
    return text


def post_quit_urls(urls: List[Http]) -> None:
    """POST to every URL at once; each gets a few tries with a timeout."""
    threads = [threading.Thread(target=_post, args=(url,), daemon=True) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(QUIT_ATTEMPTS * (QUIT_TIMEOUT + 1))


def _post(url: Http) -> None:
    last = ""
    for attempt in range(QUIT_ATTEMPTS):
        if attempt:
            time.sleep(0.1 * 2 ** attempt)
        connection = url.connection(QUIT_TIMEOUT)
        try:
            connection.request("POST", url.path, body=b"", headers={"User-Agent": "podinit"})
            status = connection.getresponse().status
        except OSError as error:
            last = error.strerror or str(error)
            continue
        finally:
            connection.close()
        if 200 <= status < 300:
            log.info("quit URL called", url=url.text, status=status)
            return
        last = f"HTTP status {status}"
    log.warning("quit URL failed", url=url.text, attempts=QUIT_ATTEMPTS, last_error=last)


def stop_processes(names: List[str], signum: int) -> None:
    """Signal every process named in `names` (a shared process namespace)."""
    import psutil

    me = os.getpid()
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in names and process.pid != me:
            try:
                process.send_signal(signum)
                log.info("stopped process", pid=process.pid, name=process.info["name"])
            except (psutil.NoSuchProcess, psutil.AccessDenied) as error:
                log.warning("cannot stop process", pid=process.pid, reason=str(error))


def write_termination_message(where: str, text: str) -> None:
    """Append `text` if the file exists and the workload left it empty."""
    try:
        fd = os.open(where, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # not in a pod, or not ours to write
    try:
        if os.fstat(fd).st_size == 0:
            os.write(fd, text.encode()[:TERMINATION_LOG_LIMIT] + b"\n")
    except OSError as error:
        log.warning("cannot write the termination message", path=where, reason=error.strerror)
    finally:
        os.close(fd)
