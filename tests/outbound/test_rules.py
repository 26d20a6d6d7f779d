"""The outbound rules alone: which URLs and addresses are refused, and the sentence that says why."""

import pytest

from verify.outbound import Refused, check_address, check_url
from verify.outbound.rules import ip_literal


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://169.254.169.254/latest/meta-data/", "a link-local address, where cloud metadata services answer"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://10.1.2.3/photo.jpg", "an address inside this network"),
        ("http://172.16.0.9/", "an address inside this network"),
        ("http://192.168.1.1/", "an address inside this network"),
        ("http://[fd12:3456::1]/", "an address inside this network"),
        ("http://100.64.0.1/", "a shared address inside a provider's network"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://[ff02::1]/", "a multicast address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://255.255.255.255/", "a reserved address"),
        ("http://192.0.2.1/", "an address that is not on the public internet"),
        ("http://[::ffff:169.254.169.254]/", "a link-local address, where cloud metadata services answer, written as"),
        ("http://[64:ff9b::a00:1]/", "an address inside this network, written as IPv6"),
        ("http://[2002:a00:1::]/", "an address inside this network, written as IPv6"),
        ("http://[64:ff9b:1::1]/", "this network's own IPv6-to-IPv4 translator"),
        ("http://[2001::1]/", "a Teredo tunnel address"),
        ("http://[fec0::1]/", "a site-local address"),
        ("http://[::127.0.0.1]/", "a reserved address"),
    ],
)
def test_it_refuses_an_address_that_is_not_public_before_connecting(url, said):
    with pytest.raises(Refused, match=r"^That link points at .*which the desk does not fetch\.$") as refused:
        check_url(url)
    assert said in str(refused.value)


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1")],
)
def test_it_reads_old_spellings_of_an_ipv4_address_as_the_address_they_reach(host, address):
    assert str(ip_literal(host)) == address
    with pytest.raises(Refused, match=rf"the desk's own machine \({host}, which is {address}\)"):
        check_url(f"http://{host}/photo.jpg")


def test_it_says_why_a_loopback_link_is_refused():
    with pytest.raises(Refused) as refused:
        check_url("http://127.0.0.1:8000/admin/")
    assert str(refused.value) == (
        "That link points at an address on the desk's own machine (127.0.0.1), which the desk does not fetch."
    )


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"])
def test_it_accepts_public_addresses_including_nat64_of_a_public_one(address):
    check_address(address)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://example.org/a.jpg", "Only http:// and https:// links can be downloaded"),
        ("file:///etc/passwd", "Only http:// and https:// links can be downloaded"),
        ("gopher://example.org/", "Only http:// and https:// links can be downloaded"),
        ("https://user:secret@example.org/a.jpg", "carries a user name or password"),
        ("http://example.org:99999/", "port that is not a number from 1 to 65535"),
    ],
)
def test_it_refuses_links_the_desk_does_not_follow(url, said):
    with pytest.raises(Refused, match=said):
        check_url(url)


def test_it_lets_the_allow_list_open_one_network_only(settings):
    settings.OUTBOUND_ALLOW = ["10.20.0.0/16"]
    check_address("10.20.3.4")
    with pytest.raises(Refused, match="inside this network"):
        check_address("10.21.3.4")


def test_it_lets_the_allow_list_open_one_port_only(settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.1:8080", "[::1]:8080"]
    check_address("127.0.0.1", port=8080)
    check_address("::1", port=8080)
    with pytest.raises(Refused, match="desk's own machine"):
        check_address("127.0.0.1", port=8081)


def test_it_lets_the_allow_list_name_a_host(settings):
    settings.OUTBOUND_ALLOW = ["intranet.example"]
    check_address("10.0.0.5", host="intranet.example", port=443)
    with pytest.raises(Refused, match=r"\(elsewhere.example, which is 10.0.0.5\)"):
        check_address("10.0.0.5", host="elsewhere.example", port=443)
