"""Trusted time against a real local authority (`openssl ts`): stamps at intake and of the chain heads,
plain words with no authority or one that is down, and refusals of forged, truncated and misdirected tokens."""

import hashlib
import io
import json
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_case
from tests.media import jpeg_bytes
from tests.record import authority as tsa
from tests.record.test_fixity import check_integrity
from verify import intake, services
from verify.models import CaseEvent
from verify.record import timestamps
from verify.record.models import TimestampToken
from workers import tasks

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")
Status = TimestampToken.Status


@pytest.fixture(scope="session")
def desk_keys(tmp_path_factory):
    if not tsa.openssl_has_ts():
        pytest.fail("These tests need `openssl ts` (Debian's openssl package has it)")
    return tsa.Keys(tmp_path_factory.mktemp("tsa-desk"), "Desk Test TSA").issue()


@pytest.fixture(scope="session")
def forger_keys(tmp_path_factory):
    return tsa.Keys(tmp_path_factory.mktemp("tsa-forger"), "Desk Test TSA").issue()


@pytest.fixture
def authority(desk_keys, settings):
    """The local authority, configured as the desk's TSA and let through the outbound rules."""
    server = tsa.start(desk_keys)
    settings.TSA_URL = server.url
    settings.TSA_CA_FILE = str(desk_keys.ca_file)
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{server.port}"]
    yield server
    server.stop()


@pytest.fixture
def eager():
    tasks.stamp_timestamp.app.conf.task_always_eager = True
    yield
    tasks.stamp_timestamp.app.conf.task_always_eager = False


def ingest(case, data=None, name="photo.jpg", by=None):
    source = io.BytesIO(data or jpeg_bytes(seed=7))
    return intake.ingest_stream(case=case, source=source, original_name=name, by=by, origin="test").media_item


def token_of(item) -> TimestampToken:
    return TimestampToken.objects.get(digest=item.sha256, status=Status.STAMPED)


