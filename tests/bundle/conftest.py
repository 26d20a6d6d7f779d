"""A published case made as the desk makes one: real photos through intake, real readings, four-eyes approval."""

from __future__ import annotations

import io

import pytest

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from tests.record import authority
from verify import intake, pipeline, services
from verify.bundle import stamps
from verify.models import ChecklistItem, MediaItem
from verify.record import timestamps
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


@pytest.fixture
def stamping(settings, tmp_path_factory):
    """The desk stamps, at a real local authority (`openssl ts`): every original and the chain heads get tokens.

    Request it after the case it should stamp, as beat's sweep and daily chain-head stamp would find it.
    """
    keys = authority.Keys(tmp_path_factory.mktemp("bundle-tsa"), "Bundle Test TSA").issue()
    server = authority.start(keys)
    settings.TSA_URL, settings.TSA_CA_FILE = server.url, str(keys.ca_file)
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{server.port}"]
    timestamps.retry_due()
    timestamps.stamp_chain_heads()
    yield timestamps
    server.stop()


@pytest.fixture
def not_stamping(monkeypatch):
    monkeypatch.setattr(stamps, "timestamps_module", lambda: None)
