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