def openssl_verifies(token: bytes, digest: str, ca_file, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "token.tst"
    path.write_bytes(token)
    command = ["openssl", "ts", "-verify", "-token_in", "-in", path, "-digest", digest, "-CAfile", ca_file]
    return subprocess.run(command, capture_output=True, text=True)


def test_it_stamps_an_original_at_intake_and_the_token_verifies(
    desk, authority, eager, django_capture_on_commit_callbacks, tmp_path
):
    case = make_case(by=desk, stage="triage")
    with django_capture_on_commit_callbacks(execute=True):
        item = ingest(case, by=desk)
    row = token_of(item)
    assert (row.subject, row.media_item, row.tsa_url, row.attempts) == ("original", item, authority.url, 1)
    assert abs(row.gen_time - timezone.now()) < timedelta(minutes=1)
    assert authority.requests == [("/tsr", "application/timestamp-query")]
    assert timestamps.verify_token(bytes(row.token), item.sha256)[0]
    # The token stands on its own: OpenSSL verifies it from the digest and the authority's CA alone.
    checked = openssl_verifies(bytes(row.token), item.sha256, authority.keys.ca_file, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "Verification: OK" in checked.stdout


def test_it_shows_the_stamp_on_the_case_page(client, desk, authority):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    timestamps.stamp(TimestampToken.objects.get(digest=item.sha256).pk)
    client.force_login(desk)
    panel = client.get(reverse("admin:verify_case_file_details", args=[case.pk, item.pk])).content.decode()
    gen_time = token_of(item).gen_time
    assert f"Timestamped by 127.0.0.1:{authority.port} at {gen_time:%d %b %Y %H:%M:%S} UTC (verified)" in panel


def test_it_says_plainly_when_no_authority_is_configured(client, desk, settings, eager):
    settings.TSA_URL = ""
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    row = TimestampToken.objects.get(digest=item.sha256)
    assert (row.status, row.reason) == ("pending", "not stamped: no time-stamping authority is configured (TSA_URL)")
    assert timestamps.retry_due() == 0
    client.force_login(desk)
    panel = client.get(reverse("admin:verify_case_file_details", args=[case.pk, item.pk])).content.decode()
    assert "not stamped: no time-stamping authority is configured (TSA_URL)" in panel


def test_it_keeps_the_stamp_pending_while_the_authority_is_down_and_a_retry_completes_it(
    desk, authority, settings, client
):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    row = TimestampToken.objects.get(digest=item.sha256)
    authority.stop()
    settings.TSA_URL = authority.url  # nothing listens there now
    down = timestamps.stamp(row.pk)
    assert down.status == Status.PENDING
    assert down.attempts == 1
    assert down.reason.startswith("not stamped yet: the time-stamping authority could not be asked: Could not reach")
    assert down.next_attempt_at > timezone.now() + timedelta(minutes=4)
    assert timestamps.retry_due() == 0  # not due yet
    client.force_login(desk)
    panel = client.get(reverse("admin:verify_case_file_details", args=[case.pk, item.pk])).content.decode()
    assert "the time-stamping authority could not be asked" in panel
    assert "next try" in panel

    back = tsa.start(authority.keys)
    try:
        settings.TSA_URL = back.url
        settings.OUTBOUND_ALLOW = [f"127.0.0.1:{back.port}"]
        assert timestamps.retry_due(now=timezone.now() + timedelta(minutes=6)) == 1
    finally:
        back.stop()
    stamped = TimestampToken.objects.get(pk=row.pk)
    assert (stamped.status, stamped.attempts, stamped.reason) == ("stamped", 2, "")
    assert TimestampToken.objects.filter(digest=item.sha256).count() == 1


def test_the_sweep_backs_off_and_stamps_originals_collected_before_stamping(desk, authority):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    TimestampToken.objects.all().delete()  # as if collected before the desk stamped originals
    assert timestamps.retry_due() == 1
    assert token_of(item).media_item == item
    assert timestamps._backoff(1) == timedelta(minutes=5)
    assert timestamps._backoff(3) == timedelta(minutes=20)
    assert timestamps._backoff(30) == timedelta(hours=6)


def test_it_refuses_a_token_signed_by_another_key_and_stores_nothing_as_stamped(desk, authority, forger_keys):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    row = TimestampToken.objects.get(digest=item.sha256)
    authority.sign_with(forger_keys)  # same name, another key and CA
    timestamps.stamp(row.pk)
    failed = TimestampToken.objects.get(pk=row.pk)
    assert failed.status == Status.FAILED
    assert failed.reason.startswith("answer refused: the token's signature does not verify against the authority's")
    assert failed.token is None
    retry = TimestampToken.objects.get(digest=item.sha256, status=Status.PENDING)
    assert retry.reason.startswith("not stamped yet: the authority's last answer was refused")
    assert retry.attempts == 1 and retry.next_attempt_at > timezone.now()
    assert not TimestampToken.objects.filter(status=Status.STAMPED).exists()

    authority.sign_with(authority.keys)
    timestamps.stamp(retry.pk)
    assert token_of(item).pk == retry.pk
    assert TimestampToken.objects.get(pk=row.pk).status == Status.FAILED  # the refusal stays on record


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (lambda query: b"<html>Service unavailable</html>", "is not an RFC 3161 time-stamp reply"),
        (lambda query: b"", "is not an RFC 3161 time-stamp reply"),
    ],
)
def test_it_refuses_an_answer_that_is_not_a_time_stamp(desk, authority, answer, said):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    authority.answer_with(answer)
    row = timestamps.stamp(TimestampToken.objects.get(digest=item.sha256).pk)
    assert row.status == Status.FAILED
    assert said in row.reason


def test_it_reads_an_authority_that_embeds_its_chain_out_of_der_order(desk, authority, settings, tmp_path_factory):
    chained = tsa.Keys(tmp_path_factory.mktemp("tsa-chain"), "Chained TSA", chain=True).issue()
    authority.sign_with(chained)
    settings.TSA_CA_FILE = str(chained.ca_file)
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    row = timestamps.stamp(TimestampToken.objects.get(digest=item.sha256).pk)
    assert row.status == Status.STAMPED, row.reason
    token = bytes(row.token)
    # Kept exactly as received, its certificates in OpenSSL's chain order, and it still verifies.
    assert timestamps._in_der_order(token) != token
    assert timestamps.verify_token(token, item.sha256) == (
        True,
        f"verified: SHA-256 {item.sha256[:12]}… stamped at {row.gen_time:%Y-%m-%d %H:%M:%S} UTC",
    )


