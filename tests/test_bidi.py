"""Isolating user text that holds bidi controls: closed, wrapped in FSI…PDI, and otherwise left as it is."""

import pytest
from django.urls import reverse

from tests.bidi import (
    FSI,
    HOSTILE_CAPTION,
    HOSTILE_CLAIM,
    HOSTILE_NAME,
    HOSTILE_TITLE,
    PDF,
    PDI,
    RLI,
    RLO,
    html_unisolated,
    unisolated,
)
from tests.factories import add_media, make_case, make_user
from verify import services
from verify.bidi import bdi, escape_in_json, isolate, isolate_all
from verify.models import Case, Flag, MediaItem
from verify.workflow import Stage


def test_it_leaves_text_without_bidi_controls_as_it_is():
    for text in ("", "Soldiers in Kursk", "جنود في كورسك", "=1+1"):
        assert isolate(text) == text


def test_it_closes_an_open_override_and_wraps_the_text():
    assert isolate(HOSTILE_TITLE) == f"{FSI}abc{RLO}exe.gpj{PDF}{PDI}"


def test_it_closes_an_open_isolate_before_the_embedding_it_holds():
    assert isolate(f"a{RLI}b{RLO}c") == f"{FSI}a{RLI}b{RLO}c{PDF}{PDI}{PDI}"


def test_it_puts_one_more_isolate_around_for_each_close_that_would_end_the_wrapper():
    assert isolate(HOSTILE_CAPTION) == f"{FSI}{FSI}{HOSTILE_CAPTION}{PDF}{PDI}"


def test_it_isolates_each_line_apart_since_a_line_break_ends_every_embedding():
    assert isolate(f"first {RLO}line\nplain line\r\nthird{RLO}") == (
        f"{FSI}first {RLO}line{PDF}{PDI}\nplain line\r\n{FSI}third{RLO}{PDF}{PDI}"
    )


@pytest.mark.parametrize("text", [HOSTILE_TITLE, HOSTILE_CLAIM, HOSTILE_CAPTION, f"{PDF}{PDF}x", f"{RLI}{RLI}{PDI}"])
def test_it_leaves_nothing_that_can_reorder_the_text_around_it(text):
    assert unisolated(text + " → next column")
    assert not unisolated(isolate(text) + " → next column")


@pytest.mark.parametrize("text", [HOSTILE_TITLE, HOSTILE_CLAIM, HOSTILE_CAPTION, "plain"])
def test_it_changes_nothing_more_when_isolating_twice(text):
    assert isolate(isolate(text)) == isolate(text)


def test_it_isolates_every_string_of_json_data_but_not_its_keys():
    data = {HOSTILE_TITLE: [HOSTILE_TITLE, 3, None, {"caption": HOSTILE_CAPTION}]}
    assert isolate_all(data) == {
        HOSTILE_TITLE: [isolate(HOSTILE_TITLE), 3, None, {"caption": isolate(HOSTILE_CAPTION)}]
    }


def test_it_escapes_bidi_controls_in_json_text():
    assert escape_in_json(f'{{"title": "{isolate(HOSTILE_TITLE)}"}}') == (
        '{"title": "\\u2068abc\\u202eexe.gpj\\u202c\\u2069"}'
    )


def test_it_gives_html_an_escaped_isolated_bdi_element():
    assert bdi(f"<b>{HOSTILE_TITLE}</b>") == f"<bdi>{FSI}&lt;b&gt;abc{RLO}exe.gpj&lt;/b&gt;{PDF}{PDI}</bdi>"
    assert bdi("") == "" and bdi(None) == ""


def test_it_gives_right_to_left_text_a_bdi_element_and_leaves_other_text_as_it_is():
    assert bdi("جنود في كورسك") == "<bdi>جنود في كورسك</bdi>"
    assert bdi("clip <1>.mp4") == "clip &lt;1&gt;.mp4"


# Pages: every text a person typed or a file carried is shown isolated


