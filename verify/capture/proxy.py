"""A guarding forward proxy: yt-dlp and Chromium connect through it, and it applies the desk's outbound rules.

Tools with their own HTTP stacks cannot call `verify.outbound` themselves, so the workers run this small
HTTP proxy on 127.0.0.1 and point the tools at it. For each request (plain HTTP in absolute form) or
tunnel (CONNECT host:port) it checks the destination with `verify.outbound.check_url`, which resolves
the name once and checks every address, then connects to that checked address and nowhere else. A
refused destination gets a 403 whose body says why; the refusal is also kept for the capture's record.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import socketserver
import threading
import urllib.parse
from dataclasses import dataclass

from django.conf import settings

from verify.outbound import FetchFailed, Refused, check_url

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
RELAY_BYTES = 64 * 1024
# Beyond the size cap for one file, room for the reply's headers (and TLS framing in a tunnel).
HEADROOM_BYTES = 1024 * 1024
# Headers meant for the proxy, or for one hop: never passed on.
HOP_HEADERS = {"proxy-connection", "proxy-authorization", "connection", "keep-alive", "te", "upgrade"}


@dataclass(frozen=True)
class Refusal:
    """A connection the proxy would not make, and why, in the desk's words."""

    destination: str
    reason: str


class _BadRequest(Exception):
    pass


class GuardingProxy(socketserver.ThreadingTCPServer):
    """An HTTP forward proxy on loopback that connects only where `verify.outbound` allows.

    `routes` maps a host name to a (host, port) to connect to instead; it exists for tests, which play
    a platform's site on a local server, and the routed address is checked like any other.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, routes: dict[str, tuple[str, int]] | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes if routes is not None else {}
        self.refusals: list[Refusal] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> GuardingProxy:
        self.thread = threading.Thread(target=self.serve_forever, name="guarding-proxy", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> GuardingProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def destination(self, scheme: str, host: str, port: int) -> tuple[str, int]:
        """The checked (address, port) to connect to for host:port; raises Refused or FetchFailed."""
        routed = self.routes.get(host.lower().rstrip("."))
        if routed is not None:
            host, port = routed
        shown = f"[{host}]" if ":" in host else host
        target = check_url(f"{scheme}://{shown}:{port}/")
        return target.address, target.port

    def refused(self, destination: str, reason: str) -> None:
        with self.lock:
            self.refusals.append(Refusal(destination, reason))
        log.info("Guarding proxy refused %s: %s", destination, reason)


class _Handler(socketserver.BaseRequestHandler):
    server: GuardingProxy

    def handle(self) -> None:
        client = self.request
        client.settimeout(settings.URL_DOWNLOAD_TIMEOUT)
        try:
            head, rest = _read_head(client)
            method, target, request_line_rest, headers = _parse(head)
        except (_BadRequest, OSError) as exc:
            _answer(client, 400, f"Not a proxy request the desk understands: {exc}")
            return
        if method == "CONNECT":
            self._tunnel(client, target, rest)
        else:
            self._forward(client, method, target, headers, rest)

    def _connect(self, client: socket.socket, scheme: str, host: str, port: int, shown: str) -> socket.socket | None:
        try:
            address = self.server.destination(scheme, host, port)
        except Refused as exc:
            self.server.refused(shown, str(exc))
            _answer(client, 403, str(exc))
            return None
        except FetchFailed as exc:
            _answer(client, 502, str(exc))
            return None
        try:
            return socket.create_connection(address, timeout=settings.URL_DOWNLOAD_TIMEOUT)
        except OSError as exc:
            _answer(client, 502, f"Could not reach {shown}: {exc}")
            return None

    def _tunnel(self, client: socket.socket, target: str, rest: bytes) -> None:
        parts = urllib.parse.urlsplit(f"//{target}")
        try:
            host, port = parts.hostname or "", parts.port or 443
        except ValueError:
            _answer(client, 400, f"CONNECT to {target!r} names no port the desk understands")
            return
        upstream = self._connect(client, "https", host, port, target)
        if upstream is None:
            return
        with upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _relay(client, upstream)

    def _forward(self, client: socket.socket, method: str, url: str, headers: list, rest: bytes) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() != "http":
            _answer(client, 400, f"The proxy forwards http:// requests and tunnels https://, not {url!r}")
            return
        try:
            host, port = parts.hostname or "", parts.port or 80
        except ValueError:
            _answer(client, 400, f"{url!r} has a port that is not a number")
            return
        upstream = self._connect(client, "http", host, port, parts.netloc)
        if upstream is None:
            return
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        kept = [(name, value) for name, value in headers if name.lower() not in HOP_HEADERS]
        lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in kept), "Connection: close"]
        with upstream:
            # One request per connection: the reply ends when the site closes, and so does the client's.
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + rest)
            if _relay(client, upstream) == 0:
                _answer(client, 504, f"{parts.netloc} sent nothing for {settings.URL_DOWNLOAD_TIMEOUT} s")


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(RELAY_BYTES)
        if not chunk:
            raise _BadRequest("the connection closed before the request was complete")
        data += chunk
        if len(data) > MAX_HEAD_BYTES:
            raise _BadRequest("the request head is too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _parse(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    request = lines[0].split(" ")
    if len(request) != 3 or not request[2].startswith("HTTP/"):
        raise _BadRequest(f"bad request line {lines[0][:100]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise _BadRequest(f"bad header line {line[:100]!r}")
        headers.append((name.strip(), value.strip()))
    return request[0].upper(), request[1], request[2], headers


def _answer(client: socket.socket, status: int, message: str) -> None:
    reasons = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway", 504: "Gateway Timeout"}
    body = (message + "\n").encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {reasons[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nX-Verify-Refused: {status == 403}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        client.sendall(head.encode("latin-1") + body)


def _relay(client: socket.socket, upstream: socket.socket) -> int:
    """Copy bytes both ways until either side closes, both stay silent past the idle timeout, or the site
    sends more than one file may be: a body of unannounced length is cut there, never passed on whole.
    Returns how many bytes the site sent.
    """
    sockets = [client, upstream]
    limit = settings.MAX_UPLOAD_BYTES + HEADROOM_BYTES
    received = 0
    with contextlib.suppress(OSError):
        while True:
            readable, _, _ = select.select(sockets, [], [], settings.URL_DOWNLOAD_TIMEOUT)
            if not readable:
                return received
            for sock in readable:
                data = sock.recv(RELAY_BYTES)
                if not data:
                    return received
                if sock is upstream:
                    received += len(data)
                    if received > limit:
                        log.info("Guarding proxy cut a connection after %d bytes, over the size cap", received)
                        return received
                (upstream if sock is client else client).sendall(data)
    return received


def start_proxy() -> GuardingProxy:
    """A guarding proxy for one capture, so that its refusals are that capture's own."""
    return GuardingProxy(routes=ROUTES).start()


# Host name -> (host, port) for every capture's proxy. Empty in service; tests fill it to play a platform.
ROUTES: dict[str, tuple[str, int]] = {}
