"""A programmable local HTTP server for tests: routes map a path to a handler function.

Each handler gets the request handler object and writes the response itself, so tests can send
any status, header, redirect, chunked or truncated body. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


def respond(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def chunked(h: BaseHTTPRequestHandler, total: int, chunk: int = 64 * 1024, ctype: str = "video/mp4") -> None:
    """A body of `total` bytes with no Content-Length (chunked transfer encoding)."""
    h.send_response(200)
    h.send_header("Content-Type", ctype)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    sent = 0
    try:
        while sent < total:
            n = min(chunk, total - sent)
            h.wfile.write(f"{n:x}\r\n".encode() + b"\0" * n + b"\r\n")
            sent += n
        h.wfile.write(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up, as it should past its cap


class TestServer:
    __test__ = False  # not a pytest class

    def __init__(self, routes: dict[str, Handler]):
        self.routes = routes
        self.log: list[str] = []
        server = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.log.append(self.path)
                fn = (server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                      or server.routes.get("*"))  # "*": every other path (a CDN serving any file name)
                if fn is None:
                    respond(self, 404, b"not found", "text/plain")
                else:
                    fn(self)

            do_HEAD = do_GET  # noqa: N815
            do_POST = do_GET  # noqa: N815 - a POST handler reads its body itself (rfile, Content-Length)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # noqa: ANN001
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up (yt-dlp probes) is fine
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> TestServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
