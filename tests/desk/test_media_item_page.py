"""A file's page: every case it is in, with stage and verdict, and where it was seen."""

import hashlib

import pytest
from django.urls import reverse

from tests.factories import make_case
from verify import services
from verify.models import CaseMedia, MediaItem


def stored_file(case, content: bytes, name: str = "bridge.jpg") -> MediaItem:
    sha256 = hashlib.sha256(content).hexdigest()
    item = MediaItem.objects.create(
        sha256=sha256, kind=MediaItem.Kind.PHOTO, size=len(content), original_name=name, file=f"media/{sha256}"
    )
    CaseMedia.objects.create(case=case, media_item=item)
    return item


@pytest.fixture
def shared_photo(desk, reviewer):
    first = make_case(by=desk, stage="in_review", title="Bridge at Sudzha")
    second = make_case(by=desk, stage="triage", title="Bridge, again")
    item = stored_file(first, b"bridge photo")
    CaseMedia.objects.create(case=second, media_item=item)
    services.add_sighting(
        case=first, by=desk, platform="telegram", account="kursk_frontline", url="https://t.me/k/1", media_item=item
    )
    return item, first, second


def page(client, item):
    response = client.get(reverse("admin:verify_mediaitem_change", args=[item.pk]))
    assert response.status_code == 200
    return response


def test_it_lists_every_case_the_file_is_in_with_its_stage(client, reviewer, shared_photo):
    item, first, second = shared_photo
    client.force_login(reviewer)
    response = page(client, item)
    assert [link.case for link in response.context["case_links"]] == [first, second]
    html = response.content.decode()
    assert reverse("admin:verify_case_change", args=[second.pk]) in html
    assert 'class="vd-badge vd-stage-in_review"' in html
    assert 'class="vd-badge vd-stage-triage"' in html


def test_it_shows_each_cases_newest_verdict(client, desk, shared_photo):
    item, first, _ = shared_photo
    lead = first.assignments.get().user
    first.checklist.update(status="confirmed")
    services.propose_verdict(
        case=first, by=lead, rating="misleading", confidence="high", summary="Old photo", rationale="Seen in 2022"
    )
    client.force_login(desk)
    html = page(client, item).content.decode()
    assert "v1 Misleading / miscaptioned (proposed)" in html
    assert "none yet" in html


def test_it_lists_the_files_sightings(client, desk, shared_photo):
    item, _, _ = shared_photo
    client.force_login(desk)
    response = page(client, item)
    assert [s.account for s in response.context["sightings"]] == ["kursk_frontline"]
    assert 'href="https://t.me/k/1"' in response.content.decode()


def test_it_links_the_files_page_from_its_details_on_the_case_page(client, desk, shared_photo, media_root):
    item, first, _ = shared_photo
    client.force_login(desk)
    html = client.get(reverse("admin:verify_case_file_details", args=[first.pk, item.pk])).content.decode()
    file_page = reverse("admin:verify_mediaitem_change", args=[item.pk])
    assert f'<a href="{file_page}">every case with this file</a>' in html
