"""Near-duplicate search: the hash index, derived copies against their originals, seen-before flags, search by file."""

from __future__ import annotations

import io
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageDraw

from tests.bidi import HOSTILE_NAME, HOSTILE_TITLE, html_unisolated
from tests.extractors.helpers import make_scene
from tests.factories import make_case
from verify import intake, similarity
from verify.models import Case, Flag, MediaHash, MediaItem, Sighting, Verdict
from workers import tasks
from workers.extractors import perceptual

# Index and hash values: no database


def test_it_round_trips_hashes_between_hex_and_the_stored_integer():
    for hex_hash in (
        "0000000000000000",
        "7fffffffffffffff",
        "8000000000000000",
        "ffffffffffffffff",
        "c3a5e1f00f1e5a3c",
    ):
        stored = similarity.hex_to_signed(hex_hash)
        assert -(2**63) <= stored < 2**63
        assert similarity.signed_to_hex(stored) == hex_hash


def test_it_refuses_a_hash_longer_than_64_bits():
    with pytest.raises(ValueError, match="is not a 64-bit hash"):
        similarity.hex_to_signed("1" + "0" * 16)


def random_index(rng: random.Random, items: int, frames: int = 1) -> tuple[similarity.HashIndex, list[tuple]]:
    rows = [(item, frame, rng.getrandbits(64)) for item in range(1, items + 1) for frame in range(frames)]
    index = similarity.HashIndex(
        np.array([v for _, _, v in rows], dtype=np.uint64),
        np.array([i for i, _, _ in rows]),
        np.array([f for _, f, _ in rows]),
    )
    return index, rows


def test_it_finds_exactly_the_items_a_plain_loop_finds():
    rng = random.Random(3)
    index, rows = random_index(rng, 5000)
    for _ in range(20):
        query = rows[rng.randrange(len(rows))][2] ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64))
        signed = query - 2**64 if query >= 2**63 else query
        expected = {item for item, _, value in rows if (value ^ query).bit_count() <= 12}
        found = index.search([signed], 12)
        assert {m.media_item_id for m in found} == expected
        for match in found:
            value = next(v for i, _, v in rows if i == match.media_item_id)
            assert match.distance == (value ^ query).bit_count()


def test_it_counts_which_keyframes_of_a_video_matched():
    rng = random.Random(5)
    index, rows = random_index(rng, 50, frames=6)
    video = [value for item, _, value in rows if item == 7]
    query = [v - 2**64 if v >= 2**63 else v for v in video[:3] + [rng.getrandbits(64) for _ in range(3)]]

    (match,) = index.search(query, 4)

    assert (match.media_item_id, match.distance) == (7, 0)
    assert match.query_positions == (0, 1, 2)
    assert match.stored_frames == (0, 1, 2)


def test_it_keeps_unusable_hashes_out_of_the_index():
    rows = np.array([[1, 10, 0, 42, 1], [2, 11, 0, 42, 0], [3, 12, 0, -5, 1]], dtype=np.int64)
    index = similarity.HashIndex.from_rows(rows)
    assert len(index) == 2
    assert [m.media_item_id for m in index.search([42], 0)] == [10]


def test_it_also_returns_the_nearest_items_beyond_the_distance_when_asked():
    index = similarity.HashIndex(np.array([0b1111, 0xFF], dtype=np.uint64), np.array([1, 2]), np.array([0, 0]))
    found = index.search([0], 2, nearest=5)
    assert [(m.media_item_id, m.distance, m.within) for m in found] == [(1, 4, False), (2, 8, False)]


# Derived copies against their originals, hashed as the desk hashes them