def test_it_keeps_the_stamp_pending_when_the_authority_declines(desk, authority):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    busy = b"\x30\x0d\x30\x0b\x02\x01\x02\x30\x06\x0c\x04busy"  # PKIStatusInfo: rejection, "busy"
    authority.answer_with(lambda query: busy)
    row = timestamps.stamp(TimestampToken.objects.get(digest=item.sha256).pk)
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert row.reason == "not stamped yet: the authority declined (REJECTION: busy)"


def test_it_refuses_a_replayed_answer_to_another_request(desk, authority):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    earlier = authority.keys.reply(timestamps.request_for(item.sha256, nonce=12345))
    authority.answer_with(lambda query: earlier)
    row = timestamps.stamp(TimestampToken.objects.get(digest=item.sha256).pk)
    assert row.status == Status.FAILED
    assert row.reason == (
        "answer refused: the authority's answer does not carry this request's nonce: it answers another request"
    )


def real_token(keys, digest: str) -> bytes:
    from rfc3161_client import decode_timestamp_response

    return decode_timestamp_response(keys.reply(timestamps.request_for(digest, nonce=7))).time_stamp_token()


DIGEST = hashlib.sha256(b"the original").hexdigest()


def test_verify_token_accepts_a_real_token(desk_keys):
    verified, message = timestamps.verify_token(real_token(desk_keys, DIGEST), DIGEST)
    assert (verified, message[:30]) == (False, "cannot check: no certificate o")
    verified, message = timestamps.verify_token(
        real_token(desk_keys, DIGEST), DIGEST, certificate_pem=desk_keys.ca_file.read_bytes()
    )
    assert verified, message
    assert message.startswith(f"verified: SHA-256 {DIGEST[:12]}… stamped at ")


def test_verify_token_refuses_a_truncated_token(desk_keys):
    token = real_token(desk_keys, DIGEST)
    for cut in (token[:-1], token[: len(token) // 2], token[:8], b""):
        verified, message = timestamps.verify_token(cut, DIGEST, certificate_pem=desk_keys.ca_file.read_bytes())
        assert not verified
        assert message.startswith("the token is truncated or is not an RFC 3161 token")


def test_verify_token_refuses_a_token_for_another_digest(desk_keys):
    other = hashlib.sha256(b"something else").hexdigest()
    verified, message = timestamps.verify_token(
        real_token(desk_keys, other), DIGEST, certificate_pem=desk_keys.ca_file.read_bytes()
    )
    assert not verified
    assert message == f"the token stamps {other[:12]}…, not {DIGEST[:12]}…: it is a stamp of something else"


def test_verify_token_refuses_a_forged_token(desk_keys, forger_keys):
    verified, message = timestamps.verify_token(
        real_token(forger_keys, DIGEST), DIGEST, certificate_pem=desk_keys.ca_file.read_bytes()
    )
    assert not verified
    assert message.startswith("the token's signature does not verify against the authority's certificate")


def test_verify_token_refuses_a_token_whose_signed_content_was_altered(desk_keys):
    token = bytearray(real_token(desk_keys, DIGEST))
    at = bytes(token).index(bytes.fromhex(DIGEST))  # the imprint inside the signed TSTInfo
    token[at + 31] ^= 0x01
    altered = bytes(token)[at : at + 32].hex()
    ca = desk_keys.ca_file.read_bytes()
    assert timestamps.verify_token(bytes(token), DIGEST, certificate_pem=ca) == (
        False,
        f"the token stamps {altered[:12]}…, not {DIGEST[:12]}…: it is a stamp of something else",
    )
    # Claiming the altered digest does not help: the signature covers the original imprint.
    verified, message = timestamps.verify_token(bytes(token), altered, certificate_pem=ca)
    assert not verified
    assert message.startswith("the token's signature does not verify")


def test_it_stamps_every_case_chain_head_once_a_day(desk, authority):
    first = make_case(by=desk, stage="triage")
    second = make_case(by=desk)
    row = TimestampToken.objects.get(pk=tasks.stamp_chain_heads())
    listing = json.loads(row.listing)
    heads = {case.pk: CaseEvent.objects.filter(case=case).order_by("-pk").first().digest for case in (first, second)}
    assert listing == [[pk, heads[pk]] for pk in sorted(heads)]
    assert row.digest == hashlib.sha256(row.listing.encode()).hexdigest()
    assert (row.subject, row.status) == ("chain_head", "stamped")
    assert timestamps.verify_token(bytes(row.token), row.digest)[0]
    assert tasks.stamp_chain_heads() is None  # nothing changed: yesterday's stamp still covers every head

    services.record_event(case=second, kind=CaseEvent.Kind.UPDATED, by=desk, note="claim sharpened")
    assert tasks.stamp_chain_heads() != row.pk
    assert TimestampToken.objects.filter(subject="chain_head", status="stamped").count() == 2


def test_tokens_for_case_lists_its_originals_and_the_chain_heads_that_include_it(desk, authority):
    case = make_case(by=desk, stage="triage")
    other = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk, name="kursk.jpg")
    ingest(other, jpeg_bytes(seed=99), by=desk)
    for row in TimestampToken.objects.filter(status=Status.PENDING):
        timestamps.stamp(row.pk)
    heads = timestamps.stamp_chain_heads()
    tokens = timestamps.tokens_for_case(case)
    assert [(t["subject"], t["digest"]) for t in tokens] == [("original", item.sha256), ("chain_head", heads.digest)]
    original, chain_heads = tokens
    assert set(original) == {"label", "digest", "token", "tsa_url", "gen_time", "subject", "listing"}
    assert original["listing"] is None and chain_heads["listing"] == heads.listing
    assert original["label"] == f"original kursk.jpg (SHA-256 {item.sha256})"
    assert isinstance(original["token"], bytes) and original["tsa_url"] == authority.url
    assert original["gen_time"] == token_of(item).gen_time
    head = CaseEvent.objects.filter(case=case).order_by("-pk").first().digest
    assert chain_heads["label"] == f"chain heads of every case; case #{case.pk}'s head was {head}"
    assert hashlib.sha256(chain_heads["listing"].encode()).hexdigest() == chain_heads["digest"]
    assert all(timestamps.verify_token(t["token"], t["digest"])[0] for t in tokens)


def test_check_integrity_re_verifies_stored_tokens_and_names_a_bad_one(desk, authority, capsys, monkeypatch):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk)
    timestamps.stamp(TimestampToken.objects.get(digest=item.sha256).pk)
    code, out = check_integrity(capsys, monkeypatch)
    assert code == 0, out
    assert "Re-verified 1 time-stamp token(s)." in out

    row = token_of(item)
    TimestampToken.objects.filter(pk=row.pk).update(token=bytes(row.token)[:-40])  # damage below the ORM
    code, out = check_integrity(capsys, monkeypatch)
    assert code == 1
    assert f"BAD TIMESTAMP #{row.pk} original {item.sha256[:12]} (photo.jpg): the token is truncated" in out


