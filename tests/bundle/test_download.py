"""The editors' "Download evidence bundle" button on the case page."""

from __future__ import annotations

import zipfile

import pytest
from django.urls import reverse

from verify.bundle.verify import verify_bundle

BUTTON = "Download evidence bundle"


def test_an_editor_downloads_the_bag_as_a_zip_that_checks(client, people, published_case, not_stamping, tmp_path):
    client.force_login(people["editor"])
    response = client.get(reverse("admin:verify_case_bundle", args=[published_case.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    name = f"case-{published_case.pk}-evidence-bundle.zip"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    path = tmp_path / name
    path.write_bytes(b"".join(response.streaming_content))
    response.close()
    with zipfile.ZipFile(path) as archive:
        info = archive.read(f"case-{published_case.pk}-evidence-bundle/bag-info.txt").decode()
    assert f"Exported-By: {people['editor'].get_username()} (Download evidence bundle)" in info
    outcome = verify_bundle(path)
    assert outcome.ok, outcome.lines()


def test_the_download_leaves_no_file_behind(client, people, published_case, not_stamping, media_root):
    client.force_login(people["editor"])
    response = client.get(reverse("admin:verify_case_bundle", args=[published_case.pk]))
    b"".join(response.streaming_content)
    response.close()
    assert list((media_root / "bundles").iterdir()) == []


@pytest.mark.parametrize("role", ["desk", "reviewer"])
def test_only_editors_may_download_a_bundle(client, people, published_case, role):
    client.force_login(people[role])
    assert client.get(reverse("admin:verify_case_bundle", args=[published_case.pk])).status_code == 403


@pytest.mark.parametrize(("role", "shown"), [("editor", True), ("desk", False), ("reviewer", False)])
def test_the_case_page_offers_the_button_to_editors(client, people, published_case, role, shown):
    client.force_login(people[role])
    page = client.get(reverse("admin:verify_case_change", args=[published_case.pk])).content.decode()
    assert (BUTTON in page) is shown
    if shown:
        assert reverse("admin:verify_case_bundle", args=[published_case.pk]) in page


def test_an_unknown_case_is_not_found(client, people, db):
    client.force_login(people["editor"])
    assert client.get(reverse("admin:verify_case_bundle", args=[999999])).status_code == 404
