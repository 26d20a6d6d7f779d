"""Intake: content-addressed, hashed while streaming, deduplicated, custody recorded, bad input refused."""

import hashlib
import http.server
import io
import os
import socket
import stat
import struct
import threading
import time
import tracemalloc

import pytest

from tests.factories import make_case
from tests.media import jpeg_bytes, png_bytes
from verify import intake, services
from verify.intake import IntakeError, ingest_stream, ingest_url, safe_original_name
from verify.models import CaseEvent, Extraction, MediaItem
from verify.outbound import FetchFailed, OutboundError, Refused
from workers.extractors import extractors_for

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


def ingest(case, data: bytes, name="photo.jpg", by=None):
    return ingest_stream(case=case, source=io.BytesIO(data), original_name=name, by=by, origin="test")


def test_it_stores_the_file_by_its_sha256_read_only(desk, media_root):
    case = make_case(by=desk, stage="triage")
    data = jpeg_bytes()
    result = ingest(case, data, by=desk)
    sha = hashlib.sha256(data).hexdigest()
    stored = media_root / "originals" / sha[:2] / sha[2:4] / sha
    assert result.media_item.sha256 == sha
    assert stored.read_bytes() == data
    assert not stored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert (result.media_item.kind, result.media_item.size) == ("photo", len(data))


def test_it_records_custody_and_starts_collecting(desk, django_capture_on_commit_callbacks, tasks_not_sent):
    case = make_case(by=desk, stage="triage")
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(case, jpeg_bytes(), name="IMG_0001.jpg", by=desk)
    event = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.MEDIA_COLLECTED)
    assert event.actor == desk
    assert event.media_item == result.media_item
    assert event.new["original_name"] == "IMG_0001.jpg"
    assert event.new["sha256"] == result.media_item.sha256
    assert event.new["origin"] == "test"
    case.refresh_from_db()
    assert case.stage == "collecting"
    assert set(result.media_item.extractions.values_list("extractor", "status")) == {
        (module.NAME, "pending") for module in extractors_for("photo")
    }
    assert tasks_not_sent == [result.media_item.pk]


def test_it_keeps_the_same_bytes_as_one_item_linked_to_a_second_case(desk):
    first, second = make_case(by=desk, stage="triage"), make_case(by=desk, stage="triage")
    data = jpeg_bytes()
    one = ingest(first, data, name="a.jpg", by=desk)
    two = ingest(second, data, name="renamed-copy.jpg", by=desk)
    again = ingest(second, data, by=desk)
    assert MediaItem.objects.count() == 1
    assert one.media_item == two.media_item == again.media_item
    assert (two.stored_new_file, two.linked_to_case, two.outcome) == (False, True, "already in the archive, linked")
    assert again.outcome == "already in this case"
    assert set(one.media_item.cases.all()) == {first, second}
    assert CaseEvent.objects.get(case=second, kind="media_collected").new["already_in_archive"] is True
    assert Extraction.objects.count() == len(extractors_for("photo"))


def test_it_takes_the_kind_from_the_bytes_not_the_name(desk):
    case = make_case(by=desk, stage="triage")
    assert ingest(case, png_bytes(), name="video.mp4", by=desk).media_item.kind == "photo"


def test_it_keeps_an_unsupported_file_with_a_recorded_outcome(desk):
    case = make_case(by=desk, stage="triage")
    result = ingest(case, b"%PDF-1.7 not a photo", name="dossier.pdf", by=desk)
    assert (result.media_item.kind, result.outcome) == ("other", "stored, unsupported kind")
    extraction = result.media_item.extractions.get()
    assert extraction.status == "unsupported"
    assert "no extractor reads this kind of file" in extraction.error
    assert case.pending_extraction_count() == 0


def test_it_moves_a_case_given_only_an_unsupported_file_on_to_review(desk):
    case = make_case(by=desk, stage="triage")
    ingest(case, b"A tip from a reader, as plain text.\n", name="tip.txt", by=desk)
    case.refresh_from_db()
    assert case.stage == "in_review"
    last = CaseEvent.objects.filter(case=case, kind="stage_changed").last()
    assert (last.actor, last.note) == (None, "Every file's extractions have an outcome")


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\tip\\clip.mp4", "clip.mp4"),
        ("evil\x00.jpg", "evil.jpg"),
        ("..", "unnamed"),
        ("line\nbreak.jpg", "linebreak.jpg"),
    ],
)
def test_it_never_uses_a_given_name_as_a_path(given, recorded):
    assert safe_original_name(given) == recorded


