"""Serve recorded replies (status, headers and body exactly as a real server sent them) on
127.0.0.1, so the real client libraries meet real wire data: header case, URI shapes, field
sets. Routes are `(method, path) -> Interaction` (`tests.recordings.cassette`); a reply may be
composed from recorded entities where no single recording holds the whole scene, and says so
in the test. Unknown routes answer 404 with Mastodon's error body. Requests are logged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.recordings import Interaction

# Hop-by-hop or length headers the recording's transport decided; ours sets its own.
_SKIP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class ReplayServer:
    def __init__(self, routes: dict[tuple[str, str], Interaction]) -> None:
        self.routes = {(m.upper(), p.rstrip("/") or "/"): i for (m, p), i in routes.items()}
        self.requests: list[tuple[str, str]] = []
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> ReplayServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path.rstrip("/") or "/"
                server.requests.append(("GET", path))
                found = server.routes.get(("GET", path))
                if found is None:
                    status, headers = 404, {"content-type": "application/json; charset=utf-8"}
                    body = b'{"error":"Record not found"}'
                else:
                    status, headers, body = found.status, found.headers, found.body
                # Only the recorded headers (its own Date included): a second Date header
                # made Mastodon.py's rate-limit clock fail.
                self.send_response_only(status)
                for k, v in headers.items():
                    if k.lower() not in _SKIP:
                        self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@contextmanager
def replaying(routes: dict[tuple[str, str], Interaction]) -> Iterator[ReplayServer]:
    server = ReplayServer(routes).start()
    try:
        yield server
    finally:
        server.stop()
