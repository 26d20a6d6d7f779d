"""The guarding proxy: a real client through it reaches allowed sites, and nothing inside the network."""

import socket

import pytest
import urllib3

from verify.capture.proxy import GuardingProxy


@pytest.fixture
def guard():
    with GuardingProxy() as proxy:
        yield proxy


def fetch(proxy_url: str, url: str) -> urllib3.BaseHTTPResponse:
    return urllib3.ProxyManager(proxy_url).request("GET", url, retries=False, redirect=False)


def test_it_forwards_a_request_to_an_allowed_site(guard, site):
    response = fetch(guard.url, f"{site.url}/photo.jpg")
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert ("127.0.0.1", "/photo.jpg") in site.seen
    assert guard.refusals == []


def test_it_refuses_an_address_on_this_machine_and_says_why(guard, site, internal):
    response = fetch(guard.url, f"{internal.url}/photo.jpg")
    assert response.status == 403
    assert "an address on the desk's own machine" in response.data.decode()
    assert internal.seen == []
    assert [r.destination for r in guard.refusals] == [f"127.0.0.1:{internal.port}"]


@pytest.mark.parametrize("host", ["169.254.169.254", "10.0.0.5", "[::1]", "2130706433", "0x7f.1"])
def test_it_refuses_internal_addresses_in_any_spelling(guard, host):
    response = fetch(guard.url, f"http://{host}/latest/meta-data/")
    assert response.status == 403
    assert response.headers["X-Verify-Refused"] == "True"


def test_it_refuses_a_tunnel_to_an_internal_address(guard, internal):
    with socket.create_connection(("127.0.0.1", guard.server_address[1]), timeout=5) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{internal.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 403")
    assert internal.seen == []


def test_it_tunnels_to_an_allowed_address(guard, site):
    with socket.create_connection(("127.0.0.1", guard.server_address[1]), timeout=5) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{site.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /photo.jpg HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.0 200")
    assert reply.endswith(b"\xff\xd9")


def test_a_test_route_sends_a_platform_host_to_the_local_site_and_is_still_checked(site, settings):
    with GuardingProxy(routes={"t.me": ("127.0.0.1", site.port)}) as proxy:
        assert fetch(proxy.url, "http://t.me/kursk_watch/2041").status == 200
        settings.OUTBOUND_ALLOW = []
        assert fetch(proxy.url, "http://t.me/kursk_watch/2041").status == 403
    assert ("t.me", "/kursk_watch/2041") in site.seen


def test_it_answers_a_request_it_cannot_parse_with_400(guard):
    with socket.create_connection(("127.0.0.1", guard.server_address[1]), timeout=5) as sock:
        sock.sendall(b"nonsense\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")


def test_it_cuts_a_body_that_runs_past_the_size_cap(guard, site, settings):
    settings.MAX_UPLOAD_BYTES = 1024 * 1024
    with pytest.raises(urllib3.exceptions.ProtocolError):
        urllib3.ProxyManager(guard.url).request("GET", f"{site.url}/big.mp4", retries=False)
