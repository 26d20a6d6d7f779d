"""What the record keeps: each stored file with the SHA-256 it must still have, each fixity pass, each time-stamp."""

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


class TimestampToken(models.Model):
    """An RFC 3161 time-stamp of one digest: an original's SHA-256, or the digest of every case's chain head.

    A stamped row's token is never changed. A pending row waits for the authority (none configured, or
    unreachable) and is completed by a retry; an answer the desk refused closes its row as failed, with
    the reason, and the retry goes to a new pending row.
    """

    class Subject(models.TextChoices):
        ORIGINAL = "original", "Original file"
        CHAIN_HEAD = "chain_head", "Chain heads of every case"

    class Status(models.TextChoices):
        PENDING = "pending", "Not stamped yet"
        STAMPED = "stamped", "Stamped"
        FAILED = "failed", "Answer refused"

    subject = models.CharField(max_length=12, choices=Subject.choices)
    # Hex SHA-256 of what is stamped: the original's bytes, or the canonical listing below.
    digest = models.CharField(max_length=64)
    media_item = models.ForeignKey(
        "verify.MediaItem", null=True, blank=True, on_delete=models.PROTECT, related_name="timestamp_tokens"
    )
    # For a chain-head stamp: the exact canonical JSON [[case id, head digest], ...] whose SHA-256 is `digest`.
    listing = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True, help_text="Why it is not stamped, in the desk's words.")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    tsa_url = models.CharField("TSA URL", max_length=500, blank=True)
    # The DER TimeStampToken (a CMS ContentInfo) exactly as the authority signed it.
    token = models.BinaryField(null=True, blank=True)
    gen_time = models.DateTimeField("time stamped", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    stamped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="timestamp_due")]
        constraints = [
            # One open or finished stamp per digest: retries complete the row instead of adding stamps.
            models.UniqueConstraint(
                fields=["subject", "digest"],
                condition=models.Q(status__in=["pending", "stamped"]),
                name="timestamp_one_per_digest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_display()} {self.digest[:12]}: {self.get_status_display()}"
