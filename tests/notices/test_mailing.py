"""A worker sends the notices' e-mails: a mail server that is down, refuses or hangs loses none of them."""

import smtplib
import socket
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from verify.notices import mailing
from verify.notices.models import Notice, NoticeMail
from workers.tasks import send_notice_mail

Status = NoticeMail.Status


def sweep() -> int:
    """What beat runs every minute."""
    return send_notice_mail.apply().get()


def make_due(mail_row: NoticeMail) -> None:
    NoticeMail.objects.filter(pk=mail_row.pk).update(next_try_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def refusing(monkeypatch):
    """A mail server that refuses every message, counting the tries."""
    tries = []

    def refuse(subject, body, sender, to):
        tries.append(to)
        raise smtplib.SMTPRecipientsRefused({to[0]: (450, b"mailbox busy, try later")})

    monkeypatch.setattr(mailing, "send_mail", refuse)
    return tries


def test_it_sends_the_mail_from_the_task_and_marks_it_sent(walk, reviewer, site_url):
    case = walk.assigned()

    sent = NoticeMail.objects.get()
    assert (sent.status, sent.attempts, sent.error) == (Status.SENT, 1, "")
    assert sent.sent_at is not None and sent.notice.recipient == reviewer
    (message,) = mail.outbox
    assert (message.to, message.subject) == ([reviewer.email], sent.subject)
    assert message.body == sent.body
    assert f"Open the case: {site_url}{case.get_absolute_url()}" in message.body


def test_it_tries_a_refused_mail_again_later_and_sends_it_once_the_server_takes_it(walk, refusing, monkeypatch):
    walk.assigned()
    queued = NoticeMail.objects.get()
    assert (queued.status, queued.attempts) == (Status.QUEUED, 1)
    assert 55 <= (queued.next_try_at - timezone.now()).total_seconds() <= 60

    # Not due yet: the sweep leaves it.
    assert sweep() == 0 and len(refusing) == 1

    monkeypatch.undo()
    make_due(queued)
    assert sweep() == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.error) == (Status.SENT, 2, "")
    assert len(mail.outbox) == 1


def test_it_waits_twice_as_long_after_each_failure_up_to_an_hour(walk, refusing, settings):
    settings.NOTICE_MAIL_ATTEMPTS = 12
    walk.assigned()
    row = NoticeMail.objects.get()
    waits = []
    for _ in range(8):
        waits.append(round((row.next_try_at - timezone.now()).total_seconds() / 60))
        make_due(row)
        sweep()
        row.refresh_from_db()

    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]


def test_it_gives_up_after_the_last_try_and_keeps_why(walk, refusing, settings, caplog):
    settings.NOTICE_MAIL_ATTEMPTS = 3
    walk.assigned()
    row = NoticeMail.objects.get()
    for _ in range(4):
        make_due(row)
        sweep()

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.FAILED, 3)
    assert row.error.startswith("Not sent after 3 tries. The last: The mail server refused the address")
    assert len(refusing) == 3
    assert f"E-mail {row.pk} to rafa@example.org about notice {row.notice_id}: Not sent after 3 tries" in caplog.text


def test_a_broker_that_is_down_leaves_the_mail_for_the_sweep(walk, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_notice_mail, "delay", down)
    case = walk.assigned()

    assert case.assignments.count() == 1 and Notice.objects.count() == 1
    row = NoticeMail.objects.get()
    assert (row.status, row.attempts) == (Status.QUEUED, 0)
    assert f"the mail sweep will send e-mails [{row.pk}]" in caplog.text
    assert mail.outbox == []

    assert sweep() == 1
    assert [m.to for m in mail.outbox] == [["rafa@example.org"]]


def test_a_mail_in_another_workers_hands_is_not_sent_twice(walk, monkeypatch):
    monkeypatch.setattr(send_notice_mail, "delay", lambda ids: None)
    walk.assigned()
    row = NoticeMail.objects.get()
    # Another worker has taken it: its hold runs for longer than a send may wait.
    NoticeMail.objects.filter(pk=row.pk).update(attempts=1, next_try_at=timezone.now() + timedelta(minutes=2))

    assert mailing.send_one(row.pk) is False
    assert sweep() == 0 and mail.outbox == []


def test_a_mail_whose_worker_died_is_sent_again_and_given_up_after_the_last_try(walk, monkeypatch, settings):
    monkeypatch.setattr(send_notice_mail, "delay", lambda ids: None)
    settings.NOTICE_MAIL_ATTEMPTS = 2
    walk.assigned()
    row = NoticeMail.objects.get()
    # Its worker took it and died: no outcome, and the hold has lapsed.
    NoticeMail.objects.filter(pk=row.pk).update(attempts=1, next_try_at=timezone.now() - timedelta(seconds=1))
    assert sweep() == 1
    assert len(mail.outbox) == 1

    NoticeMail.objects.filter(pk=row.pk).update(status=Status.QUEUED, attempts=2, next_try_at=timezone.now())
    assert sweep() == 0
    row.refresh_from_db()
    assert (row.status, row.error) == (Status.FAILED, "Not sent: the worker stopped during each of its 2 tries.")


@pytest.fixture
def silent_server():
    """A TCP server that accepts a connection and never says a word, as a hung mail server does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("server", ["silent", "closed"])
def test_it_records_a_mail_server_that_hangs_or_is_down_through_the_smtp_backend(
    walk, settings, request, server, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = request.getfixturevalue("silent_server") if server == "silent" else closed_port()
    settings.EMAIL_TIMEOUT = 1

    case = walk.assigned()

    assert case.assignments.count() == 1
    row = NoticeMail.objects.get()
    assert (row.status, row.attempts) == (Status.QUEUED, 1)
    if server == "silent":
        assert row.error == "The mail server did not answer within EMAIL_TIMEOUT (1 s)"
    else:
        assert row.error.startswith("The mail server could not be reached: [Errno 111] Connection refused")