def test_it_shortens_a_name_of_thousands_of_characters_keeping_the_extension():
    name = safe_original_name("a" * 5000 + ".jpeg")
    assert len(name) <= intake.MAX_NAME_CHARS
    assert name.endswith("….jpeg")


def test_it_writes_nothing_outside_the_archive_for_a_hostile_name(desk, media_root):
    case = make_case(by=desk, stage="triage")
    result = ingest(case, jpeg_bytes(), name="../../../../tmp/evil.jpg", by=desk)
    assert result.media_item.original_name == "evil.jpg"
    written = {p.relative_to(media_root).parts[0] for p in media_root.rglob("*") if p.is_file()}
    assert written == {"originals"}


def test_it_refuses_a_file_over_the_size_limit_and_keeps_nothing(desk, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 1000
    case = make_case(by=desk, stage="triage")
    with pytest.raises(IntakeError, match="File is larger than the 1,000 bytes limit for one file"):
        ingest(case, jpeg_bytes(size=(200, 200)), by=desk)
    assert not MediaItem.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_it_refuses_files_for_a_closed_case(desk):
    case = make_case(by=desk, stage="dismissed")
    with pytest.raises(IntakeError, match="is Dismissed; reopen it"):
        ingest(case, jpeg_bytes(), by=desk)


def test_it_refuses_intake_by_a_user_without_a_desk_role(desk):
    from tests.factories import make_user

    case = make_case(by=desk, stage="triage")
    with pytest.raises(intake.workflow.NotPermitted):
        ingest(case, jpeg_bytes(), by=make_user())


class Chunks(io.RawIOBase):
    """A large generated stream, produced a chunk at a time."""

    def __init__(self, total: int):
        self.left, self.block = total, os.urandom(1024 * 1024)

    def readable(self):
        return True

    def read(self, size=-1):
        size = min(self.left, len(self.block) if size < 0 else size)
        self.left -= size
        return self.block[:size]


def test_it_streams_a_large_file_with_flat_memory(desk):
    case = make_case(by=desk, stage="triage")
    total = 96 * 1024 * 1024
    tracemalloc.start()
    try:
        result = ingest_stream(case=case, source=Chunks(total), original_name="big.bin", by=desk, origin="test")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.media_item.size == total
    assert peak < 8 * 1024 * 1024, f"intake peaked at {peak / 1024 / 1024:.1f} MiB for a 96 MiB file"


@pytest.fixture
def web_server(settings):
    """A local HTTP server that serves a JPEG, a large file, a 404, and downloads that break off.

    The desk refuses loopback addresses; these tests allow this one server's port, as an intranet source.
    """
    body = jpeg_bytes(seed=7)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            if self.path.startswith("/photo.jpg"):
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/huge.mp4":
                self.send_response(200)
                self.send_header("Content-Length", str(50 * 1024**3))
                self.end_headers()
            elif self.path == "/cut.jpg":
                # Announces 100,000 bytes, sends 103 and closes cleanly.
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(body[:103])
            elif self.path == "/cut-chunked.jpg":
                # A chunk of 100,000 bytes announced, 103 sent: the client sees an IncompleteRead.
                self.protocol_version = "HTTP/1.1"
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"%x\r\n" % 100000 + body[:103])
                self.close_connection = True
            elif self.path == "/reset.jpg":
                # 103 bytes of 100,000, then the connection is reset (RST, not a clean close).
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(body[:103])
                time.sleep(0.3)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            elif self.path == "/no-length.bin":
                # No Content-Length: the body runs until the server closes the connection.
                self.send_response(200)
                self.end_headers()
                self.wfile.write(bytes(3000))
            else:
                self.send_error(404, "Not Found")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{server.server_address[1]}"]
    yield f"http://127.0.0.1:{server.server_address[1]}", body
    server.shutdown()