def screenshot_of(picture: Image.Image) -> Image.Image:
    """The picture shown full width on a phone: dark margins, a status bar with the time, a navigation bar."""
    shown = picture.resize((1040, round(picture.height * 1040 / picture.width)))
    screen = Image.new("RGB", (1080, 2340), (18, 18, 18))
    screen.paste(shown, (20, (screen.height - shown.height) // 2))
    draw = ImageDraw.Draw(screen)
    draw.text((40, 22), "12:45", fill=(240, 240, 240), font_size=44)
    for n in range(4):
        draw.rectangle([880 + n * 44, 34, 910 + n * 44, 64], fill=(230, 230, 230))
    draw.text((500, 2230), "O", fill=(230, 230, 230), font_size=60)
    return screen


def captioned(picture: Image.Image) -> Image.Image:
    copy = picture.copy()
    ImageDraw.Draw(copy).text(
        (30, picture.height * 0.8),
        "BREAKING: seen today",
        fill="white",
        font_size=34,
        stroke_width=3,
        stroke_fill="black",
    )
    return copy


def centre_crop(picture: Image.Image, share: float) -> Image.Image:
    dx, dy = round(picture.width * share / 2), round(picture.height * share / 2)
    return picture.crop((dx, dy, picture.width - dx, picture.height - dy))


DERIVED = {
    "JPEG quality 50": (lambda p: p, {"format": "JPEG", "quality": 50}),
    "JPEG quality 70": (lambda p: p, {"format": "JPEG", "quality": 70}),
    "half size": (lambda p: p.resize((p.width // 2, p.height // 2), Image.Resampling.LANCZOS), {"format": "JPEG"}),
    "5% cropped": (lambda p: centre_crop(p, 0.05), {"format": "JPEG"}),
    "turned 90°": (lambda p: p.transpose(Image.Transpose.ROTATE_90), {"format": "JPEG"}),
    "screenshot": (screenshot_of, {"format": "PNG"}),
    "captioned": (captioned, {"format": "JPEG"}),
}


def read(tmp_path: Path, picture: Image.Image, name: str, **save) -> tuple[dict, Path]:
    path = tmp_path / name
    picture.save(path, **save)
    folder = tmp_path / f"{name}-artifacts"
    folder.mkdir()
    return perceptual.extract(path, folder), folder


def distance(tmp_path: Path, original: Image.Image, copy: Image.Image, save: dict) -> int:
    """How far the copy, looked up as the desk looks it up, is from the original as the index keeps it."""
    stored_reading, stored_folder = read(tmp_path, original, "original.jpg", quality=92)
    (stored,) = similarity.hashed_pictures(stored_reading, stored_folder)
    reading, folder = read(tmp_path, copy, f"copy.{save['format'].lower()}", **save)
    query = similarity.reading_query(reading, folder, turns=True)
    found = similarity.HashIndex(similarity.as_unsigned([stored.value]), np.array([1]), np.array([0])).search(
        [q.value for q in query], 64
    )
    return found[0].distance


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", list(DERIVED))
def test_it_finds_a_derived_copy_within_the_threshold(tmp_path, name, seed):
    make, save = DERIVED[name]
    original = make_scene(seed, size=(900, 600))
    assert distance(tmp_path, original, make(original), save) <= settings.SIMILARITY_MAX_DISTANCE


@pytest.mark.parametrize("seeds", [(1, 2), (1, 3), (2, 3), (4, 5), (6, 7)])
def test_it_does_not_match_unrelated_pictures(tmp_path, seeds):
    first, second = (make_scene(seed, size=(900, 600)) for seed in seeds)
    assert distance(tmp_path, first, second, {"format": "JPEG"}) > settings.SIMILARITY_MAX_DISTANCE


def test_it_trims_a_screenshots_bars_and_margins_but_not_a_plain_photo():
    picture = make_scene(1, size=(900, 600))
    inside = similarity.trim_borders(screenshot_of(picture))
    assert inside is not None
    assert abs(inside.width - 1040) <= 12 and abs(inside.height - 693) <= 12
    assert similarity.trim_borders(picture) is None


# Bad input: nothing to hash, or a hash that would match everything


def single_colour_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 120, 150)).save(out, "JPEG")
    return out.getvalue()


def video(path: Path, source: str, *extra: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, *extra, "-pix_fmt", "yuv420p", str(path)],
        check=True,
        timeout=120,
    )
    return path


def test_it_refuses_to_search_by_a_single_colour_picture(tmp_path):
    path = tmp_path / "blank.jpg"
    path.write_bytes(single_colour_jpeg())
    (tmp_path / "work").mkdir()
    with pytest.raises(similarity.UnsearchableFile, match="almost a single colour.*the archive was not searched"):
        similarity.search_file(path, tmp_path / "work")


def test_it_refuses_to_search_by_a_video_whose_keyframes_are_all_blank(tmp_path):
    path = video(tmp_path / "black.mp4", "color=c=black:size=320x240:duration=3:rate=10", "-g", "10")
    (tmp_path / "work").mkdir()
    with pytest.raises(similarity.UnsearchableFile, match=r"Every keyframe of the video \(\d+\) is almost a single"):
        similarity.search_file(path, tmp_path / "work")


def test_it_refuses_to_search_by_a_file_that_is_not_a_picture(tmp_path):
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n")
    with pytest.raises(similarity.UnsearchableFile, match="not a photo or video, so it has no picture to compare"):
        similarity.search_file(path, tmp_path)


def test_it_refuses_to_search_by_a_jpeg_with_no_decodable_pixels(tmp_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(single_colour_jpeg()[:200])
    (tmp_path / "work").mkdir()
    with pytest.raises(similarity.UnsearchableFile, match="No picture could be read from this"):
        similarity.search_file(path, tmp_path / "work")


# Through the pipeline: stored hashes and seen-before flags


@pytest.fixture
def eager(settings, media_root):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tasks.run_extraction.app.conf.task_always_eager = True
    yield
    tasks.run_extraction.app.conf.task_always_eager = False


def jpeg_of(picture: Image.Image, **save) -> bytes:
    out = io.BytesIO()
    picture.save(out, **({"format": "JPEG", "quality": 92} | save))
    return out.getvalue()


@pytest.fixture
def collect(desk, eager, django_capture_on_commit_callbacks):
    """Add a file to a case and run its readers, as intake and a worker would."""

    def add(case: Case, data: bytes, name: str) -> MediaItem:
        with django_capture_on_commit_callbacks(execute=True):
            result = intake.ingest_stream(
                case=case, source=io.BytesIO(data), original_name=name, by=desk, origin="test"
            )
        return result.media_item

    return add


def seen_before_flags(item: MediaItem) -> list[Flag]:
    return list(Flag.objects.filter(media_item=item, kind=similarity.SEEN_BEFORE).order_by("case_id"))


def test_it_flags_a_recompressed_copy_in_a_new_case_as_seen_before(desk, collect):
    picture = make_scene(11, size=(900, 600))
    first_case = make_case(by=desk, stage="triage", title="Convoy near Kursk")
    second_case = make_case(by=desk, stage="triage", title="Troops arrive in Kursk region")
    original = collect(first_case, jpeg_of(picture), "convoy.jpg")

    copy = collect(second_case, jpeg_of(picture.resize((450, 300)), quality=50), "repost.jpg")

    (flag,) = seen_before_flags(copy)
    assert (flag.case, flag.severity) == (second_case, "high")
    assert flag.message.startswith("Near-duplicate of 'convoy.jpg' (distance ")
    assert f"for case #{first_case.pk} 'Convoy near Kursk'" in flag.message
    assert flag.data["earlier_media_item"] == original.pk and flag.data["earlier_cases"] == [first_case.pk]
    assert seen_before_flags(original) == []
    second_case.refresh_from_db()
    assert second_case.stage == "in_review"


def test_it_does_not_flag_an_unrelated_photo(desk, collect):
    collect(make_case(by=desk, stage="triage"), jpeg_of(make_scene(12, size=(900, 600))), "one.jpg")
    other = collect(make_case(by=desk, stage="triage"), jpeg_of(make_scene(13, size=(900, 600))), "two.jpg")
    assert seen_before_flags(other) == []
    assert MediaHash.objects.filter(media_item=other, usable=True, region=0).count() == 1


def test_it_keeps_a_single_colour_photos_hash_out_of_matching(desk, collect):
    first = collect(make_case(by=desk, stage="triage"), single_colour_jpeg(), "grey.jpg")
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 200, 20)).save(out, "JPEG")
    second_case = make_case(by=desk, stage="triage")
    second = collect(second_case, out.getvalue(), "green.jpg")

    assert list(MediaHash.objects.filter(media_item__in=[first, second]).values_list("usable", flat=True)) == [
        False,
        False,
    ]
    assert seen_before_flags(second) == []
    second_case.refresh_from_db()
    assert second_case.stage == "in_review"


def test_it_writes_the_flag_into_a_case_the_same_file_is_added_to_later(desk, collect):
    picture = make_scene(14, size=(900, 600))
    collect(make_case(by=desk, stage="triage"), jpeg_of(picture), "first.jpg")
    copy_bytes = jpeg_of(picture, quality=60)
    copy = collect(make_case(by=desk, stage="triage"), copy_bytes, "copy.jpg")
    third_case = make_case(by=desk, stage="triage")

    collect(third_case, copy_bytes, "copy-again.jpg")

    assert [flag.case_id for flag in seen_before_flags(copy)] == sorted(c.pk for c in copy.cases.all())
    assert Flag.objects.filter(case=third_case, kind=similarity.SEEN_BEFORE).count() == 1


def test_it_flags_a_re_encoded_video_and_says_how_many_keyframes_matched(desk, collect, tmp_path):
    source = "testsrc2=size=480x270:duration=6:rate=10"
    original = video(tmp_path / "original.mp4", source, "-g", "10")
    copy = video(tmp_path / "copy.mp4", source, "-g", "10", "-vf", "scale=240:136", "-crf", "35")
    first_case = make_case(by=desk, stage="triage")
    collect(first_case, original.read_bytes(), "original.mp4")

    item = collect(make_case(by=desk, stage="triage"), copy.read_bytes(), "copy.mp4")

    (flag,) = seen_before_flags(item)
    assert flag.data["frames_matched"] >= settings.SIMILARITY_MIN_FRAMES
    assert f"{flag.data['frames_matched']} of {flag.data['frames_total']} keyframes match" in flag.message


def test_it_finds_hashes_another_process_stored_after_the_index_was_loaded(desk, collect):
    picture = make_scene(15, size=(900, 600))
    item = collect(make_case(by=desk, stage="triage"), jpeg_of(picture), "first.jpg")
    (stored,) = MediaHash.objects.filter(media_item=item, region=0)
    assert [m.media_item_id for m in similarity.lookup([stored.value], 0)] == [item.pk]
    other = MediaItem.objects.create(sha256="f" * 64, kind="photo", size=1, file="x")

    MediaHash.objects.create(media_item=other, frame=0, value=stored.value ^ 0b11)  # as a worker elsewhere would

    assert [m.media_item_id for m in similarity.lookup([stored.value], 2)] == [item.pk, other.pk]


# Search by file in the admin


@pytest.fixture
def desk_client(client, desk):
    client.force_login(desk)
    return client


def search(client, name: str, data: bytes):
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return client.post(reverse("admin:verify_case_search_by_file"), {"file": upload})


def test_it_finds_the_archived_copy_of_a_dropped_file_without_storing_anything(desk, collect, desk_client, media_root):
    picture = make_scene(16, size=(900, 600))
    case = make_case(by=desk, stage="triage", title="Soldiers at a depot")
    item = collect(case, jpeg_of(picture), "depot.jpg")
    stored_before = sorted(p.relative_to(media_root) for p in media_root.rglob("*"))
    counts = (Case.objects.count(), MediaItem.objects.count(), MediaHash.objects.count())

    response = search(desk_client, "../../from-telegram.png", jpeg_of(captioned(picture), format="PNG"))

    assert response.status_code == 200
    (row,) = response.context["matches"]
    assert row["match"].item == item and [entry["case"] for entry in row["cases"]] == [case]
    page = response.content.decode()
    assert "Soldiers at a depot" in page and "from-telegram.png" in page
    assert (Case.objects.count(), MediaItem.objects.count(), MediaHash.objects.count()) == counts
    assert sorted(p.relative_to(media_root) for p in media_root.rglob("*")) == stored_before


def test_it_says_when_a_dropped_file_was_not_seen_before(desk, collect, desk_client):
    collect(make_case(by=desk, stage="triage"), jpeg_of(make_scene(17, size=(900, 600))), "one.jpg")
    response = search(desk_client, "new.jpg", jpeg_of(make_scene(18, size=(900, 600))))
    assert response.context["matches"] == []
    assert "Not seen before:" in response.content.decode()


def test_it_explains_why_a_dropped_file_cannot_be_searched(desk_client):
    response = search(desk_client, "notes.txt", b"just some words, not a picture")
    assert response.status_code == 200
    assert "notes.txt: The file is" in response.content.decode()
    assert "not a photo or video, so it has no picture to compare" in response.content.decode()


def test_it_refuses_a_dropped_file_over_the_size_limit(desk_client, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    response = search(desk_client, "big.jpg", jpeg_of(make_scene(19)))
    assert "over the 1,000 bytes limit for one file" in response.content.decode()


def test_it_keeps_search_by_file_behind_the_login(client):
    response = client.get(reverse("admin:verify_case_search_by_file"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_tells_the_reviewer_why_a_single_colour_photo_is_left_out_of_matching(desk, collect, desk_client):
    case = make_case(by=desk, stage="triage")
    collect(case, single_colour_jpeg(), "grey.jpg")

    item = case.media_items.get()
    response = desk_client.get(reverse("admin:verify_case_file_details", args=[case.pk, item.pk]))

    assert (
        "The image is almost a single colour, so its hash would match unrelated images; "
        "it is not used to find near-duplicates." in response.content.decode()
    )


def test_it_counts_the_blank_keyframes_left_out_of_matching():
    reading = {"keyframes": [{"hash": "ab" * 8, "quality": "ok"}, {"hash": "00" * 8, "quality": "low"}]}
    assert similarity.matching_note(reading) == (
        "1 of 2 keyframes are almost a single colour and are not used to find near-duplicates."
    )
    assert similarity.matching_note({"keyframes": [{"hash": "ab" * 8, "quality": "ok"}]}) is None


def test_it_refuses_to_search_by_a_video_with_no_picture_at_all(tmp_path):
    path = tmp_path / "voice.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", str(path)],
        check=True,
        timeout=60,
    )
    (tmp_path / "work").mkdir()
    with pytest.raises(similarity.UnsearchableFile, match="has sound but no picture, so there are no keyframes"):
        similarity.search_file(path, tmp_path / "work")


def test_it_links_a_seen_before_flag_to_the_earlier_file_and_its_case(desk, collect, desk_client):
    picture = make_scene(22, size=(900, 600))
    first_case = make_case(by=desk, stage="triage")
    original = collect(first_case, jpeg_of(picture), "first.jpg")
    second_case = make_case(by=desk, stage="triage")
    collect(second_case, jpeg_of(picture, quality=55), "again.jpg")

    page = desk_client.get(reverse("admin:verify_case_media_panel", args=[second_case.pk])).content.decode()

    assert reverse("admin:verify_mediaitem_change", args=[original.pk]) in page
    assert reverse("admin:verify_case_change", args=[first_case.pk]) in page


def test_it_shows_file_names_and_titles_with_bidi_controls_isolated(desk, collect, desk_client):
    picture = make_scene(20, size=(900, 600))
    case = make_case(by=desk, stage="triage", title=HOSTILE_TITLE)
    collect(case, jpeg_of(picture), HOSTILE_NAME)
    page = search(desk_client, f"drop{HOSTILE_NAME}", jpeg_of(captioned(picture), format="PNG")).content.decode()
    assert HOSTILE_TITLE[3] in page
    assert html_unisolated(page) == []
    refused = search(desk_client, f"notes{HOSTILE_NAME}.txt", b"just some words, not a picture").content.decode()
    assert html_unisolated(refused) == []


# The same bytes in another case, and what the earlier case concluded


def approved_verdict(case: Case, by, rating: str = "false") -> Verdict:
    return Verdict.objects.create(
        case=case,
        number=1,
        rating=rating,
        confidence="high",
        summary="The footage is from 2019.",
        rationale="Earlier upload found.",
        author=by,
        status=Verdict.Status.APPROVED,
        reviewed_by=by,
        reviewed_at=datetime(2026, 11, 30, 12, tzinfo=UTC),
    )


def test_it_flags_the_same_file_in_a_new_case_naming_the_earlier_case_its_stage_and_verdict(desk, collect):
    data = jpeg_of(make_scene(30, size=(900, 600)))
    first_case = make_case(by=desk, stage="triage", title="Convoy near Kursk")
    collect(first_case, data, "convoy.jpg")
    approved_verdict(first_case, desk)
    second_case = make_case(by=desk, stage="triage", title="Troops in Kursk region")

    item = collect(second_case, data, "repost.jpg")

    (flag,) = Flag.objects.filter(kind=similarity.SAME_FILE)
    assert (flag.case, flag.media_item, flag.severity) == (second_case, item, "high")
    assert f"was already collected for case #{first_case.pk} 'Convoy near Kursk'" in flag.message
    assert "In review; verdict False, approved 30 Nov 2026" in flag.message
    assert flag.data["earlier_cases"] == [first_case.pk]
    assert flag.data["earlier_verdict"]["rating"] == "false"


def test_it_says_when_the_earlier_case_has_no_verdict_yet(desk, collect):
    data = jpeg_of(make_scene(31, size=(900, 600)))
    collect(make_case(by=desk, stage="triage"), data, "one.jpg")
    second_case = make_case(by=desk, stage="triage")

    collect(second_case, data, "two.jpg")

    (flag,) = Flag.objects.filter(case=second_case, kind=similarity.SAME_FILE)
    assert flag.message.endswith("In review; no verdict yet.")


def test_it_raises_no_same_file_flag_in_the_first_case(desk, collect):
    first_case = make_case(by=desk, stage="triage")
    collect(first_case, jpeg_of(make_scene(32, size=(900, 600))), "only.jpg")
    assert not Flag.objects.filter(kind=similarity.SAME_FILE).exists()


def test_it_cites_the_earlier_cases_verdict_in_a_near_duplicate_flag(desk, collect):
    picture = make_scene(33, size=(900, 600))
    first_case = make_case(by=desk, stage="triage", title="Flooded square")
    collect(first_case, jpeg_of(picture), "square.jpg")
    approved_verdict(first_case, desk, rating="misleading")

    copy = collect(make_case(by=desk, stage="triage"), jpeg_of(picture, quality=50), "square-again.jpg")

    (flag,) = seen_before_flags(copy)
    assert f"for case #{first_case.pk} 'Flooded square' (In review; verdict Misleading / miscaptioned, approved " in (
        flag.message
    )
    assert flag.data["earlier_verdict"]["rating"] == "misleading"


def test_it_gives_the_files_own_earliest_sighting_not_the_cases(desk, collect):
    picture = make_scene(34, size=(900, 600))
    first_case = make_case(by=desk, stage="triage")
    original = collect(first_case, jpeg_of(picture), "first.jpg")
    other = collect(first_case, jpeg_of(make_scene(35, size=(900, 600))), "unrelated.jpg")
    Sighting.objects.create(
        case=first_case, media_item=other, platform="x", account="@early", posted_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    Sighting.objects.create(
        case=first_case, media_item=None, platform="x", account="@claim", posted_at=datetime(2021, 1, 1, tzinfo=UTC)
    )
    own = Sighting.objects.create(
        case=first_case, media_item=original, platform="x", account="@own", posted_at=datetime(2024, 5, 6, tzinfo=UTC)
    )

    copy = collect(make_case(by=desk, stage="triage"), jpeg_of(picture, quality=55), "copy.jpg")

    (flag,) = seen_before_flags(copy)
    assert flag.data["earliest_sighting"] == own.pk
    assert "earliest sighting: X (Twitter) (@own), 6 May 2024" in flag.message


def test_it_says_no_sightings_when_only_the_earlier_case_has_some(desk, collect):
    picture = make_scene(36, size=(900, 600))
    first_case = make_case(by=desk, stage="triage")
    collect(first_case, jpeg_of(picture), "first.jpg")
    Sighting.objects.create(case=first_case, platform="x", account="@claim", posted_at=datetime(2021, 1, 1, tzinfo=UTC))

    copy = collect(make_case(by=desk, stage="triage"), jpeg_of(picture, quality=55), "copy.jpg")

    (flag,) = seen_before_flags(copy)
    assert flag.message.endswith("no sightings recorded.")


def test_it_shows_same_file_and_near_duplicate_flags_at_the_top_of_the_case_page(desk, collect, desk_client):
    picture = make_scene(37, size=(900, 600))
    first_case = make_case(by=desk, stage="triage", title="Bridge collapse")
    collect(first_case, jpeg_of(picture), "bridge.jpg")
    second_case = make_case(by=desk, stage="triage")
    collect(second_case, jpeg_of(picture), "bridge-same.jpg")
    collect(second_case, jpeg_of(picture, quality=50), "bridge-copy.jpg")

    page = desk_client.get(reverse("admin:verify_case_media_panel", args=[second_case.pk])).content.decode()

    top = page[page.index("Seen before in the archive") : page.index('class="vd-gallery"')]
    assert "The same file (SHA-256" in top
    assert "Near-duplicate of &#x27;bridge.jpg&#x27;" in top
    assert ">bridge-copy.jpg</a>: Near-duplicate" in top


def test_it_rewrites_the_flags_citing_a_case_when_its_stage_or_verdict_changes(
    desk, collect, django_capture_on_commit_callbacks
):
    from verify import services

    data = jpeg_of(make_scene(38, size=(900, 600)))
    first_case = make_case(by=desk, stage="in_review", title="Dam breach")
    collect(first_case, data, "dam.jpg")
    second_case = make_case(by=desk, stage="triage")
    collect(second_case, data, "dam-again.jpg")
    approved_verdict(first_case, desk)
    first_case.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        services.move_case(case=first_case, to="on_hold", by=desk)

    (flag,) = Flag.objects.filter(case=second_case, kind=similarity.SAME_FILE)
    assert flag.message.endswith("On hold; verdict False, approved 30 Nov 2026.")
