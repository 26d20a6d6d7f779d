"""The guarded HTTP client: fetches a URL by the rules in rules.py, one checked address and one deadline.

urllib3, not requests or httpx: it lets the connection go to an address the desk chose (a pool per
checked IP) while TLS still sends SNI for the host name and verifies the certificate against it
(`server_hostname`, `assert_hostname`), and it never follows a redirect unless asked, so each hop is
checked here first. requests would resolve the name again at connect time (a second, unchecked DNS
answer) and httpx needs a custom transport for the same pinning.
"""

from __future__ import annotations

import contextlib
import email.utils
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    IncompleteRead,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from verify.outbound.rules import FetchFailed, Refused, Target, check_url
from verify.units import human_bytes

MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
USER_AGENT = "VerifyDesk/1 (newsroom verification)"
READ_BYTES = 256 * 1024

_current = threading.local()


class _Deadline:
    """One deadline for a whole fetch: when it passes, every socket the fetch opened is shut down.

    Socket timeouts only bound the wait for each next byte; a server that trickles one byte at a
    time would pass them forever. Shutting the socket down wakes whatever read is blocked on it.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.expired = False
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True

    def remaining(self) -> float:
        return max(0.001, self.ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self.lock:
            self.expired = True
            sockets = list(self.sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> _Deadline:
        _current.deadline = self
        self.timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.timer.cancel()
        _current.deadline = None


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """A connection whose socket the current fetch's deadline can shut down."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.watch(sock)
        return sock


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class Download:
    """The body of a fetched URL, read in chunks; refuses to pass off a cut or oversized file as whole."""

    def __init__(
        self,
        response: urllib3.BaseHTTPResponse,
        target: Target,
        *,
        deadline: _Deadline,
        max_bytes: int,
        on_progress: Callable[[int, int | None], None] | None,
    ):
        self.response, self.target, self.deadline, self.max_bytes = response, target, deadline, max_bytes
        self.on_progress = on_progress
        self.received = 0
        length = (response.headers.get("Content-Length") or "").strip()
        self.declared = int(length) if length.isdigit() else None
        if self.declared is not None and self.declared > max_bytes:
            raise Refused(
                f"The server says the file is {human_bytes(self.declared)}, over the "
                f"{human_bytes(max_bytes)} limit; nothing was downloaded."
            )

    @property
    def url(self) -> str:
        """The URL the body came from, after redirects."""
        return self.target.url

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def content_type(self) -> str:
        return self.response.headers.get("Content-Type", "")

    @property
    def filename(self) -> str:
        """The name the server gives the file, else the last part of the URL's path."""
        header = Message()
        header["Content-Disposition"] = self.response.headers.get("Content-Disposition", "")
        name = header.get_param("filename", header="content-disposition")
        if name:
            return email.utils.collapse_rfc2231_value(name)
        path = urllib.parse.urlsplit(self.url).path
        return urllib.parse.unquote(path.rsplit("/", 1)[-1]) or "download"

    def read(self, size: int = -1) -> bytes:
        size = READ_BYTES if size is None or size < 0 else min(size, READ_BYTES)
        try:
            chunk = self.response.read1(size)
        except (HTTPError, OSError) as exc:
            raise self._broken(exc) from None
        if self.deadline.expired:
            # A shut-down socket reads as the end of the body: never take that for the whole file.
            raise self._too_slow()
        self.received += len(chunk)
        if self.received > self.max_bytes:
            raise Refused(
                f"The download ran past the {human_bytes(self.max_bytes)} limit for one file and was stopped; "
                "nothing was stored."
            )
        if not chunk and size and self.declared is not None and self.received < self.declared:
            raise FetchFailed(
                f"The download from {self.target.netloc} ended at byte {self.received:,} of the "
                f"{self.declared:,} the server announced; nothing was stored."
            )
        if self.on_progress is not None:
            self.on_progress(self.received, self.declared)
        return chunk

    def _broken(self, exc: Exception) -> FetchFailed:
        if self.deadline.expired:
            return self._too_slow()
        if isinstance(exc, ReadTimeoutError):
            return FetchFailed(
                f"{self.target.netloc} sent nothing for {settings.URL_DOWNLOAD_TIMEOUT} s after "
                f"{self.received:,} bytes; the download was stopped and nothing was stored."
            )
        cause = exc.args[1] if isinstance(exc, ProtocolError) and len(exc.args) > 1 else exc
        if self.declared is not None and isinstance(cause, IncompleteRead):
            return FetchFailed(
                f"The download from {self.target.netloc} ended at byte {self.received:,} of the "
                f"{self.declared:,} the server announced; nothing was stored."
            )
        return FetchFailed(
            f"The download from {self.target.netloc} broke off after {self.received:,} bytes "
            f"({type(cause).__name__}: {cause}); nothing was stored."
        )

    def _too_slow(self) -> FetchFailed:
        return FetchFailed(
            f"The download from {self.target.netloc} took longer than {self.deadline.seconds:g} s in all and was "
            f"stopped after {self.received:,} bytes; nothing was stored."
        )

    def describe(self) -> str:
        """Where the bytes came from, for the custody record."""
        return (
            f"final address {self.url}, connected to {self.target.address}, HTTP {self.status}, "
            f"{self.content_type or 'no content type'}"
        )