def test_it_downloads_a_file_from_a_link_with_custody(desk, web_server):
    base, body = web_server
    case = make_case(by=desk, stage="triage")
    result = ingest_url(case=case, url=f"{base}/photo.jpg?x=1", by=desk)
    assert result.media_item.sha256 == hashlib.sha256(body).hexdigest()
    assert result.media_item.original_name == "photo.jpg"
    origin = CaseEvent.objects.get(case=case, kind="media_collected").new["origin"]
    assert origin.startswith(f"downloaded from {base}/photo.jpg?x=1") and "HTTP 200" in origin
    assert "connected to 127.0.0.1" in origin


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing.jpg", "The server refused the download: HTTP 404"),
        ("/huge.mp4", "over the 4 GiB limit; nothing was downloaded"),
    ],
)
def test_it_refuses_a_bad_download_clearly(desk, web_server, path, message):
    case = make_case(by=desk, stage="triage")
    with pytest.raises(OutboundError, match=message):
        ingest_url(case=case, url=web_server[0] + path, by=desk)
    assert not MediaItem.objects.exists()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/cut.jpg", r"ended at byte 103 of the 100,000 the server announced; nothing was stored"),
        ("/cut-chunked.jpg", r"broke off after [\d,]+ bytes \(.*\); nothing was stored"),
        ("/reset.jpg", r"(broke off after [\d,]+ bytes|ended at byte 103 of the 100,000) .*nothing was stored"),
    ],
)
def test_it_refuses_a_download_that_ends_before_the_whole_file(desk, web_server, media_root, path, message):
    case = make_case(by=desk, stage="triage")
    with pytest.raises(FetchFailed, match=r"^The download from 127\.0\.0\.1:\d+ " + message):
        ingest_url(case=case, url=web_server[0] + path, by=desk)
    assert not MediaItem.objects.exists()
    assert not CaseEvent.objects.filter(case=case, kind="media_collected").exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_it_refuses_a_download_without_a_length_that_runs_over_the_limit(desk, web_server, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 1000
    case = make_case(by=desk, stage="triage")
    with pytest.raises(Refused, match="ran past the 1,000 bytes limit for one file and was stopped"):
        ingest_url(case=case, url=web_server[0] + "/no-length.bin", by=desk)
    assert not MediaItem.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/a.jpg", "not a url"])
def test_it_downloads_only_http_links(desk, url):
    case = make_case(by=desk, stage="triage")
    with pytest.raises(Refused, match="Only http:// and https:// links"):
        ingest_url(case=case, url=url, by=desk)


def test_it_says_when_a_host_cannot_be_reached(desk, settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.1:9"]
    case = make_case(by=desk, stage="triage")
    with pytest.raises(FetchFailed, match="Could not reach 127.0.0.1:9 at 127.0.0.1: .*Connection refused"):
        ingest_url(case=case, url="http://127.0.0.1:9/x.jpg", by=desk)


def test_it_stores_custody_of_a_file_whose_name_and_type_carry_nul_characters(desk):
    case = make_case(by=desk, stage="triage")
    result = ingest(case, b"\x00\x00\x00\x18ftypi\x00\x01m" + bytes(100), name="a\x00b.mp4", by=desk)
    event = CaseEvent.objects.get(case=case, kind="media_collected")
    assert (event.new["original_name"], event.new["type"]) == ("ab.mp4", "ISO media file (brand i??m)")
    assert result.media_item.kind == "video"


def test_it_puts_a_case_in_review_back_to_collecting_when_a_file_arrives(desk, reviewer):
    case = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case = services.transition_case(case=case, to="in_review", by=desk)
    ingest(case, jpeg_bytes(), by=desk)
    case.refresh_from_db()
    assert case.stage == "collecting"


def test_it_removes_partial_uploads_left_by_a_stopped_intake(media_root):
    incoming = media_root / "incoming"
    incoming.mkdir(parents=True)
    old, fresh = incoming / "intake-old", incoming / "intake-fresh"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"in progress")
    os.utime(old, (1, 1))
    assert intake.remove_abandoned_uploads() == 1
    assert not old.exists() and fresh.exists()