def test_the_sweep_stops_at_an_authority_that_is_down(desk, authority, settings):
    case = make_case(by=desk, stage="triage")
    ingest(case, by=desk)
    ingest(case, jpeg_bytes(seed=8), name="second.jpg", by=desk)
    authority.stop()
    assert timestamps.retry_due() == 1  # the second would only wait for the same dead address
    assert sorted(TimestampToken.objects.values_list("attempts", flat=True)) == [0, 1]


def test_a_chain_head_listing_waiting_for_an_authority_is_superseded_by_the_next(desk, settings):
    settings.TSA_URL = ""
    case = make_case(by=desk, stage="triage")
    first = timestamps.stamp_chain_heads()
    assert (first.status, first.reason) == ("pending", timestamps.NOT_CONFIGURED)
    services.record_event(case=case, kind=CaseEvent.Kind.UPDATED, by=desk, note="claim sharpened")
    second = timestamps.stamp_chain_heads()
    assert list(TimestampToken.objects.filter(subject="chain_head").values_list("pk", flat=True)) == [second.pk]


def test_the_admin_lists_tokens_and_checks_one_on_its_page(admin_client, desk, authority):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, by=desk, name="kursk.jpg")
    row = timestamps.stamp(TimestampToken.objects.get(digest=item.sha256).pk)
    listing = admin_client.get(reverse("admin:verify_timestamptoken_changelist")).content.decode()
    assert "kursk.jpg" in listing and f"127.0.0.1:{authority.port}" in listing
    page = admin_client.get(reverse("admin:verify_timestamptoken_change", args=[row.pk])).content.decode()
    assert f"verified: SHA-256 {item.sha256[:12]}… stamped at" in page
