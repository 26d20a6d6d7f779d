"""The desk's data: cases, the media and sightings behind them, the review work, and the audit trail."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, router, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from verify.bidi import isolate
from verify.record import chain
from verify.record.guard import AppendOnlyError, CaseEventQuerySet
from verify.search.normalise import url_key
from verify.workflow import Stage

User = settings.AUTH_USER_MODEL


def storable_json(value):
    """`value` with NUL characters removed from every string: PostgreSQL's jsonb cannot hold them,
    and hostile files put them in names, tags and brands."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v) for v in value]
    return value


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    URGENT = 3, "Urgent"


class Platform(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    X = "x", "X (Twitter)"
    FACEBOOK = "facebook", "Facebook"
    INSTAGRAM = "instagram", "Instagram"
    TIKTOK = "tiktok", "TikTok"
    YOUTUBE = "youtube", "YouTube"
    WHATSAPP = "whatsapp", "WhatsApp"
    NEWS_SITE = "news_site", "News site"
    OFFICIAL = "official", "Official statement"
    OTHER = "other", "Other"


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    title = models.CharField(max_length=200)
    claim = models.TextField(help_text="The claim as it circulates, in its own words.")
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NEW, db_index=True)
    # Bumped by every stage change so that two people moving the same case cannot
    # both win (see services.change_stage).
    version = models.PositiveIntegerField(default=0, editable=False)
    stage_before_hold = models.CharField(max_length=20, choices=Stage.choices, blank=True, editable=False)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates", editable=False
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL, db_index=True)
    deadline = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="cases")

    is_graphic = models.BooleanField("graphic content", default=False)
    shows_personal_data = models.BooleanField("personal data visible", default=False)
    source_at_risk = models.BooleanField("source at risk", default=False)

    claimed_place = models.CharField(max_length=200, blank=True)
    claimed_latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    claimed_longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    claimed_at = models.DateTimeField("claimed time", null=True, blank=True)

    # Stable key of a case loaded from seeds/, so that loading twice changes nothing.
    seed_key = models.SlugField(max_length=80, unique=True, null=True, blank=True, editable=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "deadline", "created_at"]
        permissions = [
            ("transition_case", "Can move a case between stages"),
            ("assign_case", "Can assign reviewers to a case"),
            ("export_report", "Can export verdict reports"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(duplicate_of=models.F("pk")), name="case_not_duplicate_of_itself"
            ),
        ]

    def __str__(self) -> str:
        # The admin shows this among its own words (breadcrumbs, titles, messages): isolated, see verify.bidi.
        return f"#{self.pk} {isolate(self.title)}"

    def get_absolute_url(self) -> str:
        return reverse("admin:verify_case_change", args=[self.pk])

    @property
    def is_overdue(self) -> bool:
        return bool(self.deadline and self.deadline < timezone.now() and self.stage not in _CLOSED)

    def pending_extraction_count(self) -> int:
        return Extraction.objects.filter(
            media_item__cases=self, status__in=[Extraction.Status.PENDING, Extraction.Status.RUNNING]
        ).count()


_CLOSED = {Stage.PUBLISHED, Stage.DUPLICATE, Stage.DISMISSED}


class MediaItem(models.Model):
    """One file, identified by its SHA-256, stored once and never modified."""

    class Kind(models.TextChoices):
        PHOTO = "photo", "Photo"
        VIDEO = "video", "Video"
        OTHER = "other", "Other (unsupported)"

    sha256 = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    mime_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(max_length=255, blank=True)
    file = models.FileField(max_length=255, upload_to="media/")
    collected_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    collected_at = models.DateTimeField(default=timezone.now)
    cases = models.ManyToManyField(Case, through="CaseMedia", related_name="media_items")

    # The normalised summary of the extractors' readings, for lists and reports;
    # the raw readings stay in each Extraction.
    captured_at = models.DateTimeField(null=True, blank=True)
    captured_at_text = models.CharField(
        max_length=40, blank=True, help_text="Capture time as the file records it (with offset when known)."
    )
    gps_latitude = models.FloatField(null=True, blank=True)
    gps_longitude = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=200, blank=True)
    software = models.CharField(max_length=200, blank=True)
    duration = models.FloatField("duration (s)", null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    disagreements = models.JSONField(
        default=list, blank=True, help_text="Where the readers read a different make, model, capture time or GPS."
    )

    class Meta:
        ordering = ["collected_at"]

    def __str__(self) -> str:
        # Shown among the admin's own words, like a case's title: the file name is isolated (verify.bidi).
        return f"{isolate(self.original_name) or self.kind} ({self.sha256[:12]}…)"


class CaseMedia(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_media")
    media_item = models.ForeignKey(MediaItem, on_delete=models.PROTECT, related_name="case_links")
    added_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "media_item"], name="media_once_per_case")]
        verbose_name = "media item"

    def __str__(self) -> str:
        return str(self.media_item)