@contextmanager
def open_url(
    url: str,
    *,
    deadline_seconds: float | None = None,
    max_bytes: int | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Iterator[Download]:
    """Fetch `url` by the desk's rules and yield its body; every hop is checked, the whole fetch has one deadline.

    Raises Refused (the rules forbid it) or FetchFailed (it did not work), each with a sentence for the desk.
    """
    deadline_seconds = settings.URL_DOWNLOAD_DEADLINE if deadline_seconds is None else deadline_seconds
    max_bytes = settings.MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    with _Deadline(deadline_seconds) as deadline:
        response, target, pool = _follow(url, deadline)
        try:
            yield Download(response, target, deadline=deadline, max_bytes=max_bytes, on_progress=on_progress)
        finally:
            response.close()
            _release(pool)


def _follow(url: str, deadline: _Deadline):
    """GET the URL, checking and following at most MAX_REDIRECTS redirects; returns the final response."""
    target = check_url(url)
    for hop in range(MAX_REDIRECTS + 1):
        response, pool = _send(target, deadline)
        location = response.headers.get("Location")
        if response.status in REDIRECT_STATUSES and location:
            response.close()
            _release(pool)
            if hop == MAX_REDIRECTS:
                raise Refused(f"The link redirected more than {MAX_REDIRECTS} times; the desk stops following there.")
            next_url = urllib.parse.urljoin(target.url, location.strip())
            try:
                target = check_url(next_url)
            except Refused as exc:
                raise Refused(f"The link redirected to {next_url}. {exc}") from None
            continue
        if not 200 <= response.status < 300:
            response.close()
            _release(pool)
            reason = f"HTTP {response.status} {response.reason or ''}".strip()
            raise FetchFailed(f"The server refused the download: {reason}")
        return response, target, pool
    raise AssertionError("unreachable: the loop returns or raises")


def post(
    url: str,
    body: bytes,
    *,
    content_type: str,
    accept: str = "*/*",
    max_bytes: int,
    deadline_seconds: float | None = None,
) -> bytes:
    """POST `body` to `url` by the desk's rules and return the answer's body, read whole up to `max_bytes`.

    For a service's API (the time-stamping authority), not for downloads: the same checks of the URL and
    address, deadline, proxy and size cap, but no redirect is followed (a POST is not re-sent elsewhere),
    and anything but a 2xx answer is FetchFailed.
    """
    deadline_seconds = settings.URL_DOWNLOAD_DEADLINE if deadline_seconds is None else deadline_seconds
    with _Deadline(deadline_seconds) as deadline:
        target = check_url(url)
        headers = {"Content-Type": content_type, "Accept": accept}
        response, pool = _send(target, deadline, method="POST", body=body, headers=headers)
        try:
            if not 200 <= response.status < 300:
                reason = f"HTTP {response.status} {response.reason or ''}".strip()
                raise FetchFailed(f"{target.netloc} answered {reason}")
            answer = Download(response, target, deadline=deadline, max_bytes=max_bytes, on_progress=None)
            return b"".join(iter(answer.read, b""))
        finally:
            response.close()
            _release(pool)


def _send(
    target: Target, deadline: _Deadline, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None
):
    """One request to the target's checked address (or through the configured proxy), no redirect followed."""
    headers = {"Host": target.netloc, "User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
    idle = settings.URL_DOWNLOAD_TIMEOUT
    timeout = urllib3.Timeout(connect=min(idle, deadline.remaining()), read=idle)
    pool = _proxy() if settings.OUTBOUND_PROXY_URL else _pool(target)
    request_target = target.url if settings.OUTBOUND_PROXY_URL else target.path
    try:
        response = pool.urlopen(
            method,
            request_target,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            timeout=timeout,
            assert_same_host=False,
        )
    except HTTPError as exc:
        _release(pool)
        raise _unreachable(target, deadline, exc) from None
    return response, pool


def _pool(target: Target) -> urllib3.HTTPConnectionPool:
    if target.scheme == "http":
        return _HTTPPool(target.address, target.port, maxsize=1)
    # The socket goes to the checked address; TLS is about the name the link gave.
    return _HTTPSPool(
        target.address,
        target.port,
        maxsize=1,
        cert_reqs="CERT_REQUIRED",
        server_hostname=target.host,
        assert_hostname=target.host,
    )


def _proxy() -> urllib3.ProxyManager:
    """Through an outbound proxy the proxy connects; the desk has still checked the address it looked up."""
    manager = urllib3.ProxyManager(settings.OUTBOUND_PROXY_URL, num_pools=1, cert_reqs="CERT_REQUIRED")
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


def _release(pool: urllib3.HTTPConnectionPool | urllib3.PoolManager) -> None:
    if isinstance(pool, urllib3.PoolManager):
        pool.clear()
    else:
        pool.close()


def _unreachable(target: Target, deadline: _Deadline, exc: HTTPError) -> FetchFailed:
    if deadline.expired:
        return FetchFailed(
            f"The download from {target.netloc} took longer than {deadline.seconds:g} s in all and was stopped; "
            "nothing was stored."
        )
    if isinstance(exc, SSLError):
        return FetchFailed(
            f"The secure connection to {target.netloc} failed ({_root(exc)}); the desk only downloads "
            "from servers whose certificate is valid for their name."
        )
    if isinstance(exc, ReadTimeoutError):
        return FetchFailed(f"{target.netloc} sent nothing for {settings.URL_DOWNLOAD_TIMEOUT} s; the download stopped.")
    if isinstance(exc, NewConnectionError | ConnectTimeoutError):
        return FetchFailed(f"Could not reach {target.netloc} at {target.address}: {_root(exc)}.")
    return FetchFailed(f"{target.netloc} did not answer in valid HTTP ({type(exc).__name__}: {exc})")


def _root(exc: BaseException) -> BaseException:
    """The operating system's or TLS library's own error beneath urllib3's wrapping."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    return exc
