"""A published case made as the desk makes one: real photos through intake, real readings, four-eyes approval."""

from __future__ import annotations

import io
import types

import pytest

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from verify import intake, pipeline, services
from verify.bundle import stamps
from verify.models import ChecklistItem, MediaItem
from verify.reports import load_report_case

PHOTOS = ("first.jpg", "second photo.jpg")


def ingest_photos(case, by, names=PHOTOS) -> list[MediaItem]:
    items = []
    for seed, name in enumerate(names, start=1):
        source = io.BytesIO(jpeg_bytes(seed=seed))
        items.append(
            intake.ingest_stream(case=case, source=source, original_name=name, by=by, origin="test").media_item
        )
    return items


def read_everything(items: list[MediaItem]) -> None:
    for item in items:
        for extraction in item.extractions.all():
            pipeline.run_extraction(extraction.pk)


@pytest.fixture
def people(db):
    return {"desk": make_user("desk"), "reviewer": make_user("reviewer"), "editor": make_user("editor")}


@pytest.fixture
def published_case(people, media_root, tasks_not_sent):
    """Two photos collected and read, the checklist answered, a verdict proposed and approved: published."""
    desk, reviewer = people["desk"], people["reviewer"]
    case = make_case(by=desk, stage="triage", title="Convoy near Kursk", claim="Photos show a convoy near Kursk.")
    read_everything(ingest_photos(case, desk))
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case.refresh_from_db()
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.CONFIRMED, notes="Checked.")
    services.propose_verdict(
        case=case,
        by=reviewer,
        rating="verified",
        confidence="high",
        summary="The photos are what they claim to be.",
        rationale="Metadata and sightings agree.",
        media_category="OriginalMediaContent",
    )
    case.refresh_from_db()
    services.approve_verdict(case=case, by=people["editor"], note="Approved.")
    return load_report_case(case.pk)


# INTEGRATION: a stand-in for verify.record.timestamps (RFC 3161 tokens), which is not on this branch.
# It keeps that module's interface; once the module is merged, build real tokens from its test TSA here
# instead, and keep the tests that use this fixture as they are.
FAKE_MAGIC = b"FAKE-TST\x00"


def _fake_tokens_for_case(case) -> list[dict]:
    digests = [("original", link.media_item.sha256) for link in case.case_media.all()]
    head = case.events.order_by("-pk").values_list("digest", flat=True).first()
    digests.append(("chain_head", head))
    return [
        {
            "label": f"{subject} {digest[:12]}",
            "digest": digest,
            "token": FAKE_MAGIC + bytes.fromhex(digest),
            "tsa_url": "https://tsa.example.org/",
            "gen_time": None,
            "subject": subject,
        }
        for subject, digest in digests
    ]


def _fake_verify_token(token: bytes, digest_hex: str, *, certificate_pem: bytes | None = None) -> tuple[bool, str]:
    if not token.startswith(FAKE_MAGIC):
        return False, "not a timestamp token"
    if token[len(FAKE_MAGIC) :] != bytes.fromhex(digest_hex):
        return False, "the token's imprint is for another digest"
    return True, "imprint matches"


@pytest.fixture
def stamping(monkeypatch):
    """The desk stamps: the seam answers with the stand-in module (see INTEGRATION above)."""
    fake = types.SimpleNamespace(tokens_for_case=_fake_tokens_for_case, verify_token=_fake_verify_token)
    monkeypatch.setattr(stamps, "timestamps_module", lambda: fake)
    return fake


@pytest.fixture
def not_stamping(monkeypatch):
    monkeypatch.setattr(stamps, "timestamps_module", lambda: None)