class Extraction(models.Model):
    """One extractor's reading of one media item; re-runnable, never duplicated."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        UNSUPPORTED = "unsupported", "Unsupported"
        FAILED = "failed", "Failed"
        TIMED_OUT = "timed_out", "Timed out"

    UNFINISHED = (Status.PENDING, Status.RUNNING)

    media_item = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="extractions")
    extractor = models.CharField(max_length=40)
    extractor_version = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # Deliveries of the task; a file that kills the worker every time stops being retried.
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its task was last handed to the broker: empty while never sent (a broker that was down),
    # so the stalled-extraction sweep re-sends only what was never sent or has waited too long.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["media_item", "extractor"], name="one_extraction_per_extractor")]

    def __str__(self) -> str:
        return f"{self.extractor} of {self.media_item}: {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status not in self.UNFINISHED


class Sighting(models.Model):
    """Where a media item, or the case's claim, appeared; or where someone answered the claim."""

    class Role(models.TextChoices):
        APPEARANCE = "appearance", "Appearance"
        RESPONSE = "response", "Response"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sightings")
    # An appearance is the file or the claim itself, posted somewhere: the earliest one is the best guess
    # at first appearance. A response is someone confirming, disputing or commenting on the claim (an
    # official's statement, a fact-check): evidence to weigh, never an appearance.
    role = models.CharField(
        max_length=12,
        choices=Role.choices,
        default=Role.APPEARANCE,
        help_text="Appearance: the file or claim posted here. Response: someone confirming, disputing or "
        "commenting on it.",
    )
    media_item = models.ForeignKey(
        MediaItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="sightings"
    )
    url = models.URLField("URL", max_length=2000, blank=True)
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.OTHER)
    account = models.CharField(max_length=200, blank=True, help_text="Account, channel or outlet that posted it.")
    posted_at = models.DateTimeField(null=True, blank=True)
    caption = models.TextField(blank=True)
    reported_by = models.CharField(max_length=200, blank=True, help_text="Who pointed the desk to it.")
    added_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)
    # The SHA-256 of the URL's normalised spelling (verify.search.normalise): the desk search finds the
    # sighting by its link whatever the scheme, host case, trailing slash or tracking parameters.
    url_key = models.CharField(max_length=64, blank=True, editable=False, db_index=True)

    class Meta:
        ordering = [models.F("posted_at").asc(nulls_last=True), "added_at"]
        indexes = [models.Index(Lower("account"), name="sighting_account_lower")]

    def __str__(self) -> str:
        where = self.account or self.url or self.get_platform_display()
        return f"{self.get_platform_display()}: {where}"

    def save(self, *args, **kwargs):
        # Derived from the row's own URL, so it can never disagree with it.
        self.url_key = url_key(self.url)
        if kwargs.get("update_fields") is not None and "url" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "url_key"}
        super().save(*args, **kwargs)


class ChecklistQuestion(models.Model):
    """The template every new case's checklist is copied from; editable by admins."""

    key = models.SlugField(max_length=40, unique=True)
    prompt = models.CharField(max_length=300)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.prompt


class ChecklistItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed"
        REFUTED = "refuted", "Refuted"
        UNKNOWN = "unknown", "Unknown"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="checklist")
    key = models.SlugField(max_length=40)
    prompt = models.CharField(max_length=300)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    notes = models.TextField(blank=True)
    evidence_links = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "key"]
        constraints = [models.UniqueConstraint(fields=["case", "key"], name="question_once_per_case")]

    def __str__(self) -> str:
        return f"{self.prompt} ({self.get_status_display()})"


class Assignment(models.Model):
    class Role(models.TextChoices):
        LEAD = "lead", "Lead reviewer"
        SECOND = "second", "Second reviewer"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="assignments")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.LEAD)
    assigned_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["role"]
        constraints = [
            models.UniqueConstraint(fields=["case", "role"], name="one_reviewer_per_role"),
            models.UniqueConstraint(fields=["case", "user"], name="one_role_per_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class MediaReviewCategory(models.TextChoices):
    """schema.org MediaReview's mediaAuthenticityCategory values."""

    ORIGINAL = "OriginalMediaContent", "Original media content"
    DECONTEXTUALIZED = "DecontextualizedContent", "Decontextualized content"
    EDITED_OR_CROPPED = "EditedOrCroppedContent", "Edited or cropped content"
    TRANSFORMED = "TransformedContent", "Transformed content"
    STAGED = "StagedContent", "Staged content"
    SATIRE_OR_PARODY = "SatireOrParodyContent", "Satire or parody content"


class Verdict(models.Model):
    """One version of a case's verdict; a new proposal is a new row, never an edit."""

    class Rating(models.TextChoices):
        VERIFIED = "verified", "Verified"
        MISLEADING = "misleading", "Misleading / miscaptioned"
        MANIPULATED = "manipulated", "Manipulated"
        STAGED = "staged", "Staged"
        FALSE = "false", "False"
        UNVERIFIABLE = "unverifiable", "Unverifiable"

    class Confidence(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        SENT_BACK = "sent_back", "Sent back"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="verdicts")
    number = models.PositiveIntegerField()
    rating = models.CharField(max_length=20, choices=Rating.choices)
    confidence = models.CharField(max_length=10, choices=Confidence.choices)
    summary = models.CharField(max_length=280)
    rationale = models.TextField()
    # The case's media taken together, for ClaimReview's associated MediaReview.
    media_category = models.CharField(max_length=30, choices=MediaReviewCategory.choices, blank=True)
    # What the verdict rests on: [{"kind": "sighting"|"extraction"|"link", "id": ..., "label": ..., "url": ...}].
    evidence = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="verdicts_written")
    proposed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="verdicts_reviewed"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["case", "-number"]
        permissions = [
            ("propose_verdict", "Can propose a verdict on an assigned case"),
            ("approve_verdict", "Can approve or send back a verdict"),
        ]
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="verdict_version_once")]

    def __str__(self) -> str:
        return f"v{self.number} {self.get_rating_display()} ({self.get_status_display()})"


class MediaRating(models.Model):
    """A verdict's MediaReview judgement of one of the case's files."""

    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="media_ratings")
    media_item = models.ForeignKey(MediaItem, on_delete=models.PROTECT, related_name="ratings")
    category = models.CharField(max_length=30, choices=MediaReviewCategory.choices)
    original_context = models.TextField(
        "original context", blank=True, help_text="Where and when the media really comes from, as far as known."
    )
    original_link = models.URLField("link to the original", max_length=2000, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["verdict", "media_item"], name="one_rating_per_file")]

    def __str__(self) -> str:
        return f"{self.media_item}: {self.get_category_display()}"


