"""The guarded client against real local servers: refusals, redirects, DNS rebinding, deadline, size cap, TLS."""

import socket

import pytest

from tests.outbound.conftest import PHOTO
from verify.outbound import FetchFailed, Refused, check_url, open_url, post


def fetch(url: str, **kwargs) -> bytes:
    with open_url(url, **kwargs) as download:
        return b"".join(iter(lambda: download.read(65536), b""))


def allow(settings, *servers):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{server.port}" for server in servers]


def test_it_downloads_from_a_server_on_the_allow_list(settings, web_server):
    allow(settings, web_server)
    assert fetch(f"{web_server.url}/photo.jpg") == PHOTO
    assert web_server.seen == [("/photo.jpg", f"127.0.0.1:{web_server.port}")]


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("127.0.0.1", "an address on the desk's own machine (127.0.0.1)"),
        ("localhost", "an address on the desk's own machine (localhost, which is "),
        ("[::1]", "an address on the desk's own machine (::1)"),
        ("0.0.0.0", "the unspecified address, which reaches the desk's own machine (0.0.0.0)"),  # noqa: S104
        ("[::ffff:127.0.0.1]", "the desk's own machine, written as IPv6 (::ffff:127.0.0.1)"),
        ("2130706433", "the desk's own machine (2130706433, which is 127.0.0.1)"),
        ("127.1", "the desk's own machine (127.1, which is 127.0.0.1)"),
    ],
)
def test_it_refuses_every_form_of_this_machine_without_connecting(web_server, host, said):
    with pytest.raises(Refused, match="which the desk does not fetch") as refused:
        fetch(f"http://{host}:{web_server.port}/photo.jpg")
    assert said in str(refused.value)
    assert web_server.seen == []


def test_it_refuses_a_name_that_resolves_to_this_machine(web_server, dns):
    dns.answers["tips.example"] = ["127.0.0.1"]
    with pytest.raises(Refused, match=r"desk's own machine \(tips.example, which is 127.0.0.1\)"):
        fetch(f"http://tips.example:{web_server.port}/photo.jpg")
    assert web_server.seen == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/photo.jpg"])
def test_it_refuses_metadata_and_private_addresses_before_any_connection(url, monkeypatch):
    def no_connection(*args, **kwargs):
        raise AssertionError("the client tried to connect")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(Refused, match="which the desk does not fetch"):
        fetch(url)


def test_it_refuses_loopback_by_default_and_only_the_listed_port_is_opened(settings, web_server, other_server):
    with pytest.raises(Refused):
        fetch(f"{web_server.url}/photo.jpg")
    allow(settings, other_server)
    with pytest.raises(Refused):
        fetch(f"{web_server.url}/photo.jpg")
    assert web_server.seen == []


def test_it_refuses_a_redirect_to_another_loopback_port(settings, web_server, other_server):
    allow(settings, web_server)
    target = f"{other_server.url}/photo.jpg"
    with pytest.raises(Refused) as refused:
        fetch(f"{web_server.url}/redirect?to={target}")
    assert str(refused.value) == (
        f"The link redirected to {target}. That link points at an address on the desk's own machine "
        "(127.0.0.1), which the desk does not fetch."
    )
    assert other_server.seen == []


def test_it_refuses_a_redirect_to_ftp(settings, web_server):
    allow(settings, web_server)
    with pytest.raises(Refused, match=r"redirected to ftp://example.org/a.jpg. Only http:// and https://"):
        fetch(f"{web_server.url}/redirect?to=ftp://example.org/a.jpg")


def test_it_refuses_a_redirect_to_the_metadata_address(settings, web_server):
    allow(settings, web_server)
    with pytest.raises(Refused, match=r"link-local address, where cloud metadata services answer \(169.254.169.254\)"):
        fetch(f"{web_server.url}/redirect?to=http://169.254.169.254/latest/meta-data/")


def test_it_follows_five_redirects_checking_each(settings, web_server):
    allow(settings, web_server)
    assert fetch(f"{web_server.url}/hop/4") == PHOTO
    assert [path for path, _ in web_server.seen] == ["/hop/4", "/hop/3", "/hop/2", "/hop/1", "/hop/0", "/photo.jpg"]


def test_it_stops_after_more_than_five_redirects(settings, web_server):
    allow(settings, web_server)
    with pytest.raises(Refused, match="The link redirected more than 5 times; the desk stops following there."):
        fetch(f"{web_server.url}/hop/5")
    assert len(web_server.seen) == 6


def test_it_connects_to_the_address_it_checked_when_dns_is_rebound(web_server, dns):
    # The name first answers a public address, then this machine: the client must look it up once,
    # check that answer and connect there, never to what a second lookup would say.
    dns.answers["rebind.example"] = ["93.184.216.34", "127.0.0.1"]
    dns.routes["93.184.216.34"] = web_server.port  # the public server, played by the local one
    assert fetch(f"http://rebind.example:{web_server.port}/photo.jpg") == PHOTO
    assert dns.asked.count("rebind.example") == 1
    assert "93.184.216.34" in dns.asked
    assert web_server.seen == [("/photo.jpg", f"rebind.example:{web_server.port}")]


