#!/usr/bin/env python3
"""A proxy-like sidecar: GET /ready answers 503 until READY_AFTER seconds have
passed, then 200; POST /quitquitquit makes it exit 0 (as Istio's does), and
so does SIGTERM (a proxy stops at once: what is in flight is lost).
It prints when it became ready, quit or got TERM (Unix times), so a test can
order events."""

import http.server
import os
import signal
import threading
import time

PORT = int(os.environ.get("PORT", "15021"))
READY_AFTER = float(os.environ.get("READY_AFTER", "2"))
started = time.time()
announced = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = time.time() - started >= READY_AFTER
        if ready and not announced.is_set():
            announced.set()
            print(f"proxy ready at {time.time():.6f}", flush=True)
        self.send_response(200 if ready else 503)
        self.end_headers()

    def do_POST(self):
        if self.path != "/quitquitquit":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.flush()
        print(f"proxy quit at {time.time():.6f}", flush=True)
        os._exit(0)  # the answer is sent; a proxy quits at once

    def log_message(self, *args):
        pass


def on_term(signum, frame):
    print(f"proxy got TERM at {time.time():.6f}", flush=True)
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)
server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"proxy listening on 127.0.0.1:{PORT}, ready after {READY_AFTER}s", flush=True)
server.serve_forever()