@pytest.fixture
def hostile_case(desk, editor):
    """A case whose title, claim, caption, file name, flag, answers and verdict carry bidi controls."""
    reviewer = make_user("reviewer", username="rafa", first_name=f"Rafa{RLO}", last_name="Lim")
    case = make_case(by=desk, stage="triage", title=HOSTILE_TITLE, claim=HOSTILE_CLAIM, claimed_place=HOSTILE_TITLE)
    services.update_case(case=case, by=desk, changes={"title": f"{HOSTILE_TITLE} (renamed)"})
    item = add_media(case, name=HOSTILE_NAME, kind=MediaItem.Kind.PHOTO)
    Flag.objects.create(case=case, media_item=item, kind="software", severity="medium", message=HOSTILE_CAPTION)
    services.add_sighting(
        case=case, by=desk, platform="telegram", account=HOSTILE_NAME, caption=HOSTILE_CAPTION, media_item=item
    )
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case = services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)
    for answer in case.checklist.all():
        services.answer_checklist_item(item=answer, by=reviewer, status="unknown", notes=HOSTILE_CAPTION)
    return case, reviewer


def pages(case, *names) -> list[str]:
    return [reverse(f"admin:verify_case_{name}", args=[case.pk]) for name in names]


def assert_isolated(client, urls):
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert RLO in html, f"{url} does not show the hostile text at all"
        assert html_unisolated(html) == [], url


def test_it_isolates_user_text_on_the_reviewers_pages(client, hostile_case):
    case, reviewer = hostile_case
    client.force_login(reviewer)
    assert_isolated(client, pages(case, "checklist", "propose_verdict", "change", "media_panel"))
    assert_isolated(client, [reverse("admin:verify_case_my_queue")])


def test_it_isolates_user_text_on_the_editors_and_desks_pages(client, hostile_case, desk, editor):
    case, reviewer = hostile_case
    link = {"kind": "link", "url": "https://archive.example/1", "label": HOSTILE_TITLE}
    services.propose_verdict(
        case=case,
        by=reviewer,
        rating="false",
        confidence="low",
        summary=HOSTILE_TITLE,
        rationale=f"{HOSTILE_CLAIM}\n\n{HOSTILE_CAPTION}",
        evidence=[link, {"kind": "sighting", "id": case.sightings.get().pk}],
    )
    client.force_login(editor)
    assert_isolated(client, pages(case, "review_verdict", "change"))
    client.force_login(desk)
    assert_isolated(client, pages(case, "assign", "change"))
    assert_isolated(
        client,
        [
            reverse("admin:verify_case_changelist"),
            reverse("admin:verify_case_workload"),
            reverse("admin:verify_caseevent_changelist"),
            reverse("admin:verify_mediaitem_changelist"),
            reverse("admin:verify_mediaitem_change", args=[case.media_items.get().pk]),
            reverse("admin:verify_case_history", args=[case.pk]),
        ],
    )


def test_it_isolates_the_case_in_the_admins_own_words(client, hostile_case, desk):
    case, _ = hostile_case
    client.force_login(desk)
    html = client.get(reverse("admin:verify_case_change", args=[case.pk])).content.decode()
    shown = isolate(f"{HOSTILE_TITLE} (renamed)")
    assert f"<title>#{case.pk} {shown} | Change case" in html
    # The workspace's header names the case (the admin's own subtitle would repeat it).
    assert f'<h1 class="vd-ws-title">#{case.pk} <bdi>{shown}</bdi></h1>' in html
    response = client.post(
        reverse("admin:verify_case_change", args=[case.pk]),
        {**change_form_data(case), "_continue": "1"},
        follow=True,
    )
    assert any(shown in str(m) for m in response.context["messages"])
    assert Case.objects.get(pk=case.pk).title == f"{HOSTILE_TITLE} (renamed)"


def change_form_data(case) -> dict:
    data = {
        "title": case.title,
        "claim": case.claim,
        "priority": case.priority,
        "claimed_place": case.claimed_place,
    }
    for prefix in ("sightings", "assignments", "checklist", "verdicts", "events"):
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    return data
