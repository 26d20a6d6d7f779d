"""The notices page, the unread count in the header, opening a notice and marking notices read."""

import smtplib

from django.urls import reverse

from verify.notices import mailing
from verify.notices.models import Notice, NoticeMail


def test_it_lists_a_reviewers_notices_and_counts_the_unread_in_the_header(client, walk, reviewer):
    case = walk.assigned()
    client.force_login(reviewer)

    page = client.get(reverse("notices")).content.decode()
    assert "1 unread." in page
    assert f"made you lead reviewer on case #{case.pk}" in page
    assert reverse("notice-open", args=[Notice.objects.get().pk]) in page
    header = client.get(reverse("admin:index")).content.decode()
    assert '<a class="vd-notices-link" href="/admin/notices/">Notices (<strong>1</strong> unread)</a>' in header


def test_it_tells_the_recipient_when_their_e_mail_is_late_or_was_not_sent(client, walk, reviewer, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({reviewer.email: (550, b"no such mailbox")})

    monkeypatch.setattr(mailing, "send_mail", refuse)
    walk.assigned()
    client.force_login(reviewer)

    page = client.get(reverse("notices")).content.decode()
    assert "The e-mail to rafa@example.org is not sent yet (1 try); it is tried again" in page
    NoticeMail.objects.update(status=NoticeMail.Status.FAILED, error="Not sent after 8 tries. The last: refused")
    page = client.get(reverse("notices")).content.decode()
    assert "The e-mail to rafa@example.org was not sent: Not sent after 8 tries. The last: refused" in page


def test_it_says_nothing_of_an_e_mail_that_went_out(client, walk, reviewer):
    walk.assigned()
    client.force_login(reviewer)

    assert NoticeMail.objects.get().status == NoticeMail.Status.SENT
    assert "vd-notice-mail" not in client.get(reverse("notices")).content.decode()


def test_it_marks_a_notice_read_when_it_is_opened_and_goes_to_the_case(client, walk, reviewer):
    case = walk.assigned()
    notice = Notice.objects.get()
    client.force_login(reviewer)

    response = client.get(reverse("notice-open", args=[notice.pk]))

    assert response.status_code == 302 and response["Location"] == case.get_absolute_url()
    notice.refresh_from_db()
    assert notice.read_at is not None
    header = client.get(reverse("notices")).content.decode()
    assert "Nothing unread." in header and "unread)</a>" not in header


def test_it_marks_a_cases_notices_read_when_its_page_is_opened_and_leaves_the_others(client, walk, reviewer):
    first, second = walk.assigned(), walk.assigned(title="Second")
    client.force_login(reviewer)

    page = client.get(reverse("admin:verify_case_change", args=[first.pk])).content.decode()

    assert set(Notice.objects.filter(read_at__isnull=True).values_list("case", flat=True)) == {second.pk}
    assert "Notices (<strong>1</strong> unread)" in page  # the header counts what is left


def test_it_marks_one_or_all_notices_read(client, walk, committed, desk, reviewer):
    first, second, third = walk.assigned(), walk.assigned(title="Second"), walk.assigned(title="Third")
    notices = {n.case_id: n for n in Notice.objects.all()}
    client.force_login(reviewer)

    client.post(reverse("notices-read"), {"notice": notices[first.pk].pk})
    assert set(Notice.objects.filter(read_at__isnull=True).values_list("case", flat=True)) == {second.pk, third.pk}
    client.post(reverse("notices-read"))
    assert Notice.objects.filter(read_at__isnull=True).count() == 0


def test_it_keeps_a_notice_to_its_recipient(client, walk, other_reviewer):
    walk.assigned()
    notice = Notice.objects.get()
    client.force_login(other_reviewer)

    assert client.get(reverse("notice-open", args=[notice.pk])).status_code == 404
    client.post(reverse("notices-read"), {"notice": notice.pk})
    notice.refresh_from_db()
    assert notice.read_at is None
    assert "No notices yet." in client.get(reverse("notices")).content.decode()


def test_it_asks_who_you_are_before_showing_notices(client):
    response = client.get(reverse("notices"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