class CaseEvent(models.Model):
    """The append-only audit trail and chain of custody of a case and its files."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Case opened"
        UPDATED = "updated", "Case details changed"
        STAGE_CHANGED = "stage_changed", "Stage changed"
        ASSIGNED = "assigned", "Reviewer assigned"
        UNASSIGNED = "unassigned", "Reviewer unassigned"
        SIGHTING_ADDED = "sighting_added", "Sighting added"
        SIGHTING_CHANGED = "sighting_changed", "Sighting changed"
        MEDIA_COLLECTED = "media_collected", "Media collected"
        CHECKLIST_ANSWERED = "checklist_answered", "Checklist answered"
        VERDICT_PROPOSED = "verdict_proposed", "Verdict proposed"
        VERDICT_APPROVED = "verdict_approved", "Verdict approved"
        VERDICT_SENT_BACK = "verdict_sent_back", "Verdict sent back"
        LINK_DOWNLOAD = "link_download", "Link download"
        FILE_DAMAGED = "file_damaged", "Stored file found damaged"
        FILE_REPAIRED = "file_repaired", "Stored file repaired"
        POST_CAPTURE = "post_capture", "Post capture"

    # PROTECT: a case with history cannot be deleted; dismiss it instead.
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    media_item = models.ForeignKey(MediaItem, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # Empty actor means the pipeline (or a seed load) acted, not a person.
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    old = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    new = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    note = models.TextField(blank=True)
    # The hash chain (verify/record/chain.py): SHA-256 of this event's content and of the digest before it.
    previous_digest = models.CharField(max_length=64, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["case", "at"])]
        constraints = [
            models.UniqueConstraint(fields=["case", "previous_digest"], name="case_event_chain_never_forks"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor or 'system'}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError(
                f"Case events are append-only: event #{self.pk} cannot be changed; record a new event instead"
            )
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            chain.seal([self], using=using)
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"Case events are append-only: event #{self.pk} cannot be deleted")


class MediaHash(models.Model):
    """One perceptual hash of a media item: the photo itself, or one keyframe of a video."""

    media_item = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="hashes")
    frame = models.PositiveSmallIntegerField(default=0, help_text="Keyframe number; 0 for a photo.")
    time = models.FloatField(null=True, blank=True, help_text="Keyframe time in seconds.")
    # The 64-bit hash stored as a signed 64-bit integer (the database's BIGINT).
    value = models.BigIntegerField()
    # A near-uniform image's hash matches unrelated images; such hashes are kept but never matched.
    usable = models.BooleanField(default=True)
    region = models.PositiveSmallIntegerField(
        default=0,
        help_text="0: the whole picture; n: a photo's n-th region in its perceptual reading.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["media_item", "frame", "region"], name="one_hash_per_frame_region")
        ]

    def __str__(self) -> str:
        return f"{self.media_item} frame {self.frame}: {self.value & (2**64 - 1):016x}"


class Flag(models.Model):
    """A signal derived from a file's readings and the case's claim, for a reviewer to weigh; never a verdict."""

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="flags")
    media_item = models.ForeignKey(MediaItem, null=True, blank=True, on_delete=models.CASCADE, related_name="flags")
    kind = models.SlugField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "media_item", "kind"]
        indexes = [models.Index(fields=["case", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.message}"


class QueuedJob(models.Model):
    """Bookkeeping a job queued for the workers keeps (verify/job_queue.py reads and writes it).

    A job is queued, then running for one delivery of its task at a time (`attempts` counts the
    deliveries that started it), then finished with a status of its own model's choosing.
    `touched_at` is the last sign of life: queued, started, or progress written by its worker.
    """

    QUEUED, RUNNING = "queued", "running"

    url = models.URLField("URL", max_length=2000)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Deliveries that started the job; one whose worker keeps dying is given up on.
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    touched_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status not in (self.QUEUED, self.RUNNING)


class LinkDownload(QueuedJob):
    """A link given to the desk to download: queued from the case page, run on a worker to one outcome."""

    class Status(models.TextChoices):
        QUEUED = QueuedJob.QUEUED, "Queued"
        RUNNING = QueuedJob.RUNNING, "Downloading"
        OK = "ok", "Downloaded"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="link_downloads")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.TextField(blank=True, help_text="Why it was refused or failed, or what was stored.")
    bytes_received = models.PositiveBigIntegerField(default=0)
    bytes_expected = models.PositiveBigIntegerField(null=True, blank=True)
    media_item = models.ForeignKey(
        MediaItem, null=True, blank=True, on_delete=models.PROTECT, related_name="link_downloads"
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["status", "touched_at"])]

    def __str__(self) -> str:
        return f"{self.url} ({self.get_status_display()})"


class CaptureJob(QueuedJob):
    """One capture of a post's link: its media, facts, screenshot, PDF and web archive, each step with its outcome.

    `steps` maps each step (media, facts, screenshot, pdf, archive) to {"outcome": ok | unavailable |
    failed, "reason": a sentence for the desk}. A re-capture of a sighting is a new job; the earlier
    one, with its files, stays.
    """

    class Status(models.TextChoices):
        QUEUED = QueuedJob.QUEUED, "Queued"
        RUNNING = QueuedJob.RUNNING, "Capturing"
        DONE = "done", "Captured"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        DESK = "desk", "Given on the case page"
        SIGHTING = "sighting", "Given with a sighting"
        COMMAND = "command", "Command line"
        RECAPTURE = "recapture", "Re-capture on demand"
        SCHEDULE = "schedule", "Scheduled re-capture"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="captures")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.DESK)
    # The sighting the capture fills (or re-captures); set when the facts are recorded if not given.
    sighting = models.ForeignKey(Sighting, null=True, blank=True, on_delete=models.SET_NULL, related_name="captures")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.CharField(max_length=300, blank=True, help_text="What the worker is doing now.")
    steps = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    facts = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # What changed since the sighting's previous capture: ["deleted between 5 and 6 Nov 2024", ...].
    changes = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    media_items = models.ManyToManyField(MediaItem, blank=True, related_name="captures")
    screenshot = models.ForeignKey(MediaItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pdf = models.ForeignKey(MediaItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    archive = models.ForeignKey(MediaItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["status", "touched_at"])]

    def __str__(self) -> str:
        return f"Capture of {self.url} ({self.get_status_display()})"


class PlatformCookies(models.Model):
    """A cookie file (Netscape format) a desk gives for capturing one platform's posts behind a login.

    Secret: the admin never shows it back, and it stays out of exports, events and logs.
    """

    platform = models.CharField(max_length=20, choices=Platform.choices, unique=True)
    cookies = models.TextField(help_text="The cookie file's text (Netscape format, as browsers' export tools write).")
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "platform cookie file"

    def __str__(self) -> str:
        return f"Cookies for {self.get_platform_display()}"


class Publication(models.Model):
    """One approval of a case's verdict, frozen: what the public page, ClaimReview and reports show.

    The document is taken when the verdict is approved and never changes; a correction or an
    update is a new publication, and the earlier ones stay listed on the public page.
    """

    class Kind(models.TextChoices):
        FIRST = "first", "First publication"
        CORRECTION = "correction", "Correction"
        UPDATE = "update", "Update"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="publications")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FIRST)
    # Why the case was reopened (empty for a first publication).
    reason = models.TextField(blank=True)
    verdict = models.ForeignKey(Verdict, on_delete=models.PROTECT, related_name="publications")
    approved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()
    document = models.JSONField(encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["case", "-number"]
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="publication_once_per_number")]

    def __str__(self) -> str:
        return f"#{self.case_id} publication {self.number} ({self.get_kind_display()})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Publications are frozen; a correction is a new publication")
        super().save(*args, **kwargs)


from verify.clips.models import VideoTimeline  # noqa: E402, F401 - clips inside videos
from verify.notices.models import Notice, NoticeMail  # noqa: E402, F401 - what people are told, per case
from verify.record.models import FixityCheck, StoredFile  # noqa: E402, F401 - the record's own models


class ExportJob(models.Model):
    """A CSV or JSON export of a set of cases, written by a worker to a file in storage.

    The cases are the ones the desk's list selected when the export was asked for (`case_ids`, in the
    list's order), so the file shows what the person saw, whatever changes while it is written.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Writing"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    format = models.CharField(max_length=4, choices=Format.choices)
    requested_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    case_ids = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/", blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # Why a failed export failed, in a sentence for the desk.
    reason = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        # The person who asked for an export sees it (verify/exports/views.py); no role grants the others.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.get_format_display()} export of {self.rows_total:,} cases ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent_done(self) -> int:
        return 100 if not self.rows_total else min(100, self.rows_done * 100 // self.rows_total)
