"""A small HTTP proxy in front of the moto server that injects S3 faults.

It forwards every request unchanged, counts what passes, and on demand:
answers ``503 SlowDown`` (throttling), or stops listening altogether (S3
unreachable) and comes back on the same port, so the bucket's state in moto
survives the outage.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.throttle_every = 0
        self.throttle_per_key = 2
        """At most this many SlowDown answers for one key, so the client's retries win."""
        self._throttled: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.requests = 0
        self.injected = 0
        self.put_ok: Counter[str] = Counter()
        """Key → PUTs that created an object (2xx)."""
        self.after_put_ok = None
        self.down = False
        """When set, requests already connected are dropped without an answer."""
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        proxy = self
        self.down = False

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.down:
                    self.close_connection = True  # no answer at all: the client sees a reset
                    return
                key = urlsplit(self.path).path.split("/", 2)[-1]
                with proxy.lock:
                    proxy.requests += 1
                    throttle = (proxy.throttle_every
                                and proxy.requests % proxy.throttle_every == 0
                                and proxy._throttled[key] < proxy.throttle_per_key)
                    if throttle:
                        proxy.injected += 1
                        proxy._throttled[key] += 1
                if throttle:
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOW_DOWN)))
                    self.end_headers()
                    self.wfile.write(SLOW_DOWN)
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port,
                                                      timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"127.0.0.1:{proxy.upstream_port}"
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if self.command == "PUT" and 200 <= response.status < 300:
                    with proxy.lock:
                        proxy.put_ok[key] += 1
                    if proxy.after_put_ok:
                        proxy.after_put_ok(key)
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in {"transfer-encoding", "connection",
                                            "content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def go_down(self) -> None:
        """S3 disappears now: drop what is in flight, then stop listening."""
        with self.lock:
            if self.down:
                return
            self.down = True
        threading.Thread(target=self.stop, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: clients now get 'connection refused'."""
        with self.lock:
            server, self._server = self._server, None
        if server:
            server.shutdown()
            server.server_close()