def test_it_refuses_a_name_whose_first_answer_is_private_without_connecting(web_server, dns):
    dns.answers["rebind.example"] = ["10.0.0.1", "93.184.216.34"]
    dns.routes["93.184.216.34"] = web_server.port
    with pytest.raises(Refused, match=r"inside this network \(rebind.example, which is 10.0.0.1\)"):
        fetch(f"http://rebind.example:{web_server.port}/photo.jpg")
    assert web_server.seen == []


def test_it_refuses_a_name_with_any_private_answer(dns):
    dns.answers["mixed.example"] = [["93.184.216.34", "10.0.0.1"]]
    with pytest.raises(Refused, match=r"inside this network \(mixed.example, which is 10.0.0.1\)"):
        check_url("http://mixed.example/photo.jpg")


def test_it_cuts_a_trickling_server_at_the_overall_deadline(settings, web_server):
    allow(settings, web_server)
    with pytest.raises(FetchFailed, match=r"took longer than 1 s in all and was stopped after [\d,]+ bytes"):
        fetch(f"{web_server.url}/trickle.jpg", deadline_seconds=1)
    # The server had far more to send: the client stopped, not the server.
    assert web_server.httpd.trickled < len(PHOTO)


def test_it_cuts_a_server_that_trickles_its_headers_at_the_deadline(settings, web_server):
    allow(settings, web_server)
    with pytest.raises(FetchFailed, match="took longer than 1 s in all and was stopped"):
        fetch(f"{web_server.url}/slow-headers", deadline_seconds=1)


def test_it_refuses_a_download_over_the_size_cap(settings, web_server):
    allow(settings, web_server)
    settings.MAX_UPLOAD_BYTES = 1000
    with pytest.raises(Refused, match="The server says the file is .* over the 1,000 bytes limit"):
        fetch(f"{web_server.url}/photo.jpg")
    with pytest.raises(Refused, match="ran past the 1,000 bytes limit for one file and was stopped"):
        fetch(f"{web_server.url}/no-length.bin")


def test_it_verifies_tls_for_the_host_name_while_connecting_to_the_checked_address(settings, dns, tls_server_for):
    server = tls_server_for("photos.example")
    dns.answers["photos.example"] = ["127.0.0.1"]
    settings.OUTBOUND_ALLOW = ["photos.example"]
    assert fetch(f"https://photos.example:{server.port}/photo.jpg") == PHOTO
    assert server.sni == ["photos.example"]
    assert server.seen == [("/photo.jpg", f"photos.example:{server.port}")]


def test_it_refuses_a_certificate_for_another_name(settings, dns, tls_server_for):
    server = tls_server_for("elsewhere.example")
    dns.answers["photos.example"] = ["127.0.0.1"]
    settings.OUTBOUND_ALLOW = ["photos.example"]
    with pytest.raises(FetchFailed, match="The secure connection to photos.example:.* failed .*valid for their name"):
        fetch(f"https://photos.example:{server.port}/photo.jpg")
    assert server.sni == ["photos.example"]
    assert server.seen == []


def test_it_sends_every_fetch_through_the_configured_proxy(settings, web_server, dns):
    # The proxy is the desk's own choice, so its address is not checked; the link's host still is.
    settings.OUTBOUND_PROXY_URL = web_server.url
    dns.answers["files.example"] = ["93.184.216.34"]
    assert fetch("http://files.example/photo.jpg") == PHOTO
    assert web_server.seen == [("http://files.example/photo.jpg", "files.example")]
    dns.answers["inside.example"] = ["10.0.0.1"]
    with pytest.raises(Refused, match="inside this network"):
        fetch("http://inside.example/photo.jpg")


def test_it_sends_a_link_with_spaces_and_accents_as_a_valid_request(settings, web_server):
    allow(settings, web_server)
    assert fetch(f"{web_server.url}/photo.jpg?caption=soldats à Koursk") == PHOTO
    assert web_server.seen == [("/photo.jpg?caption=soldats%20%C3%A0%20Koursk", f"127.0.0.1:{web_server.port}")]


def test_it_looks_up_a_name_in_another_script_in_its_ascii_form(dns):
    dns.answers["xn--bcher-kva.example"] = ["10.0.0.1"]
    with pytest.raises(Refused, match=r"\(xn--bcher-kva.example, which is 10.0.0.1\)"):
        check_url("https://bücher.example/photo.jpg")


def test_it_posts_only_by_the_same_rules_and_calls_anything_but_2xx_a_failure(settings, web_server):
    with pytest.raises(Refused, match="which the desk does not fetch"):
        post(f"{web_server.url}/tsr", b"query", content_type="application/timestamp-query", max_bytes=1024)
    assert web_server.seen == []
    allow(settings, web_server)
    with pytest.raises(FetchFailed, match=rf"^127.0.0.1:{web_server.port} answered HTTP 501"):
        post(f"{web_server.url}/tsr", b"query", content_type="application/timestamp-query", max_bytes=1024)
