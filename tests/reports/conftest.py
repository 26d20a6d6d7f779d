"""Published cases for the report tests, made the way the desk makes them: through the services."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PIL import Image

from tests.factories import add_media, make_user
from verify import services
from verify.models import (
    Case,
    CaseEvent,
    CaseMedia,
    ChecklistItem,
    Extraction,
    Flag,
    MediaItem,
    MediaRating,
    Sighting,
    Tag,
    Verdict,
)
from verify.pipeline import artifacts_dir
from verify.reports import load_report_case
from verify.workflow import Stage

# Strings that must never reach a public page; each appears somewhere in the desk's private data.
CHECKLIST_NOTE = "NOTE-private-checklist-7731"
REVIEW_NOTE = "APPROVAL-private-note-5512"
TIPSTER = "TIPSTER-jane-ferrow"
ORIGINAL_NAME = "IMG_PRIVATE_0001.jpg"


@pytest.fixture
def staff(db):
    """A desk member, a reviewer and an editor, with names unlikely to appear by chance."""
    return {
        "desk": make_user("desk", username="desk-qo4vx", first_name="Dorota", last_name="Wielgosz"),
        "reviewer": make_user("reviewer", username="reviewer-zq7kp", first_name="Rasmus", last_name="Oyelaran"),
        "editor": make_user("editor", username="editor-mw3jt", first_name="Ebba", last_name="Thorvaldsen"),
    }


def write_thumbnail(item: MediaItem) -> None:
    """A real JPEG where the perceptual extractor puts a photo's thumbnail."""
    folder = artifacts_dir(item, "perceptual")
    folder.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (320, 200), (40, 90, 140))
    for x in range(0, 320, 40):
        for y in range(200):
            image.putpixel((x, y), (240, 200, 60))
    image.save(folder / "thumb.jpg", "JPEG", quality=85)


def open_reviewed_case(staff, *, claim: str, title: str, **details) -> Case:
    """A case in review with a photo, a video, readings and sightings, and its checklist answered."""
    desk, reviewer = staff["desk"], staff["reviewer"]
    case = services.open_case(
        by=desk,
        title=title,
        claim=claim,
        tags=["kursk", "video"],
        claimed_place="Kursk oblast",
        claimed_latitude=51.73,
        claimed_longitude=36.19,
        claimed_at=datetime(2024, 11, 2, 9, 0, tzinfo=UTC),
        **details,
    )
    photo = add_media(case, name=ORIGINAL_NAME, kind=MediaItem.Kind.PHOTO)
    MediaItem.objects.filter(pk=photo.pk).update(
        mime_type="image/jpeg",
        device="Apple iPhone 12",
        software="Snapseed 2.0",
        captured_at_text="2021:06:14 18:22:03+03:00",
        gps_latitude=48.0159,
        gps_longitude=37.8028,
        width=4032,
        height=3024,
    )
    video = add_media(case, name="clip.mp4", kind=MediaItem.Kind.VIDEO)
    MediaItem.objects.filter(pk=video.pk).update(mime_type="video/mp4", duration=12.5)
    Extraction.objects.create(
        media_item=photo,
        extractor="c2pa",
        status=Extraction.Status.OK,
        result={"present": True, "validation_state": "Invalid", "signer": "Adobe Inc."},
    )
    Extraction.objects.create(media_item=photo, extractor="exif", status=Extraction.Status.OK, result={})
    Extraction.objects.create(media_item=video, extractor="video", status=Extraction.Status.FAILED, error="bad")
    write_thumbnail(photo)
    services.add_sighting(
        case=case,
        by=desk,
        media_item=photo,
        url="https://t.me/example_channel/4411",
        platform="telegram",
        account="example_channel",
        posted_at=datetime(2024, 11, 3, 7, 15, tzinfo=UTC),
        caption="Look at this",
        reported_by=TIPSTER,
    )
    services.add_sighting(
        case=case,
        by=desk,
        url="https://news.example.com/story",
        platform="news_site",
        account="Example News",
        posted_at=datetime(2024, 11, 4, 12, 0, tzinfo=UTC),
    )
    case = services.transition_case(case=case, to=Stage.TRIAGE, by=desk)
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case = services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)
    for item in case.checklist.all():
        services.answer_checklist_item(
            item=item,
            by=reviewer,
            status=ChecklistItem.Status.CONFIRMED,
            notes=CHECKLIST_NOTE,
            evidence_links=["https://archive.example.org/abc"],
        )
    return case


def propose(staff, case: Case, *, summary: str, rationale: str, rating: str, per_file: bool = True) -> Verdict:
    photo = case.media_items.get(kind=MediaItem.Kind.PHOTO)
    ratings = (
        [
            {
                "media_item": photo,
                "category": "DecontextualizedContent",
                "original_context": "Filmed in Donetsk in June 2021, not in Kursk.",
                "original_link": "https://www.youtube.com/watch?v=original",
            }
        ]
        if per_file
        else []
    )
    return services.propose_verdict(
        case=case,
        by=staff["reviewer"],
        rating=rating,
        confidence="high",
        summary=summary,
        rationale=rationale,
        media_category="DecontextualizedContent",
        media_ratings=ratings,
        evidence=[{"kind": "link", "url": "https://archive.example.org/abc", "label": "Archived original"}],
    )


