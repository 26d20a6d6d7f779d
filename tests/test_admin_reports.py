"""Exports from the desk: the list's current filter as CSV or JSON, a case's PDF and JSON-LD, by permission."""

import pytest
from django.urls import reverse

from tests.factories import make_case
from verify.seeds import load_seeds

pytestmark = pytest.mark.usefixtures("media_root")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def test_it_exports_the_lists_current_filter_as_csv(editor_client, db):
    load_seeds()
    response = editor_client.get(reverse("admin:verify_case_export", args=["csv"]) + "?stage__exact=published")
    assert response.streaming
    lines = b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + 2  # header and the two published seed cases


def test_it_refuses_an_empty_filter_with_a_message(editor_client, db):
    load_seeds()
    response = editor_client.get(
        reverse("admin:verify_case_export", args=["json"]) + "?stage__exact=collecting", follow=True
    )
    assert "No cases match the current filter; nothing was exported" in [str(m) for m in response.context["messages"]]


def test_it_refuses_an_unknown_export_format(editor_client, db):
    make_case()
    response = editor_client.get(reverse("admin:verify_case_export", args=["xlsx"]), follow=True)
    assert "Unknown export format 'xlsx'" in str(list(response.context["messages"]))


def test_it_keeps_exports_from_roles_without_the_permission(client, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("admin:verify_case_export", args=["csv"])).status_code == 403


def test_it_downloads_a_published_cases_pdf_and_json_ld(editor_client, db):
    load_seeds()
    from verify.models import Case

    case = Case.objects.get(seed_key="asian-origin-soldiers-photos")
    pdf = editor_client.get(reverse("admin:verify_case_report", args=[case.pk, "pdf"]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    jsonld = editor_client.get(reverse("admin:verify_case_report", args=[case.pk, "jsonld"]))
    assert b'"mediaAuthenticityCategory": "DecontextualizedContent"' in jsonld.content


def test_it_refuses_json_ld_for_an_unpublished_case(editor_client, db):
    load_seeds()
    from verify.models import Case

    case = Case.objects.get(seed_key="sergeevka-videos")
    response = editor_client.get(reverse("admin:verify_case_report", args=[case.pk, "jsonld"]), follow=True)
    assert "not published" in str(list(response.context["messages"]))


def test_it_shows_export_buttons_only_to_those_who_may_export(client, editor, desk, db):
    client.force_login(editor)
    assert (
        reverse("admin:verify_case_export", args=["csv"])
        in client.get(reverse("admin:verify_case_changelist")).content.decode()
    )
    client.force_login(desk)
    assert (
        reverse("admin:verify_case_export", args=["csv"])
        not in client.get(reverse("admin:verify_case_changelist")).content.decode()
    )
