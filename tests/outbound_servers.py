"""Real servers the outbound-URL tests own, each on a loopback port of its own, in a thread: one that
redirects everything, one that only counts the connections it gets, and an OpenAI-compatible LLM that
records the Authorization header of every request."""

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHUTDOWN_POLL_S = 0.02  # how often a server looks for its stop: each test stops four of them


class ConnectionCounter:
    """A TCP listener that accepts, counts and closes: the redirect target nothing may reach."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(SHUTDOWN_POLL_S)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"  # websockets reads no HTTP/1.0 answer to its handshake

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.owner.handle(self)

    do_POST = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "HttpServer"


class HttpServer:
    """A ThreadingHTTPServer on a loopback port; subclasses answer in `handle`."""

    def __init__(self) -> None:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.requests: list[dict[str, str]] = []  # the headers of every request, lower-case names
        threading.Thread(target=self.httpd.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True).start()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append({name.lower(): value for name, value in handler.headers.items()})
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Redirector(HttpServer):
    """Answers every request (a WebSocket handshake too) with 302 to the same path on `target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.record(handler)
        scheme = "ws" if handler.headers.get("Upgrade", "").lower() == "websocket" else "http"
        handler.send_response(302)
        handler.send_header("Location", f"{scheme}://127.0.0.1:{self.target_port}{handler.path}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()


class RecordingLlm(HttpServer):
    """OpenAI streaming chat completions that always answer `reply`."""

    def __init__(self, reply: str = "Hello there.") -> None:
        self.reply = reply
        super().__init__()

    @property
    def authorizations(self) -> list[str | None]:
        return [headers.get("authorization") for headers in self.requests]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.record(handler)
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": self.reply}, "finish_reason": None}],
        }
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port held (bound, not listening) for the test: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
