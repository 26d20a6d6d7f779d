"""The desk search: a SHA-256 or its prefix, a file name, an account, a link or words find cases and files."""

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_case
from verify import services
from verify.models import CaseMedia, MediaItem
from verify.search.finder import MAX_LENGTH

SEARCH_URL = reverse("admin:verify_case_search")
LIST_URL = reverse("admin:verify_case_changelist")


def stored_file(case, *, name: str, content: bytes) -> MediaItem:
    sha256 = hashlib.sha256(content).hexdigest()
    item = MediaItem.objects.create(
        sha256=sha256, kind=MediaItem.Kind.PHOTO, size=len(content), original_name=name, file=f"media/{sha256}"
    )
    CaseMedia.objects.create(case=case, media_item=item)
    return item


@pytest.fixture
def desk_client(client, desk):
    client.force_login(desk)
    return client


@pytest.fixture
def archive(desk):
    """Two cases sharing a photo, a third with a video, and sightings on Telegram and X."""
    sudzha = make_case(by=desk, stage="triage", title="Bridge at Sudzha", claim="The bridge was blown up on Monday")
    kursk = make_case(by=desk, stage="triage", title="Column near Kursk", claim="Tanks drive west")
    other = make_case(by=desk, title="Flooded metro", claim="A metro station under water")
    photo = stored_file(sudzha, name="bridge_sudzha.jpg", content=b"bridge photo bytes")
    CaseMedia.objects.create(case=kursk, media_item=photo)
    video = stored_file(other, name="metro.mp4", content=b"metro video bytes")
    services.add_sighting(
        case=sudzha,
        by=desk,
        platform="telegram",
        account="Kursk_Frontline",
        url="https://t.me/kursk_frontline/4411",
        caption="Мост в Судже взорван",
        media_item=photo,
    )
    services.add_sighting(case=other, by=desk, platform="x", account="@metro_watch", url="https://x.com/metro/1")
    return {"sudzha": sudzha, "kursk": kursk, "other": other, "photo": photo, "video": video}


def found(client, q):
    response = client.get(SEARCH_URL, {"q": q})
    assert response.status_code == 200
    results = response.context["results"]
    return {
        "cases": {c.title for c in results.cases.rows},
        "files": {f.original_name for f in results.files.rows},
        "sightings": {s.account for s in results.sightings.rows},
    }


def test_it_finds_a_file_and_its_cases_by_the_full_sha256(desk_client, archive):
    sha256 = archive["photo"].sha256
    assert found(desk_client, sha256) == {
        "cases": {"Bridge at Sudzha", "Column near Kursk"},
        "files": {"bridge_sudzha.jpg"},
        "sightings": set(),
    }


@pytest.mark.parametrize("length", [6, 12, 40])
def test_it_finds_a_file_by_a_prefix_of_its_sha256(desk_client, archive, length):
    result = found(desk_client, archive["video"].sha256[:length])
    assert result["files"] == {"metro.mp4"}
    assert result["cases"] == {"Flooded metro"}


def test_it_finds_a_sha256_typed_in_capitals_with_spaces_around(desk_client, archive):
    assert found(desk_client, f"  {archive['photo'].sha256.upper()} ")["files"] == {"bridge_sudzha.jpg"}


def test_it_shows_each_files_cases_with_stage_and_verdict_on_the_results_page(desk_client, archive):
    html = desk_client.get(SEARCH_URL, {"q": archive["photo"].sha256[:10]}).content.decode()
    assert reverse("admin:verify_mediaitem_change", args=[archive["photo"].pk]) in html
    assert reverse("admin:verify_case_change", args=[archive["kursk"].pk]) in html
    assert 'class="vd-badge vd-stage-triage"' in html
    assert "no verdict yet" in html


def test_it_finds_a_file_by_part_of_its_name(desk_client, archive):
    assert found(desk_client, "SUDZHA.jp")["files"] == {"bridge_sudzha.jpg"}


@pytest.mark.parametrize("account", ["Kursk_Frontline", "@kursk_frontline", "KURSK_FRONTLINE"])
def test_it_finds_a_sighting_and_its_case_by_account(desk_client, archive, account):
    result = found(desk_client, account)
    assert result["sightings"] == {"Kursk_Frontline"}
    assert result["cases"] == {"Bridge at Sudzha"}


def test_it_finds_an_account_stored_with_an_at_sign_when_typed_without(desk_client, archive):
    assert found(desk_client, "metro_watch")["sightings"] == {"@metro_watch"}


