"""yt-dlp's messages in the desk's words: each kind of failure a desk user can act on."""

import pytest

from verify.capture.media import reason_for


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        # The messages yt-dlp's extractors raise through YoutubeDL (common.py's defaults and HTTP errors).
        (
            "ERROR: [youtube] dQw4w9WgXcQ: This video is not available from your location due to geo restriction",
            "geo-blocked: the site does not show this post where the desk's workers are",
        ),
        (
            "ERROR: [instagram] C1a2b3: This video is only available for registered users. Use --cookies-from-browser "
            "or --cookies for the authentication.",
            "login wall: the post is only shown to a logged-in account",
        ),
        (
            "ERROR: [generic] Unable to download webpage: HTTP Error 429: Too Many Requests",
            "rate-limited: the site asked the desk to slow down",
        ),
        (
            "ERROR: [twitter] 1850000000000000000: Unable to extract guest token; please report this issue",
            "the reader for this site could not understand the page; the platform may have changed it",
        ),
        (
            "ERROR: [tiktok] 7300000000000000000: Video not available, status code 10204 - video has been removed",
            "deleted or removed: the site says the post is not there",
        ),
    ],
)
def test_a_yt_dlp_failure_is_told_in_the_desks_words(message, reason):
    assert reason_for(message).startswith(reason)


def test_an_unknown_failure_keeps_yt_dlps_own_words():
    assert reason_for("ERROR: [vk] 1: Something new went wrong") == (
        "the media could not be fetched ([vk] 1: Something new went wrong)"
    )
