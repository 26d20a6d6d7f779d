"""The notices' e-mails, sent by a worker: each tried until the mail server takes it, or given up with a reason.

`queue` writes a notice's e-mail beside it and, once that commits, sends the task that mails it; the
beat's sweep mails whatever is due besides (a broker that was down, a failed try whose retry came
round, a worker that died mid-send). Each try takes its e-mail by moving the next try past the time a
send can last, so two workers never send one at once; a worker that dies mid-send leaves it due again
when that hold lapses, so an e-mail may reach its reader twice but is never dropped unsaid.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from verify.notices.models import Notice, NoticeMail

log = logging.getLogger(__name__)
Status = NoticeMail.Status
# What a mail server that is down, refuses or hangs raises through Django's SMTP backend; a header
# Django will not send (BadHeaderError) is a ValueError. Anything else is a fault of ours: it is left
# to the task's failure, and the e-mail is tried again when its hold lapses.
SEND_ERRORS = (smtplib.SMTPException, OSError, ValueError)
# The sweep stops taking e-mails after this long, leaving the rest to its next run.
SWEEP_SECONDS = 60
MAX_RETRY_SECONDS = 3600


def queue(notices: Iterable[Notice], *, subject: str, body: str) -> list[NoticeMail]:
    """Write the e-mail of each notice whose recipient has an address, and mail them once they commit."""
    mails = NoticeMail.objects.bulk_create(
        NoticeMail(notice=notice, to=notice.recipient.email, subject=subject, body=body)
        for notice in notices
        if notice.recipient.email
    )
    ids = [mail.pk for mail in mails]
    if ids:
        transaction.on_commit(lambda: _send_task(ids))
    return mails


def _send_task(mail_ids: list[int]) -> None:
    from verify.pipeline import BROKER_ERRORS
    from workers.tasks import send_notice_mail

    try:
        send_notice_mail.delay(mail_ids)
    except BROKER_ERRORS as exc:
        log.warning("Broker unreachable (%s); the mail sweep will send e-mails %s", exc, mail_ids)


def send_due(mail_ids: Iterable[int] | None = None) -> int:
    """Try once each e-mail that is due: those of `mail_ids`, or every one. How many the mail server took."""
    _give_up_on_dead_sends()
    due = NoticeMail.objects.filter(status=Status.QUEUED, next_try_at__lte=timezone.now())
    if mail_ids is not None:
        due = due.filter(pk__in=list(mail_ids))
    stop_at = time.monotonic() + SWEEP_SECONDS
    sent = 0
    for mail_id in due.order_by("next_try_at", "pk").values_list("pk", flat=True):
        if time.monotonic() > stop_at:
            break
        sent += send_one(mail_id)
    return sent


def send_one(mail_id: int) -> bool:
    """Take the e-mail if it is due and no other worker has it, send it, and record the outcome."""
    now = timezone.now()
    taken = NoticeMail.objects.filter(
        pk=mail_id, status=Status.QUEUED, next_try_at__lte=now, attempts__lt=settings.NOTICE_MAIL_ATTEMPTS
    ).update(next_try_at=now + _hold(), attempts=F("attempts") + 1)
    if not taken:
        return False
    mail = NoticeMail.objects.get(pk=mail_id)
    try:
        send_mail(mail.subject, mail.body, settings.DEFAULT_FROM_EMAIL, [mail.to])
    except SEND_ERRORS as exc:
        _record_failure(mail, _reason(exc))
        return False
    NoticeMail.objects.filter(pk=mail_id).update(status=Status.SENT, sent_at=timezone.now(), error="")
    return True


def _hold() -> timedelta:
    """How long a try keeps its e-mail from others: longer than a send can wait on the mail server."""
    return timedelta(seconds=3 * settings.EMAIL_TIMEOUT + 60)


def _reason(exc: BaseException) -> str:
    # smtplib turns a read that timed out into "Connection unexpectedly closed".
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"The mail server did not answer within EMAIL_TIMEOUT ({settings.EMAIL_TIMEOUT} s)"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = "; ".join(f"{to}, {_answer(*answer)}" for to, answer in exc.recipients.items())
        return f"The mail server refused the address: {refusals}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"The mail server answered with an error: {_answer(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPException):
        return f"The mail server answered with an error: {exc}"
    if isinstance(exc, OSError):
        return f"The mail server could not be reached: {exc}"
    return f"The e-mail could not be made: {exc}"


def _answer(code: int, text: bytes | str) -> str:
    """An SMTP answer as the server wrote it: `550 no such mailbox`."""
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _record_failure(mail: NoticeMail, reason: str) -> None:
    if mail.attempts >= settings.NOTICE_MAIL_ATTEMPTS:
        error = f"Not sent after {mail.attempts} tries. The last: {reason}"
        NoticeMail.objects.filter(pk=mail.pk).update(status=Status.FAILED, error=error)
        log.error("E-mail %s to %s about notice %s: %s", mail.pk, mail.to, mail.notice_id, error)
        return
    wait = min(settings.NOTICE_MAIL_RETRY_SECONDS * 2 ** (mail.attempts - 1), MAX_RETRY_SECONDS)
    NoticeMail.objects.filter(pk=mail.pk).update(next_try_at=timezone.now() + timedelta(seconds=wait), error=reason)
    log.warning(
        "E-mail %s to %s not sent (try %s), trying again in %s s: %s", mail.pk, mail.to, mail.attempts, wait, reason
    )


def _give_up_on_dead_sends() -> None:
    """E-mails whose every try ended with its worker dying (the hold lapsed, no outcome): not sent."""
    dead = NoticeMail.objects.filter(
        status=Status.QUEUED, attempts__gte=settings.NOTICE_MAIL_ATTEMPTS, next_try_at__lte=timezone.now()
    )
    for mail_id, attempts in dead.values_list("pk", "attempts"):
        error = f"Not sent: the worker stopped during each of its {attempts} tries."
        NoticeMail.objects.filter(pk=mail_id, status=Status.QUEUED).update(status=Status.FAILED, error=error)
        log.error("E-mail %s: %s", mail_id, error)
