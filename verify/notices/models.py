"""A notice: one line in a person's notices page, about one case, until they read it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Notice(models.Model):
    class Kind(models.TextChoices):
        ASSIGNED = "assigned", "Assigned to you"
        AWAITING_APPROVAL = "awaiting_approval", "Verdict awaiting approval"
        SENT_BACK = "sent_back", "Verdict sent back"
        PUBLISHED = "published", "Case published"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    case = models.ForeignKey("verify.Case", on_delete=models.CASCADE, related_name="notices")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notice_unread")]
        # Each person sees only their own notices (verify/notices/views.py); no role grants the others.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


def mark_case_read(user, case) -> int:
    """Mark read the person's notices about a case they have just opened; how many there were."""
    return Notice.objects.filter(recipient=user, case=case, read_at__isnull=True).update(read_at=timezone.now())


class NoticeMail(models.Model):
    """The e-mail of one notice, sent by a worker (verify/notices/mailing.py), never by the request that acted.

    Written with its notice, so that a mail server that is slow, down or refusing holds up nobody's
    page and loses no e-mail: it waits queued and is tried again, `NOTICE_MAIL_ATTEMPTS` times in all,
    each failure's reason kept; then it is marked not sent, with the last reason.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not sent"

    notice = models.OneToOneField(Notice, on_delete=models.CASCADE, related_name="mail")
    to = models.EmailField()
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Not tried before this: while a worker has it in hand, and after a failed try.
    next_try_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the last try failed.")

    class Meta:
        indexes = [models.Index(fields=["status", "next_try_at"], name="notice_mail_due")]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.get_status_display()}: {self.subject} to {self.to}"
