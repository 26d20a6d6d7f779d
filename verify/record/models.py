"""What fixity keeps: each stored file with the SHA-256 it must still have, and each pass of the check."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class StoredFile(models.Model):
    """One file the desk keeps under MEDIA_ROOT: an original (its SHA-256 is its name) or a derived file."""

    class Role(models.TextChoices):
        ORIGINAL = "original", "Original"
        DERIVED = "derived", "Derived file"

    media_item = models.ForeignKey("verify.MediaItem", on_delete=models.CASCADE, related_name="stored_files")
    role = models.CharField(max_length=10, choices=Role.choices)
    # Relative to MEDIA_ROOT, so that the archive can move.
    path = models.CharField(max_length=500, unique=True)
    # For a derived file, the reader that wrote it (re-running that reader regenerates it).
    extractor = models.CharField(max_length=40, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    recorded_at = models.DateTimeField(default=timezone.now)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Set when a check finds the bytes changed or gone; cleared when the file is repaired.
    damaged_at = models.DateTimeField(null=True, blank=True)
    damage = models.TextField(blank=True, help_text="What the check found.")

    class Meta:
        indexes = [models.Index(fields=["last_checked_at", "id"], name="stored_file_next_to_check")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.path}"

    @property
    def is_damaged(self) -> bool:
        return self.damaged_at is not None


class FixityCheck(models.Model):
    """One pass of the fixity check: the whole archive (`check_integrity`) or beat's next slice."""

    class Scope(models.TextChoices):
        FULL = "full", "Whole archive"
        SLICE = "slice", "Next slice"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    started_at = models.DateTimeField(default=timezone.now)
    seconds = models.FloatField(default=0)
    originals_checked = models.PositiveIntegerField(default=0)
    derived_checked = models.PositiveIntegerField(default=0)
    bytes_checked = models.PositiveBigIntegerField(default=0)
    events_checked = models.PositiveIntegerField(default=0)
    cases_checked = models.PositiveIntegerField(default=0)
    # The last case whose chain this pass walked; the next slice starts after it.
    last_case_id = models.BigIntegerField(null=True, blank=True)
    # [{"what": "file"|"chain", "problem": ..., and the file's sha256, path, cases, or the chain's case and event}]
    findings = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        outcome = f"{len(self.findings)} problem(s)" if self.findings else "all intact"
        return f"{self.get_scope_display()} check of {self.started_at:%d %b %Y %H:%M}: {outcome}"

    @property
    def files_checked(self) -> int:
        return self.originals_checked + self.derived_checked
