"""Each role's home page: the desk's new, triage and overdue cases, a reviewer's queue, an editor's approvals."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_case, make_user
from verify import services
from verify.desk import home
from verify.models import ChecklistItem
from verify.workflow import Stage


def section_links(client, user) -> dict[str, list[str]]:
    """Each home section's id and the case pages its rows link to, as the page shows them."""
    client.force_login(user)
    page = client.get(reverse("admin:index")).content.decode()
    sections = re.findall(r'<section class="vd-home" id="([\w-]+)".*?</section>', page, re.S)
    bodies = re.split(r'<section class="vd-home" id="[\w-]+"', page)[1:]
    return {
        name: re.findall(r'<tr>\s*<td><a href="([^"]+)">', body.split("</section>")[0])
        for name, body in zip(sections, bodies, strict=True)
    }


def change(case) -> str:
    return reverse("admin:verify_case_change", args=[case.pk])


def proposed(desk, reviewer, **fields):
    case = make_case(by=desk, stage="triage", **fields)
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case = services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.UNKNOWN)
    services.propose_verdict(case=case, by=reviewer, rating="false", confidence="low", summary="s", rationale="r")
    return case


def test_it_shows_the_desk_new_triage_and_overdue_cases(client, desk, reviewer):
    new = make_case(by=desk, title="Fresh tip")
    triage = make_case(by=desk, stage="triage", title="Being sorted")
    late = make_case(by=desk, stage="in_review", deadline=timezone.now() - timedelta(hours=2))
    make_case(by=desk, stage="dismissed", deadline=timezone.now() - timedelta(hours=2))

    sections = section_links(client, desk)

    assert sections == {"home-new": [change(new)], "home-triage": [change(triage)], "home-overdue": [change(late)]}


def test_it_shows_a_reviewer_their_queue_only(client, desk, reviewer, other_reviewer):
    mine = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=mine, user=reviewer, by=desk)
    theirs = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=theirs, user=other_reviewer, by=desk)
    make_case(by=desk)

    assert section_links(client, reviewer) == {"home-my-queue": [change(mine)]}
    page = client.get(reverse("admin:index")).content.decode()
    assert f'action="{reverse("admin:verify_case_my_queue")}"' in page and 'value="Take next case"' in page


def test_it_shows_an_editor_the_verdicts_awaiting_their_approval(client, desk, reviewer, editor):
    waiting = proposed(desk, reviewer, title="Waiting")
    make_case(by=desk, stage="in_review")

    assert section_links(client, editor) == {"home-awaiting-approval": [change(waiting)]}
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:verify_case_review_verdict", args=[waiting.pk]) in page
    assert "v1 False, by rafa" in page


def test_it_leaves_out_of_an_editors_approvals_the_verdict_they_wrote(client, desk, editor, other_editor):
    editor.groups.add(*other_editor.groups.model.objects.filter(name="reviewer"))
    own = proposed(desk, editor)

    assert list(home.sections_for(editor)[-1].cases) == []
    assert [c.pk for c in home.sections_for(other_editor)[0].cases] == [own.pk]


def test_it_shows_a_superuser_every_roles_lists(db):
    root = make_user(username="root", is_superuser=True)
    assert [s.key for s in home.sections_for(root)] == ["new", "triage", "overdue", "my-queue", "awaiting-approval"]


def test_it_shows_ten_rows_and_links_to_the_rest(client, desk):
    for number in range(12):
        make_case(by=desk, title=f"Tip {number}")

    (new, *_) = home.sections_for(desk)
    assert (len(new.cases), new.total, new.more) == (home.SECTION_ROWS, 12, 2)
    client.force_login(desk)
    page = client.get(reverse("admin:index")).content.decode()
    assert f'2 more: <a href="{reverse("admin:verify_case_changelist")}?stage__exact=new">' in page


@pytest.mark.parametrize("role", ["desk", "reviewer", "editor"])
def test_it_says_so_when_a_list_is_empty(client, db, role):
    user = make_user(role)
    client.force_login(user)
    page = client.get(reverse("admin:index")).content.decode()
    for section in home.sections_for(user):
        assert section.empty in page


def home_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:index")).status_code == 200
    return len(queries)


def test_it_builds_the_home_page_in_the_same_number_of_queries_however_many_cases(client, db):
    root = make_user(username="root", is_superuser=True)
    desk, reviewer = make_user("desk"), make_user("reviewer")
    client.force_login(root)

    def populate(count):
        for _ in range(count):
            make_case(by=desk, deadline=timezone.now() - timedelta(hours=1))
            services.assign_reviewer(case=make_case(by=desk, stage="triage"), user=root, by=desk)
            proposed(desk, reviewer)

    populate(1)
    few = home_queries(client)
    populate(4)
    assert home_queries(client) == few
