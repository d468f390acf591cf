#!/usr/bin/env python3
"""A workload that works through its proxy sidecar: a request every 50 ms.

On SIGTERM it finishes its work for STOP_SECONDS, still through the proxy (a
service draining its last requests, a job flushing its results), then exits
0. Its lines carry Unix times, so a test can order the pod's events.
"""

import os
import signal
import sys
import time
import urllib.request

URL = os.environ.get("PROXY_URL", "http://127.0.0.1:15021/ready")
STOP_SECONDS = float(os.environ.get("STOP_SECONDS", "2"))
term_at = 0.0


def on_term(signum, frame):
    global term_at
    if not term_at:
        term_at = time.time()
        print(f"workload got TERM at {term_at:.6f}", flush=True)


def request() -> bool:
    try:
        with urllib.request.urlopen(URL, timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


signal.signal(signal.SIGTERM, on_term)
print("workload running", flush=True)
during_stop = failed = 0
while not term_at or time.time() - term_at < STOP_SECONDS:
    ok = request()
    if term_at:
        during_stop += 1
        failed += not ok
    time.sleep(0.05)
print(f"workload exiting at {time.time():.6f}: {during_stop} requests during its stop, "
      f"{failed} failed", flush=True)
sys.exit(0)
