"""A live runner's Prometheus endpoint: `/metrics` on the address `--metrics-addr` names.

The server answers on a thread of its own and never touches the fabric: the runner
publishes a `Sample` (plain values, O(shards + nodes) to take) at each checkpoint and about
once a second, and a scrape renders the latest one — once, however many scrapers ask — with
the renderer the textfile uses (agijobs.views.metrics). So a scrape costs the tick loop
nothing but a little of the interpreter's time, and sees a consistent fabric.

Why not prometheus_client: the exposition is already rendered here for the textfile, where
prometheus_client's `generate_latest` is about ten times slower (42 ms against 3 ms for the
1M-job benchmark's 7,000 series, at every checkpoint); serving those bytes takes the
standard library's HTTP server and the few lines below, and the textfile and `/metrics`
stay byte for byte the same text.
"""

from __future__ import annotations

import errno
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import BadInput, Conflict
from ..views.metrics import Sample, prometheus_text

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
EXAMPLE = "e.g. --metrics-addr 127.0.0.1:9464, or :9464 for every interface"


def parse_address(value: str) -> tuple[str, int]:
    """HOST:PORT (HOST may be empty for every interface, or [IPv6]); BadInput if not."""
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise BadInput(f"--metrics-addr: {value!r} is not HOST:PORT", EXAMPLE)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a runner restarted at once may take its port back

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily) -> None:
        self.address_family = family
        self.page: tuple[Sample | None, bytes] = (None, b"")
        self.latest: Sample | None = None
        self.rendering = threading.Lock()
        super().__init__(address, _Handler)

    def text(self) -> bytes:
        """The latest sample's text, rendered once for every scraper that asks."""
        with self.rendering:
            latest = self.latest
            shown, text = self.page
            if latest is not shown and latest is not None:
                text = prometheus_text(latest)
                self.page = (latest, text)
            return text


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            data, status, kind = b"agijobs: metrics are at /metrics\n", 404, "text/plain"
        else:
            data, status, kind = self.server.text(), 200, CONTENT_TYPE
            if not data:  # bound before the run loaded: its first checkpoint is near
                data, status, kind = b"agijobs: no sample yet\n", 503, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes are not news; the runner's output stays its own


class Exporter:
    """`/metrics` served on `address` from the samples the runner publishes."""

    def __init__(self, address: str) -> None:
        """Bind `address` (HOST:PORT) now, before the run touches its storage: a bad
        address is BadInput (exit 2), one in use a Conflict (exit 4)."""
        host, port = parse_address(address)
        try:
            found = socket.getaddrinfo(
                host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        except (socket.gaierror, UnicodeError) as error:
            raise BadInput(
                f"--metrics-addr {address}: cannot resolve {host!r} ({error})", EXAMPLE
            ) from None
        family, _, _, _, bound = found[0]
        try:
            self._server = _Server((host or str(bound[0]), port), family)
        except OSError as error:
            raise _bind_error(address, error) from None
        # The loop looks for `shutdown` this often: the run's end waits for it, no longer.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.05,),
            name="agijobs-metrics",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        address = self._server.server_address
        host, port = str(address[0]), address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/metrics"

    def publish(self, latest: Sample) -> None:
        """Serve `latest` from now on (one reference replaced: the server thread reads
        either the old sample or the new, never a half-made one)."""
        self._server.latest = latest

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _bind_error(address: str, error: OSError) -> BadInput | Conflict:
    if error.errno == errno.EADDRINUSE:
        return Conflict(
            f"--metrics-addr {address}: the address is in use (another runner or exporter "
            "listens there)",
            "stop what listens there, or give another port, e.g. --metrics-addr "
            f"{address.rpartition(':')[0]}:{_next_port(address)}",
        )
    if error.errno == errno.EACCES:
        return Conflict(
            f"--metrics-addr {address}: not permitted to listen there",
            "use a port above 1024, or run with the privilege to bind it",
        )
    return BadInput(
        f"--metrics-addr {address}: cannot listen there ({error.strerror or error})",
        "give an address of this machine, " + EXAMPLE,
    )


def _next_port(address: str) -> int:
    port = int(address.rpartition(":")[2])
    return port + 1 if port < 65535 else 9464
