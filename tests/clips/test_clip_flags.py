"""Through the pipeline: a clip of an archived video gets a "clip of" flag saying where in it the clip lies."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse

from tests.clips import footage
from tests.factories import make_case
from verify import intake, services
from verify.clips import CLIP_OF
from verify.clips.models import VideoTimeline
from verify.clips.services import record_clip_flags, update_clip_flags
from verify.media_panel import panel_context
from verify.models import Case, Extraction, Flag, MediaItem
from verify.similarity import case_standing
from verify.workflow import Stage
from workers import tasks
from workers.extractors import video_timeline


@pytest.fixture
def collect(desk, settings, media_root, django_capture_on_commit_callbacks):
    """Add a file to a case and run its readers, as intake and a worker would."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tasks.run_extraction.app.conf.task_always_eager = True

    def add(case: Case, path: Path) -> MediaItem:
        with django_capture_on_commit_callbacks(execute=True):
            result = intake.ingest_stream(
                case=case, source=io.BytesIO(path.read_bytes()), original_name=path.name, by=desk, origin="test"
            )
        return result.media_item

    yield add
    tasks.run_extraction.app.conf.task_always_eager = False


@pytest.fixture(scope="module")
def archived(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("footage")
    return footage.generated(folder / "bridge.mp4", footage.LIFE.format(seed=21), seconds=30)


def clip_flags(item: MediaItem) -> list[Flag]:
    return list(Flag.objects.filter(media_item=item, kind=CLIP_OF).order_by("case_id"))


def test_it_says_where_in_the_earlier_video_a_mirrored_letterboxed_clip_was_cut(
    desk, collect, archived, tmp_path, client
):
    first_case = make_case(by=desk, stage="triage", title="Crowd at the bridge")
    video = collect(first_case, archived)
    change = f"{footage.MIRRORED},{footage.LETTERBOXED}"
    clip = footage.cut(archived, tmp_path / "repost.mp4", start=12.4, seconds=14, change=change)
    second_case = make_case(by=desk, stage="triage", title="Crowd storms the bridge today")

    item = collect(second_case, clip)

    (flag,) = clip_flags(item)
    first_case.refresh_from_db()
    assert (flag.case, flag.severity) == (second_case, Flag.Severity.HIGH)
    assert flag.message.startswith(
        f"This 14 s clip is 00:12–00:26 of 'bridge.mp4', the video collected for case #{first_case.pk} "
        f"'Crowd at the bridge' ({case_standing(first_case)}); "
    )
    assert flag.message.endswith("sampled frames line up, once this clip is mirrored.")
    assert abs(flag.data["start_seconds"] - 12.4) <= 0.25 and flag.data["mirrored"] is True
    assert flag.data["earlier_cases"] == [first_case.pk]
    assert flag in panel_context(second_case)["panel"]["archive_flags"]
    client.force_login(desk)
    page = client.get(reverse("admin:verify_case_media_panel", args=[second_case.pk])).content.decode()
    archive_section = page[page.index('id="vd-seen-before"') :]
    assert "This 14 s clip is 00:12–00:26 of" in archive_section
    assert reverse("admin:verify_mediaitem_change", args=[video.pk]) in archive_section


def test_it_rewrites_the_flag_when_the_earlier_case_moves_on(
    desk, collect, archived, tmp_path, django_capture_on_commit_callbacks
):
    first_case = make_case(by=desk, stage="triage", title="Crowd at the bridge")
    collect(first_case, archived)
    item = collect(make_case(by=desk, stage="triage"), footage.cut(archived, tmp_path / "c.mp4", start=3, seconds=8))
    first_case.refresh_from_db()
    assert f"({case_standing(first_case)})" in clip_flags(item)[0].message

    with django_capture_on_commit_callbacks(execute=True):
        moved = services.transition_case(case=first_case, to=Stage.ON_HOLD, by=desk, note="Waiting for the source")

    (flag,) = clip_flags(item)
    assert f"({case_standing(moved)})" in flag.message and flag.data["earlier_case_stage"] == Stage.ON_HOLD


def test_it_flags_a_later_clip_whose_timeline_was_stored_before_the_earlier_video(desk, collect, archived, tmp_path):
    video = collect(make_case(by=desk, stage="triage"), archived)
    clip = collect(make_case(by=desk, stage="triage"), footage.cut(archived, tmp_path / "c.mp4", start=5, seconds=8))
    # As when the clip's reading finishes first: the earlier video has no timeline yet, the clip no flag.
    VideoTimeline.objects.filter(media_item=video).delete()
    record_clip_flags(clip)
    assert clip_flags(clip) == []

    update_clip_flags(video, reread=False)

    (flag,) = clip_flags(clip)
    assert flag.data["earlier_media_item"] == video.pk


def test_it_flags_nothing_for_a_still_video_and_keeps_the_reason(desk, collect, tmp_path):
    still = footage.generated(tmp_path / "still.mp4", "smptebars=size=320x240:rate=25", seconds=10)
    collect(make_case(by=desk, stage="triage"), still)
    again = footage.cut(still, tmp_path / "still-again.mp4", start=2, seconds=5)

    item = collect(make_case(by=desk, stage="triage"), again)

    assert clip_flags(item) == []
    assert VideoTimeline.objects.get(media_item=item).unplaceable_reason.startswith("The picture hardly changes")


def test_it_records_a_failed_reading_for_a_video_whose_sample_table_is_corrupt(desk, collect, archived, tmp_path):
    broken = footage.with_broken_sample_table(archived, tmp_path / "broken.mp4")

    item = collect(make_case(by=desk, stage="triage"), broken)

    reading = item.extractions.get(extractor=video_timeline.NAME)
    assert reading.status == Extraction.Status.FAILED
    assert reading.error.startswith("ffprobe could not read the file: invalid data found when processing input")
    assert clip_flags(item) == [] and not VideoTimeline.objects.filter(media_item=item).exists()