@pytest.fixture
def make_published(staff, media_root):
    """Build a published case: opened, reviewed, verdict proposed and approved by a different editor."""

    def build(
        *,
        claim: str = "Video shows North Korean soldiers learning Russian words in Kursk.",
        title: str = "North Korean soldiers in Kursk",
        summary: str = "The footage is from 2021 and shows a Donetsk training ground.",
        rationale: str = "Reverse image search finds the video in June 2021.\n\nThe uniforms do not match.",
        rating: str = Verdict.Rating.MISLEADING,
        per_file: bool = True,
        **details,
    ) -> Case:
        case = open_reviewed_case(staff, claim=claim, title=title, **details)
        propose(staff, case, summary=summary, rationale=rationale, rating=rating, per_file=per_file)
        case.refresh_from_db()
        services.approve_verdict(case=case, by=staff["editor"], note=REVIEW_NOTE)
        return load_report_case(case.pk)

    return build


@pytest.fixture
def published(make_published) -> Case:
    return make_published()


@pytest.fixture
def awaiting_approval(staff, media_root) -> Case:
    """A case whose verdict is proposed but not yet approved."""
    case = open_reviewed_case(staff, claim="Photo shows a flooded metro station.", title="Flooded metro")
    propose(staff, case, summary="Unapproved summary DRAFT-88.", rationale="Draft reasoning.", rating="false")
    return load_report_case(case.pk)


def bulk_published_cases(count: int, *, author, approver) -> list[int]:
    """`count` published cases with media, readings, sightings, checklist, verdict and events, cheaply."""
    tag, _ = Tag.objects.get_or_create(name="bulk")
    cases = Case.objects.bulk_create(
        Case(title=f"Bulk case {i}", claim=f"Claim {i}", stage=Stage.PUBLISHED) for i in range(count)
    )
    Case.tags.through.objects.bulk_create(Case.tags.through(case_id=c.pk, tag_id=tag.pk) for c in cases)
    start = MediaItem.objects.count()
    items = MediaItem.objects.bulk_create(
        MediaItem(sha256=f"b{start + i:063x}", kind="photo", size=100, original_name=f"{i}.jpg", file=f"m/{i}")
        for i in range(count)
    )
    CaseMedia.objects.bulk_create(CaseMedia(case=c, media_item=m) for c, m in zip(cases, items, strict=True))
    Extraction.objects.bulk_create(
        Extraction(media_item=m, extractor="c2pa", status="ok", result={"present": False}) for m in items
    )
    Sighting.objects.bulk_create(
        Sighting(case=c, media_item=m, url="https://t.me/x/1", platform="telegram", account="x")
        for c, m in zip(cases, items, strict=True)
    )
    ChecklistItem.objects.bulk_create(
        ChecklistItem(case=c, key="provenance", prompt="Is this the original?", status="confirmed") for c in cases
    )
    verdicts = Verdict.objects.bulk_create(
        Verdict(
            case=c,
            number=1,
            rating="false",
            confidence="high",
            summary="s",
            rationale="r",
            author=author,
            status=Verdict.Status.APPROVED,
            reviewed_by=approver,
        )
        for c in cases
    )
    MediaRating.objects.bulk_create(
        MediaRating(verdict=v, media_item=m, category="StagedContent") for v, m in zip(verdicts, items, strict=True)
    )
    CaseEvent.objects.bulk_create(
        CaseEvent(case=c, kind=CaseEvent.Kind.MEDIA_COLLECTED, actor=author, media_item=m)
        for c, m in zip(cases, items, strict=True)
    )
    Flag.objects.bulk_create(
        flag
        for c, m in zip(cases, items, strict=True)
        for flag in (
            Flag(case=c, media_item=m, kind="metadata-stripped", severity="low", message="No camera metadata."),
            Flag(case=c, kind="first-seen-before-claim", severity="medium", message="Posted before the claim."),
        )
    )
    return [c.pk for c in cases]


@pytest.fixture
def resting_on_a_flag(staff, media_root) -> tuple[Case, Flag]:
    """A case whose proposed verdict rests on one of its flags (the photo's broken Content Credentials)."""
    case = open_reviewed_case(staff, claim="Photo shows a convoy in Kursk.", title="Convoy")
    flag = case.flags.get(kind="c2pa")
    services.propose_verdict(
        case=case,
        by=staff["reviewer"],
        rating="manipulated",
        confidence="medium",
        summary="Edited copy.",
        rationale="Credentials are broken.",
        evidence=[{"kind": "flag", "id": flag.pk}],
    )
    return case, flag