@pytest.mark.parametrize(
    "url",
    [
        "https://t.me/kursk_frontline/4411",
        "HTTP://T.ME/kursk_frontline/4411/",
        "t.me/kursk_frontline/4411",
        "https://t.me/kursk_frontline/4411?utm_source=share&utm_campaign=x",
        "https://www.t.me/kursk_frontline/4411#c",
    ],
)
def test_it_finds_a_sighting_by_any_spelling_of_its_link(desk_client, archive, url):
    result = found(desk_client, url)
    assert result["sightings"] == {"Kursk_Frontline"}
    assert result["cases"] == {"Bridge at Sudzha"}


def test_it_finds_a_link_stored_with_tracking_parameters_from_the_clean_link(desk_client, desk, archive):
    case = make_case(by=desk, title="Shared with tracking")
    services.add_sighting(
        case=case, by=desk, platform="facebook", account="page", url="https://Facebook.com/page/posts/9/?utm_source=ig"
    )
    assert found(desk_client, "facebook.com/page/posts/9")["cases"] == {"Shared with tracking"}


def test_it_finds_every_post_of_a_channel_by_the_channels_link(desk_client, archive):
    assert found(desk_client, "https://T.me/kursk_frontline")["sightings"] == {"Kursk_Frontline"}


@pytest.mark.parametrize(
    ("words", "case"),
    [("blown up", "Bridge at Sudzha"), ("column NEAR", "Column near Kursk"), ("Судже", "Bridge at Sudzha")],
)
def test_it_finds_cases_by_words_in_title_claim_or_caption(desk_client, archive, words, case):
    assert case in found(desk_client, words)["cases"]


def test_it_finds_a_case_by_its_checklist_notes(desk_client, desk, archive):
    item = archive["other"].checklist.first()
    item.notes = "Geolocated to Kitay-gorod station"
    item.save()
    assert found(desk_client, "kitay-gorod")["cases"] == {"Flooded metro"}


def test_it_finds_a_case_by_its_number(desk_client, archive):
    assert found(desk_client, f"#{archive['other'].pk}")["cases"] == {"Flooded metro"}


def test_it_says_when_nothing_matches(desk_client, archive):
    html = desk_client.get(SEARCH_URL, {"q": "Vladivostok"}).content.decode()
    assert "Nothing on the desk matches" in html


@pytest.mark.parametrize(
    ("q", "message"),
    [("ab", "Type at least 3 characters"), ("x" * (MAX_LENGTH + 1), f"keep it to {MAX_LENGTH:,}")],
)
def test_it_explains_a_search_too_short_or_too_long(desk_client, archive, q, message):
    response = desk_client.get(SEARCH_URL, {"q": q})
    assert message in response.context["error"]
    assert "results" not in response.context


def test_it_searches_in_a_fixed_number_of_queries(desk_client, desk, archive):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            desk_client.get(SEARCH_URL, {"q": "Kursk"})
        return len(captured)

    def add_kursk_cases(count):
        for _ in range(count):
            case = make_case(by=desk, title="Kursk again")
            stored_file(case, name=f"kursk-{case.pk}.jpg", content=f"kursk {case.pk}".encode())
            services.add_sighting(case=case, by=desk, platform="telegram", account=f"kursk_{case.pk}")

    add_kursk_cases(1)
    few = queries()
    add_kursk_cases(10)
    assert queries() == few


def test_it_is_open_to_reviewers(client, reviewer, archive):
    client.force_login(reviewer)
    assert found(client, "metro")["cases"] == {"Flooded metro"}


def test_it_makes_the_case_lists_box_find_a_case_by_a_files_hash_prefix(desk_client, archive):
    response = desk_client.get(LIST_URL, {"q": archive["photo"].sha256[:8]})
    assert {c.title for c in response.context["cl"].result_list} == {"Bridge at Sudzha", "Column near Kursk"}


def test_it_makes_the_case_lists_box_find_a_link_with_tracking_parameters(desk_client, archive):
    response = desk_client.get(LIST_URL, {"q": "https://t.me/kursk_frontline/4411/?utm_source=tg"})
    assert [c.title for c in response.context["cl"].result_list] == ["Bridge at Sudzha"]


def test_it_tells_the_case_list_a_search_is_too_short(desk_client, archive):
    response = desk_client.get(LIST_URL, {"q": "ab"}, follow=True)
    assert list(response.context["cl"].result_list) == []
    assert any("at least 3 characters" in str(m) for m in response.context["messages"])


def test_it_searches_a_hex_word_as_words_as_well_as_a_hash_prefix(desk_client, desk, archive):
    make_case(by=desk, title="Facade of the town hall")
    assert found(desk_client, "facade")["cases"] == {"Facade of the town hall"}


def test_it_searches_hex_mixing_figures_and_letters_as_a_hash_only(desk_client, desk, archive):
    prefix = archive["photo"].sha256[:8]
    make_case(by=desk, title=f"Notes on {prefix}")
    assert found(desk_client, prefix)["cases"] == {"Bridge at Sudzha", "Column near Kursk"}
