"""Who hears of an assignment, a verdict awaiting approval, a verdict sent back and a publication.

`services.record_event` hands every event here; the four kinds below are announced once the
change is committed (a rolled-back change tells nobody): a `Notice` for each person concerned
and, for those with an address, an e-mail linking to the case on `SITE_URL`, which a worker
sends (verify/notices/mailing.py). Nothing here can undo or break the change it reports: the
request never waits on the mail server, and a failure is kept, tried again and logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from verify.desk.formats import moment, person
from verify.models import Assignment, Case, CaseEvent, Verdict
from verify.notices import mailing
from verify.notices.models import Notice

Kind = CaseEvent.Kind
# The backend that holds the desk's permissions (the other one only guards sign-in).
PERMISSIONS_BACKEND = "django.contrib.auth.backends.ModelBackend"


@dataclass(frozen=True)
class Announcement:
    kind: str
    subject: str
    text: str
    recipients: tuple
    # More for the e-mail, which is read away from the desk.
    details: str = ""


def event_recorded(event: CaseEvent) -> None:
    """Announce `event` after the transaction that recorded it commits, if it is one people hear of."""
    if event.kind in ANNOUNCERS:
        # A lambda, not a partial: Django names a failed robust callback by its __qualname__.
        transaction.on_commit(lambda: announce(event.pk), robust=True)


def announce(event_id: int) -> list[Notice]:
    """Write the notices of one committed event and their e-mails, which a worker then sends."""
    event = CaseEvent.objects.select_related("case", "actor").get(pk=event_id)
    announcement = ANNOUNCERS[event.kind](event)
    if announcement is None:
        return []
    case = event.case
    body = "\n\n".join(filter(None, [announcement.text, announcement.details, f"Open the case: {case_address(case)}"]))
    with transaction.atomic():
        notices = Notice.objects.bulk_create(
            Notice(recipient=user, kind=announcement.kind, case=case, text=announcement.text, created_at=event.at)
            for user in announcement.recipients
        )
        mailing.queue(notices, subject=f"[Verify Desk] {announcement.subject}", body=body)
    return notices


def case_address(case: Case) -> str:
    """The case page's full address on the desk as it is served (`SITE_URL`)."""
    return f"{settings.SITE_URL}{case.get_absolute_url()}"


def _people(users: Iterable, *, besides) -> tuple:
    """`users` without the one who acted (nobody is told of their own move), each once, in order."""
    seen, people = set(), []
    for user in users:
        if user is not None and user.is_active and user.pk not in seen and user != besides:
            seen.add(user.pk)
            people.append(user)
    return tuple(people)


def _title(case: Case) -> str:
    return f"case #{case.pk}: {case.title}"


def _verdict(event: CaseEvent) -> Verdict | None:
    return (
        Verdict.objects.select_related("author").filter(case_id=event.case_id, number=event.new.get("version")).first()
    )


def _assigned(event: CaseEvent) -> Announcement | None:
    user = get_user_model().objects.filter(username=event.new.get("user")).first()
    recipients = _people([user], besides=event.actor)
    if not recipients:
        return None
    role = Assignment.Role(event.new["role"]).label.lower()
    case = event.case
    text = f"{person(event.actor)} made you {role} on {_title(case)}."
    if case.deadline:
        text += f" Deadline: {moment(case.deadline)}."
    subject = f"Case #{case.pk} assigned to you"
    return Announcement(Notice.Kind.ASSIGNED, subject, text, recipients, details=f"Claim: {case.claim}")


def approvers():
    """The active people who may approve a verdict: editors, and superusers."""
    users = get_user_model().objects.with_perm("verify.approve_verdict", backend=PERMISSIONS_BACKEND)
    return users.order_by("username")


def _proposed(event: CaseEvent) -> Announcement | None:
    verdict = _verdict(event)
    recipients = _people(approvers(), besides=event.actor)
    if verdict is None or not recipients:
        return None
    case = event.case
    text = (
        f"{person(event.actor)} proposed verdict v{verdict.number} ({verdict.get_rating_display()}) "
        f"on {_title(case)}. It awaits the approval of an editor who did not write it."
    )
    return Announcement(Notice.Kind.AWAITING_APPROVAL, f"Case #{case.pk}: a verdict awaits approval", text, recipients)


def _sent_back(event: CaseEvent) -> Announcement | None:
    verdict = _verdict(event)
    case = event.case
    lead = case.assignments.filter(role=Assignment.Role.LEAD).select_related("user").first()
    recipients = _people([verdict.author if verdict else None, lead.user if lead else None], besides=event.actor)
    if not recipients:
        return None
    number = f" v{verdict.number}" if verdict else ""
    # The pipeline sends a verdict back when a file arrives after it was proposed; its note says so.
    sender = f"{person(event.actor)} sent verdict" if event.actor else "The desk sent verdict"
    text = f"{sender}{number} on {_title(case)} back to review. Reason: {event.note}"
    return Announcement(Notice.Kind.SENT_BACK, f"Case #{case.pk}: your verdict was sent back", text, recipients)


def _published(event: CaseEvent) -> Announcement | None:
    verdict = _verdict(event)
    case = event.case
    reviewers = [a.user for a in case.assignments.select_related("user").order_by("role")]
    author = verdict.author if verdict else None
    recipients = _people([*reviewers, author, case.created_by], besides=event.actor)
    if not recipients:
        return None
    rating = f" ({verdict.get_rating_display()})" if verdict else ""
    text = f"{person(event.actor)} approved verdict v{event.new.get('version')}{rating}; {_title(case)} is published."
    return Announcement(Notice.Kind.PUBLISHED, f"Case #{case.pk} is published", text, recipients)


ANNOUNCERS: dict[str, Callable[[CaseEvent], Announcement | None]] = {
    Kind.ASSIGNED: _assigned,
    Kind.VERDICT_PROPOSED: _proposed,
    Kind.VERDICT_SENT_BACK: _sent_back,
    Kind.VERDICT_APPROVED: _published,
}
