"""Who is told of an assignment, a verdict awaiting approval, a send-back and a publication, and what."""

import io
import logging
import smtplib

import pytest
from django.core import mail
from django.db import transaction

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from verify import intake, services
from verify.notices.models import Notice, NoticeMail

Kind = Notice.Kind


def notices_of(case, kind):
    return {(n.recipient.username, n.kind) for n in Notice.objects.filter(case=case, kind=kind)}


def test_it_tells_the_assigned_reviewer_and_nobody_else(walk, desk, reviewer, other_reviewer, editor, site_url):
    case = walk.assigned()

    assert list(Notice.objects.values_list("recipient__username", "kind", "case")) == [("rafa", Kind.ASSIGNED, case.pk)]
    notice = Notice.objects.get()
    assert notice.read_at is None
    assert f"made you lead reviewer on case #{case.pk}: Kursk footage" in notice.text
    assert [m.to for m in mail.outbox] == [[reviewer.email]]
    assert mail.outbox[0].subject == f"[Verify Desk] Case #{case.pk} assigned to you"
    assert f"{site_url}/admin/verify/case/{case.pk}/change/" in mail.outbox[0].body


def test_it_does_not_tell_a_reviewer_who_took_the_case_themself(committed, desk, reviewer):
    make_case(by=desk, stage="triage")
    case = committed(services.take_next_case, by=reviewer)

    assert case.assignments.get().user == reviewer
    assert Notice.objects.count() == 0 and mail.outbox == []


def test_it_tells_a_second_reviewer_and_the_lead_is_not_told_again(walk, committed, desk, reviewer, other_reviewer):
    case = walk.assigned()
    committed(services.assign_reviewer, case=case, user=other_reviewer, by=desk, role="second")

    assert notices_of(case, Kind.ASSIGNED) == {("rafa", Kind.ASSIGNED), ("rina", Kind.ASSIGNED)}
    assert "made you second reviewer" in Notice.objects.get(recipient=other_reviewer).text


def test_it_tells_every_editor_who_may_approve_a_proposal_but_not_the_proposer_or_others(
    walk, desk, reviewer, other_reviewer, editor, other_editor, superuser, site_url
):
    make_user("editor", username="gone", is_active=False)
    mail.outbox.clear()
    case = walk.proposed()

    assert notices_of(case, Kind.AWAITING_APPROVAL) == {
        ("eli", Kind.AWAITING_APPROVAL),
        ("emma", Kind.AWAITING_APPROVAL),
        ("root", Kind.AWAITING_APPROVAL),
    }
    text = Notice.objects.filter(kind=Kind.AWAITING_APPROVAL).first().text
    assert f"proposed verdict v1 (Misleading / miscaptioned) on case #{case.pk}: Kursk footage" in text
    awaiting = [m for m in mail.outbox if "awaits approval" in m.subject]
    assert sorted(m.to[0] for m in awaiting) == ["eli@example.org", "emma@example.org", "root@example.org"]
    assert all(f"{site_url}{case.get_absolute_url()}" in m.body for m in awaiting)


def test_it_does_not_ask_an_editor_to_approve_their_own_proposal(committed, desk, editor, other_editor):
    # An editor who also reviews may propose; they cannot approve what they wrote, so they are not asked.
    editor.groups.add(*other_editor.groups.model.objects.filter(name="reviewer"))
    case = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=case, user=editor, by=desk)
    case = services.transition_case(case=case, to="in_review", by=desk)
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=editor, status="unknown")
    committed(
        services.propose_verdict, case=case, by=editor, rating="false", confidence="low", summary="s", rationale="r"
    )

    assert notices_of(case, Kind.AWAITING_APPROVAL) == {("emma", Kind.AWAITING_APPROVAL)}


def test_it_tells_the_reviewer_a_verdict_was_sent_back_with_the_reason(walk, committed, reviewer, editor, site_url):
    case = walk.proposed()
    mail.outbox.clear()
    committed(services.send_back_verdict, case=case, by=editor, reason="The 2022 upload is a re-post; find the first.")

    notice = Notice.objects.get(kind=Kind.SENT_BACK)
    assert notice.recipient == reviewer
    assert notice.text.endswith("Reason: The 2022 upload is a re-post; find the first.")
    assert [m.to for m in mail.outbox] == [[reviewer.email]]
    assert "Reason: The 2022 upload is a re-post; find the first." in mail.outbox[0].body
    assert f"{site_url}{case.get_absolute_url()}" in mail.outbox[0].body


def test_it_tells_the_reviewer_when_a_new_file_sends_their_verdict_back(
    walk, committed, desk, reviewer, media_root, tasks_not_sent
):
    case = walk.proposed()
    late = io.BytesIO(jpeg_bytes(size=(64, 48)))
    committed(intake.ingest_stream, case=case, source=late, original_name="late.jpg", by=desk, origin="tip")

    notice = Notice.objects.get(kind=Kind.SENT_BACK)
    assert notice.recipient == reviewer
    assert "The desk sent verdict v1" in notice.text and "late.jpg" in notice.text


def test_it_tells_the_case_people_of_the_publication_but_not_the_approver(
    walk, committed, desk, reviewer, other_reviewer, editor, other_editor
):
    case = walk.proposed()
    committed(services.assign_reviewer, case=case, user=other_reviewer, by=desk, role="second")
    mail.outbox.clear()
    committed(services.approve_verdict, case=case, by=editor)

    assert notices_of(case, Kind.PUBLISHED) == {
        ("dana", Kind.PUBLISHED),
        ("rafa", Kind.PUBLISHED),
        ("rina", Kind.PUBLISHED),
    }
    assert f"case #{case.pk}: Kursk footage is published" in Notice.objects.filter(kind=Kind.PUBLISHED).first().text
    assert sorted(m.to[0] for m in mail.outbox) == ["dana@example.org", "rafa@example.org", "rina@example.org"]


def test_it_tells_nobody_when_the_change_is_rolled_back(desk, reviewer, django_capture_on_commit_callbacks):
    case = make_case(by=desk, stage="triage")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.assign_reviewer(case=case, user=reviewer, by=desk)
        raise RuntimeError("the request failed after the assignment")

    assert case.assignments.count() == 0
    assert Notice.objects.count() == 0 and mail.outbox == []


def test_it_keeps_the_change_and_the_notice_when_the_mail_server_refuses(walk, caplog, reviewer, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({reviewer.email: (550, b"mailbox unavailable")})

    monkeypatch.setattr("verify.notices.mailing.send_mail", refuse)
    with caplog.at_level(logging.WARNING, logger="verify.notices.mailing"):
        case = walk.assigned()

    assert case.assignments.get().user == reviewer
    notice = Notice.objects.get()
    assert notice.recipient == reviewer
    assert (notice.mail.status, notice.mail.attempts) == (NoticeMail.Status.QUEUED, 1)
    assert notice.mail.error == "The mail server refused the address: rafa@example.org, 550 mailbox unavailable"
    assert "to rafa@example.org not sent (try 1), trying again in 60 s" in caplog.text


def test_it_writes_a_notice_to_someone_without_an_address_and_sends_no_mail(walk, reviewer):
    reviewer.email = ""
    reviewer.save()
    walk.assigned()

    assert Notice.objects.get().recipient == reviewer
    assert mail.outbox == [] and NoticeMail.objects.count() == 0
