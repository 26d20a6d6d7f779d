"""Near-duplicate matching at the desk: a copy pasted into a collage raises a seen-before flag, and photos
hashed by an older extractor are re-hashed by the rehash_photos command."""

import io

import pytest
from django.core.management import call_command
from PIL import Image

from tests.factories import make_case
from tests.near_duplicates import generated_picture, make_copy
from verify import intake
from verify.matching import archive
from verify.models import Extraction, Flag, MediaHash, MediaItem
from workers import tasks
from workers.extractors import perceptual


@pytest.fixture
def eager(settings, media_root):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tasks.run_extraction.app.conf.task_always_eager = True
    archive.forget()
    yield
    tasks.run_extraction.app.conf.task_always_eager = False
    archive.forget()


@pytest.fixture
def collect(desk, eager, django_capture_on_commit_callbacks):
    def add(case, picture: Image.Image, name: str) -> MediaItem:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=92)
        with django_capture_on_commit_callbacks(execute=True):
            result = intake.ingest_stream(
                case=case, source=io.BytesIO(out.getvalue()), original_name=name, by=desk, origin="test"
            )
        return result.media_item

    return add


def test_it_flags_a_collage_with_the_photo_in_one_quarter_as_seen_before(desk, collect):
    original = generated_picture(1200)
    first_case = make_case(by=desk, stage="triage", title="Bridge down")
    collect(first_case, original, "bridge.jpg")
    second_case = make_case(by=desk, stage="triage")

    collage = collect(second_case, make_copy(original, "collage quarter", seed=3), "collage.jpg")

    (flag,) = Flag.objects.filter(media_item=collage, kind="seen-before")
    assert flag.case == second_case
    assert flag.message.startswith("Near-duplicate of 'bridge.jpg' (distance ")
    assert "once this file's picture is cut to its " in flag.message
    assert f"for case #{first_case.pk} 'Bridge down'" in flag.message


def test_it_does_not_flag_a_collage_of_unrelated_photos(desk, collect):
    collect(make_case(by=desk, stage="triage"), generated_picture(1201), "one.jpg")

    collage = collect(
        make_case(by=desk, stage="triage"), make_copy(generated_picture(1202), "collage quarter", 4), "c.jpg"
    )

    assert not Flag.objects.filter(media_item=collage, kind="seen-before").exists()


def test_it_rehashes_a_photo_read_by_an_older_extractor(desk, collect):
    item = collect(make_case(by=desk, stage="triage"), generated_picture(1203), "old.jpg")
    MediaHash.objects.filter(media_item=item, region__gt=0).delete()
    Extraction.objects.filter(media_item=item, extractor=perceptual.NAME).update(extractor_version="2")

    call_command("rehash_photos", "--here", stdout=io.StringIO())

    reading = Extraction.objects.get(media_item=item, extractor=perceptual.NAME)
    assert (reading.status, reading.extractor_version) == ("ok", perceptual.VERSION)
    assert MediaHash.objects.filter(media_item=item, region__gt=0).count() == len(reading.result["regions"]) - 1


def test_a_new_photo_is_looked_up_without_building_the_table_again(desk, collect):
    collect(make_case(by=desk, stage="triage"), generated_picture(1204), "first.jpg")
    built = archive.table().base
    original = generated_picture(1200)
    second = collect(make_case(by=desk, stage="triage"), original, "second.jpg")

    copy = collect(make_case(by=desk, stage="triage"), make_copy(original, "collage quarter", seed=3), "copy.jpg")

    (flag,) = Flag.objects.filter(media_item=copy, kind="seen-before")
    assert flag.message.startswith("Near-duplicate of 'second.jpg' (distance ")
    assert archive.table().base is built
    assert {second.pk, copy.pk} <= set(archive.table().recent.owners.tolist())


def test_the_table_is_built_again_when_too_many_rows_came_since_or_rows_it_holds_are_gone(desk, collect, monkeypatch):
    first = collect(make_case(by=desk, stage="triage"), generated_picture(1206), "first.jpg")
    monkeypatch.setattr(archive, "RECENT_ROWS", 0)  # no row scanned: each new one builds the multi-index again

    second = collect(make_case(by=desk, stage="triage"), generated_picture(1207), "second.jpg")

    assert set(archive.table().base.owners.tolist()) == {first.pk, second.pk}
    assert len(archive.table().recent) == 0
    monkeypatch.undo()
    built = archive.table().base

    MediaHash.objects.filter(media_item=first).delete()  # as a re-hash replaces them

    rebuilt = archive.table()
    assert rebuilt.base is not built
    assert set(rebuilt.base.owners.tolist()) == {second.pk} and len(rebuilt.recent) == 0
