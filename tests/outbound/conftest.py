"""Local HTTP(S) servers for the outbound client's tests, and a stand-in for DNS."""

import http.server
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import pytest

from tests.media import jpeg_bytes

PHOTO = jpeg_bytes(seed=11)


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves a photo, redirects, and servers that are too slow or too big."""

    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.server.seen.append((self.path, self.headers.get("Host")))
        # A proxy is asked for the whole URL; the server plays the proxy and the site behind it.
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, parts.query
        if path == "/photo.jpg":
            self._send(PHOTO, "image/jpeg")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", urllib.parse.parse_qs(query)["to"][0])
            self.end_headers()
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            self.send_response(301)
            self.send_header("Location", f"/hop/{left - 1}" if left else "/photo.jpg")
            self.end_headers()
        elif path == "/trickle.jpg":
            # One byte at a time, each well inside the wait-for-data timeout, the whole far past the deadline.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            self._trickle(PHOTO)
        elif path == "/slow-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            self._trickle(b"X-Slow: " + b"a" * 1000 + b"\r\n\r\n")
        elif path == "/no-length.bin":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(bytes(5000))
        else:
            self.send_error(404, "Not Found")

    def _send(self, body: bytes, content_type: str):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, data: bytes):
        try:
            for i in range(len(data)):
                if self.server.stopping.wait(0.2):
                    return
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                self.server.trickled += 1
        except OSError:
            pass  # the client hung up: that is what the test wants

    def log_message(self, *args):
        pass


@dataclass
class Server:
    url: str
    port: int
    httpd: http.server.ThreadingHTTPServer
    sni: list = field(default_factory=list)

    @property
    def seen(self) -> list:
        """(path, Host header) of each request the server received."""
        return self.httpd.seen


def _serve(context: ssl.SSLContext | None = None):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.seen, httpd.stopping, httpd.trickled = [], threading.Event(), 0
    port = httpd.server_address[1]
    sni = []
    if context is not None:
        context.sni_callback = lambda sock, name, ctx: sni.append(name)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if context else "http"
    return Server(url=f"{scheme}://127.0.0.1:{port}", port=port, httpd=httpd, sni=sni)


def _stop(server: Server):
    server.httpd.stopping.set()
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def web_server():
    """A loopback HTTP server; the desk refuses it unless a test puts it on the allow-list."""
    server = _serve()
    yield server
    _stop(server)


@pytest.fixture
def other_server():
    """A second loopback server, on another port, that a redirect may point at."""
    server = _serve()
    yield server
    _stop(server)


@pytest.fixture
def tls_server_for(tmp_path, monkeypatch):
    """Start an HTTPS server whose certificate names `cert_host`, signed by a CA the client is told to trust."""
    from tests.outbound.certificates import issue

    servers = []

    def start(cert_host: str) -> Server:
        ca_file, cert_file, key_file = issue(tmp_path, cert_host)
        # urllib3 loads the default trust store, which honours SSL_CERT_FILE: only this CA is trusted.
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        servers.append(_serve(context))
        return servers[-1]

    yield start
    for server in servers:
        _stop(server)


class FakeDNS:
    """Answers for made-up names, in turn, as a resolver being rebound would; everything else is real.

    Each answer is an address or a list of addresses (one reply with several records).

    `routes` sends a connection to an address that does not exist here on to a local server, the way
    the internet would carry it to the real one.
    """

    def __init__(self, real):
        self.real, self.answers, self.routes, self.asked = real, {}, {}, []

    def __call__(self, host, port, *args, **kwargs):
        self.asked.append(host)
        if host in self.answers:
            answers = self.answers[host]
            reply = answers.pop(0) if len(answers) > 1 else answers[0]
            return [_answer(address, port) for address in ([reply] if isinstance(reply, str) else reply)]
        if host in self.routes:
            return [_answer("127.0.0.1", self.routes[host])]
        return self.real(host, port, *args, **kwargs)


def _answer(address: str, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr = (address, int(port or 0), 0, 0) if family == socket.AF_INET6 else (address, int(port or 0))
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def wait_until():
    """Poll for a condition a server thread sets; not a timing assertion."""

    def wait(condition, seconds=5.0):
        ends = time.monotonic() + seconds
        while not condition() and time.monotonic() < ends:
            time.sleep(0.02)
        return condition()

    return wait
