"""One spelling for links, accounts and SHA-256 prefixes, whatever way people paste them."""

import pytest

from verify.search.normalise import hash_prefix, looks_like_url, normalise_account, normalise_url, url_key

SAME_POST = [
    "https://t.me/kursk_frontline/4411",
    "http://t.me/kursk_frontline/4411",
    "HTTPS://T.ME/kursk_frontline/4411",
    "https://www.t.me/kursk_frontline/4411/",
    "t.me/kursk_frontline/4411",
    "https://t.me/kursk_frontline/4411?utm_source=share&utm_medium=copy",
    "https://t.me/kursk_frontline/4411?fbclid=IwAR0abc#comments",
    "https://t.me:443/kursk_frontline/4411",
]


@pytest.mark.parametrize("spelling", SAME_POST)
def test_it_spells_every_variant_of_a_link_the_same(spelling):
    assert normalise_url(spelling) == "t.me/kursk_frontline/4411"
    assert url_key(spelling) == url_key(SAME_POST[0])


def test_it_keeps_what_a_link_points_to():
    assert normalise_url("https://example.org/watch?v=abc&utm_source=x") == "example.org/watch?v=abc"
    assert normalise_url("https://example.org/Post/1") != normalise_url("https://example.org/post/1")
    assert normalise_url("https://example.org:8443/a") == "example.org:8443/a"


def test_it_has_no_key_for_no_link():
    assert url_key("") == ""


def test_it_reads_an_account_with_or_without_the_at_sign():
    assert normalise_account(" @Kursk_Frontline ") == normalise_account("kursk_frontline") == "kursk_frontline"


@pytest.mark.parametrize(("text", "expected"), [("ABCDEF12", "abcdef12"), ("abcde", None), ("abcdefg1", None)])
def test_it_takes_six_to_sixty_four_hex_digits_as_a_hash_prefix(text, expected):
    assert hash_prefix(text) == expected


def test_it_tells_a_link_from_words():
    assert looks_like_url("t.me/kursk_frontline/4411")
    assert looks_like_url("https://example.org")
    assert not looks_like_url("troops near Sudzha")
    assert not looks_like_url("Sudzha.")
