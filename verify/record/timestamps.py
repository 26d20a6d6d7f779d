"""Trusted time: RFC 3161 time-stamps from the configured authority, and everything the desk does with them.

This module is the desk's one adapter for the time-stamping authority (TSA_URL, TSA_CA_FILE). It owns
the request (a SHA-256 message imprint, a nonce, certReq), the POST through the guarded outbound
client, the checks of every answer (it parses, the imprint is our digest, the nonce is ours, the
signature chains to the configured certificate, and its genTime), the TimestampToken rows (pending,
stamped, failed, with retries and backoff) and what the desk shows and exports of them. Every other
module calls the functions here; nothing else talks to the authority.

Two things are stamped: each original's SHA-256 after intake, and once a day one digest over every
case's chain head (`listing`), so that a case's history can be shown to have existed by then.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from rfc3161_client import PKIStatus, VerificationError, VerifierBuilder, decode_timestamp_response

from verify import outbound
from verify.record.models import TimestampToken

log = logging.getLogger(__name__)

NOT_CONFIGURED = "not stamped: no time-stamping authority is configured (TSA_URL)"
NO_CERTIFICATE = (
    "not stamped: TSA_URL is set but TSA_CA_FILE is not; the desk stamps only when it can check the "
    "authority's signature against its certificate"
)
QUERY_TYPE, REPLY_TYPE = "application/timestamp-query", "application/timestamp-reply"
# An answer is a few kilobytes; anything far larger is not a time-stamp reply.
MAX_REPLY_BYTES = 1024 * 1024
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
SHA256_OID_DER = bytes.fromhex("608648016503040201")
# Retries after an unreachable authority wait 5 minutes, then twice as long each time, at most 6 hours.
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=6)
# Stamps one sweep tries at most; the rest wait for the next sweep.
SWEEP_BATCH = 200
Subject, Status = TimestampToken.Subject, TimestampToken.Status


class NotStamped(Exception):
    """No token this time; the reason is for the desk, and the row stays pending for a retry."""


class AnswerRefused(Exception):
    """The authority answered, but not with a token the desk accepts (forged, for another digest, garbled)."""


# --- the authority -----------------------------------------------------------------------------------


def configured() -> str | None:
    """Why the desk cannot stamp now (the plain reason shown), or None when it can."""
    if not settings.TSA_URL:
        return NOT_CONFIGURED
    if not settings.TSA_CA_FILE:
        return NO_CERTIFICATE
    return None


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    octets = (size.bit_length() + 7) // 8
    return bytes([tag, 0x80 | octets]) + size.to_bytes(octets, "big") + body


def _der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def request_for(digest_hex: str, nonce: int) -> bytes:
    """The DER TimeStampReq for a SHA-256 the desk already has: version 1, imprint, nonce, certReq true.

    Written here because rfc3161-client's request builder hashes the data itself: it would need the
    whole original in memory, and an original may be gigabytes; the desk hashed it once, at intake.
    """
    algorithm = _der(0x30, _der(0x06, SHA256_OID_DER) + b"\x05\x00")
    imprint = _der(0x30, algorithm + _der(0x04, bytes.fromhex(digest_hex)))
    return _der(0x30, _der_integer(1) + imprint + _der_integer(nonce) + b"\x01\x01\xff")


def _as_response(token: bytes) -> bytes:
    """A stored token wrapped in a granted TimeStampResp, the form rfc3161-client parses."""
    return _der(0x30, _der(0x30, _der_integer(0)) + bytes(token))


def _element(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, where its content starts, where it ends) of the DER element at `at`."""
    tag, first = data[at], data[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    octets = first & 0x7F
    start = at + 2 + octets
    return tag, start, start + int.from_bytes(data[at + 2 : start], "big")


def _elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, start, content start, end) of each element between `start` and `end`."""
    found = []
    while start < end:
        tag, content, stop = _element(data, start)
        found.append((tag, start, content, stop))
        start = stop
    return found


def token_of(response: bytes) -> bytes | None:
    """The TimeStampToken's bytes exactly as they stand in a TimeStampResp, or None if it carries none."""
    try:
        _, content, end = _element(response, 0)
        parts = _elements(response, content, end)
    except IndexError:
        return None
    return response[parts[1][1] : parts[1][3]] if len(parts) == 2 else None


def _in_der_order(token: bytes) -> bytes:
    """The token with its certificates sorted as DER's SET OF requires, for parsing only.

    rfc3161-client parses strict DER; some authorities (OpenSSL's `certs` option) list a chain in
    chain order. The signature does not cover that list, so its order changes nothing that is
    checked; what is stored is always the token as received.
    """
    try:
        _, content, end = _element(token, 0)
        explicit = _elements(token, content, end)[1]  # [0] EXPLICIT SignedData, after the content type
        _, signed, signed_end = _element(token, explicit[2])
        for tag, _, start, stop in _elements(token, signed, signed_end):
            if tag == 0xA0:  # certificates [0] IMPLICIT SET OF
                certificates = sorted(token[at:after] for _, at, _, after in _elements(token, start, stop))
                return token[:start] + b"".join(certificates) + token[stop:]
    except IndexError:
        pass
    return token


def _decode(token: bytes):
    return decode_timestamp_response(_as_response(_in_der_order(token)))


def request_token(digest_hex: str) -> tuple[bytes, datetime]:
    """Ask the configured authority to stamp `digest_hex`: (the verified DER token, its genTime).

    Raises NotStamped when it could not be asked or declined, AnswerRefused when its answer fails a check.
    """
    url = settings.TSA_URL
    nonce = secrets.randbits(63)
    try:
        answer = outbound.post(
            url,
            request_for(digest_hex, nonce),
            content_type=QUERY_TYPE,
            accept=REPLY_TYPE,
            max_bytes=MAX_REPLY_BYTES,
            deadline_seconds=settings.TSA_TIMEOUT,
        )
    except outbound.OutboundError as exc:
        raise NotStamped(f"not stamped yet: the time-stamping authority could not be asked: {exc}") from None
    try:
        status, words = _status(answer)
    except (IndexError, ValueError) as exc:
        raise AnswerRefused(
            f"the authority's answer ({len(answer):,} bytes) is not an RFC 3161 time-stamp reply ({_short(exc)})"
        ) from None
    if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise NotStamped(f"not stamped yet: the authority declined ({PKIStatus(status).name}: {words})")
    token = token_of(answer)
    if token is None:
        raise AnswerRefused("the authority granted the stamp but sent no token")
    try:
        info = _decode(token).tst_info
        answered_nonce, gen_time = info.nonce, info.gen_time
    except ValueError as exc:
        raise AnswerRefused(f"the authority granted the stamp but its token cannot be read ({_short(exc)})") from None
    if answered_nonce != nonce:
        raise AnswerRefused("the authority's answer does not carry this request's nonce: it answers another request")
    verified, message = verify_token(token, digest_hex)
    if not verified:
        raise AnswerRefused(message)
    return token, gen_time


def _status(answer: bytes) -> tuple[int, str]:
    """The PKIStatus of a TimeStampResp and its words, read before (and without) its token."""
    try:
        _, content, end = _element(answer, 0)
        parts = _elements(answer, content, end) if end == len(answer) else []
    except IndexError:
        parts = []
    if not 1 <= len(parts) <= 2 or parts[-1][3] != len(answer):
        raise ValueError("its length fields do not add up to the bytes received, or it is not DER")
    status_info = answer[parts[0][1] : parts[0][3]]
    reply = decode_timestamp_response(_der(0x30, status_info))
    return reply.status, "; ".join(reply.status_string) or "no reason given"


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]


@functools.lru_cache(maxsize=4)
def _certificates(pem: bytes) -> tuple[x509.Certificate, ...]:
    return tuple(dict.fromkeys(x509.load_pem_x509_certificates(pem)))  # each once: the builder refuses repeats


def configured_certificate() -> bytes | None:
    """The PEM the desk checks tokens against (TSA_CA_FILE), or None when none is configured."""
    if not settings.TSA_CA_FILE:
        return None
    return Path(settings.TSA_CA_FILE).read_bytes()


def verify_token(token: bytes, digest_hex: str, *, certificate_pem: bytes | None = None) -> tuple[bool, str]:
    """Check a stored token offline: (True, what it proves) or (False, what is wrong with it).

    It must parse whole, stamp SHA-256 `digest_hex`, and carry a signature from a certificate meant
    for time-stamping (critical extendedKeyUsage timeStamping) that chains to a root certificate in
    `certificate_pem` (PEM: the authority's root CA and any intermediates; TSA_CA_FILE by default).
    """
    try:
        pem = certificate_pem if certificate_pem is not None else configured_certificate()
    except OSError as exc:
        return False, f"cannot check: TSA_CA_FILE could not be read ({exc.strerror or exc})"
    if not pem:
        return False, "cannot check: no certificate of the time-stamping authority is configured (TSA_CA_FILE)"
    try:
        trusted = _certificates(bytes(pem))
    except ValueError:
        return False, "cannot check: the authority's certificate is not a PEM certificate"
    token = bytes(token)
    try:
        response = _decode(token)
        imprint, gen_time = response.tst_info.message_imprint, response.tst_info.gen_time
    except ValueError as exc:
        return False, f"the token is truncated or is not an RFC 3161 token ({len(token):,} bytes; {_short(exc)})"
    if imprint.hash_algorithm != SHA256_OID:
        return False, f"the token stamps a digest of another kind ({imprint.hash_algorithm.dotted_string}), not SHA-256"
    if imprint.message.hex() != digest_hex.lower():
        return False, (
            f"the token stamps {imprint.message.hex()[:12]}…, not {digest_hex[:12]}…: it is a stamp of something else"
        )
    builder = VerifierBuilder()
    for certificate in trusted:
        builder = builder.add_root_certificate(certificate)
    try:
        builder.build().verify(response, imprint.message)
    except (VerificationError, ValueError) as exc:  # ValueError: a signature the library cannot even evaluate
        return False, f"the token's signature does not verify against the authority's certificate ({_short(exc)})"
    return True, f"verified: SHA-256 {digest_hex[:12]}… stamped at {gen_time:%Y-%m-%d %H:%M:%S} UTC"


@functools.lru_cache(maxsize=4096)
def _verified_cached(token: bytes, digest_hex: str, pem: bytes) -> tuple[bool, str]:
    return verify_token(token, digest_hex, certificate_pem=pem)


def check_now(row: TimestampToken) -> tuple[bool, str]:
    """Re-verify a stored row's token against the configured certificate (cached per token and certificate)."""
    try:
        pem = configured_certificate()
    except OSError as exc:
        return False, f"cannot check: TSA_CA_FILE could not be read ({exc.strerror or exc})"
    if not pem:
        return verify_token(row.token, row.digest)
    return _verified_cached(bytes(row.token), row.digest, pem)


# --- the rows ----------------------------------------------------------------------------------------


def _pending(**fields) -> TimestampToken:
    """The open row for this digest, created pending if there is none; a stamped one is returned as it is."""
    open_rows = TimestampToken.objects.filter(
        subject=fields["subject"], digest=fields["digest"], status__in=[Status.PENDING, Status.STAMPED]
    )
    row = open_rows.first()
    if row is None:
        try:
            with transaction.atomic():
                row = TimestampToken.objects.create(**fields, status=Status.PENDING, reason=configured() or "")
        except IntegrityError:  # another worker opened it a moment ago
            row = open_rows.get()
    return row


def queue_original(item) -> TimestampToken:
    """Open the stamp of a new original (in intake's transaction); the task is sent once it commits."""
    row = _pending(subject=Subject.ORIGINAL, digest=item.sha256, media_item=item)
    # With no authority the row already says so; the sweep stamps it once one is configured.
    if row.status == Status.PENDING and not configured():
        transaction.on_commit(lambda: send_stamp(row.pk))
    return row


def send_stamp(row_id: int) -> None:
    """Queue the stamping task; a broker that is down leaves the row for the sweep."""
    from verify.pipeline import BROKER_ERRORS
    from workers.tasks import stamp_timestamp

    try:
        stamp_timestamp.delay(row_id)
    except BROKER_ERRORS as exc:
        log.warning("Broker unreachable (%s); the time-stamp sweep will stamp row %s", exc, row_id)


def stamp(row_id: int) -> TimestampToken:
    """Try once to stamp a pending row, and record the outcome on it. A row no longer pending is left alone."""
    row = TimestampToken.objects.get(pk=row_id)
    if row.status != Status.PENDING:
        return row
    reason = configured()
    if reason:
        TimestampToken.objects.filter(pk=row.pk, status=Status.PENDING).update(reason=reason, next_attempt_at=None)
        return TimestampToken.objects.get(pk=row.pk)
    now = timezone.now()
    try:
        token, gen_time = request_token(row.digest)
    except NotStamped as exc:
        _retry_later(row, str(exc), now)
    except AnswerRefused as exc:
        _refuse(row, str(exc), now)
    else:
        TimestampToken.objects.filter(pk=row.pk, status=Status.PENDING).update(
            status=Status.STAMPED,
            token=token,
            gen_time=gen_time,
            tsa_url=settings.TSA_URL,
            reason="",
            attempts=row.attempts + 1,
            last_attempt_at=now,
            stamped_at=timezone.now(),
            next_attempt_at=None,
        )
    return TimestampToken.objects.get(pk=row.pk)


def _backoff(attempts: int) -> timedelta:
    return min(LONGEST_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))


def _retry_later(row: TimestampToken, reason: str, now: datetime) -> None:
    attempts = row.attempts + 1
    log.warning("Time-stamp of %s %s: %s", row.subject, row.digest[:12], reason)
    TimestampToken.objects.filter(pk=row.pk, status=Status.PENDING).update(
        reason=reason,
        attempts=attempts,
        last_attempt_at=now,
        tsa_url=settings.TSA_URL,
        next_attempt_at=now + _backoff(attempts),
    )


def _refuse(row: TimestampToken, problem: str, now: datetime) -> None:
    """Close the row as failed with what was wrong, and open a new pending row for the retry."""
    attempts = row.attempts + 1
    log.error("Time-stamp answer for %s %s refused: %s", row.subject, row.digest[:12], problem)
    with transaction.atomic():
        closed = TimestampToken.objects.filter(pk=row.pk, status=Status.PENDING).update(
            status=Status.FAILED,
            reason=f"answer refused: {problem}",
            attempts=attempts,
            last_attempt_at=now,
            tsa_url=settings.TSA_URL,
            next_attempt_at=None,
        )
        if closed:
            TimestampToken.objects.create(
                subject=row.subject,
                digest=row.digest,
                media_item_id=row.media_item_id,
                listing=row.listing,
                reason=f"not stamped yet: the authority's last answer was refused ({problem})",
                attempts=attempts,
                last_attempt_at=now,
                next_attempt_at=now + _backoff(attempts),
            )


def queue_unstamped_originals() -> int:
    """Open a pending stamp for every original with none (collected before stamping, or its row lost)."""
    from verify.models import MediaItem

    has_row = TimestampToken.objects.filter(
        subject=Subject.ORIGINAL, digest=OuterRef("sha256"), status__in=[Status.PENDING, Status.STAMPED]
    )
    opened = 0
    for item in MediaItem.objects.filter(~Exists(has_row)).iterator():
        _pending(subject=Subject.ORIGINAL, digest=item.sha256, media_item=item)
        opened += 1
    return opened


def retry_due(now: datetime | None = None) -> int:
    """Beat's sweep: stamp the pending rows whose time has come; returns how many were tried.

    It stops at the first the authority does not stamp (down, or declining): the others would only
    wait for it in turn, and keep their own time for the next sweep.
    """
    if configured():
        return 0
    now = now or timezone.now()
    queue_unstamped_originals()
    due = TimestampToken.objects.filter(status=Status.PENDING).exclude(next_attempt_at__gt=now).order_by("pk")
    tried = 0
    for row_id in due.values_list("pk", flat=True)[:SWEEP_BATCH]:
        tried += 1
        row = stamp(row_id)
        if row.status == Status.PENDING:
            break
    return tried


# --- chain heads -------------------------------------------------------------------------------------


def chain_heads_listing() -> str:
    """Canonical JSON of [[case id, head digest], ...] for every case with events, by case id."""
    from verify.models import Case, CaseEvent

    head = CaseEvent.objects.filter(case=OuterRef("pk")).order_by("-pk").values("digest")[:1]
    rows = Case.objects.annotate(head=Subquery(head)).filter(head__isnull=False).order_by("pk")
    listing = [[pk, digest] for pk, digest in rows.values_list("pk", "head")]
    return json.dumps(listing, separators=(",", ":"), ensure_ascii=True)


def stamp_chain_heads() -> TimestampToken | None:
    """Once a day: stamp the digest of every case's chain head; None when there is no case, or nothing
    changed since the last stamp (that stamp still covers every head)."""
    listing = chain_heads_listing()
    if listing == "[]":
        return None
    digest = hashlib.sha256(listing.encode()).hexdigest()
    row = _pending(subject=Subject.CHAIN_HEAD, digest=digest, listing=listing)
    if row.status != Status.PENDING:
        return None
    # An older listing still waiting (no authority then) is superseded: this one covers every newer head.
    # It holds no token, so nothing stamped is lost.
    TimestampToken.objects.filter(subject=Subject.CHAIN_HEAD, status=Status.PENDING).exclude(pk=row.pk).delete()
    return stamp(row.pk)


# --- what the desk shows and exports -----------------------------------------------------------------


def authority_name(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


@dataclass(frozen=True)
class Shown:
    """One original's time-stamp as the case page states it."""

    stamped: bool
    verified: bool
    text: str


def shown_for(items) -> dict[int, Shown]:
    """What the media panel says about each item's time-stamp, by item id, in one query."""
    rows = TimestampToken.objects.filter(subject=Subject.ORIGINAL, digest__in=[item.sha256 for item in items])
    latest: dict[str, TimestampToken] = {}
    for row in rows.order_by("created_at", "pk"):
        current = latest.get(row.digest)
        if current is None or current.status != Status.STAMPED:
            latest[row.digest] = row
    shown = {}
    for item in items:
        row = latest.get(item.sha256)
        shown[item.pk] = _shown(row)
    return shown


def _shown(row: TimestampToken | None) -> Shown:
    if row is None:
        return Shown(False, False, "not stamped: no time-stamp has been requested for it yet")
    if row.status == Status.STAMPED:
        verified, message = check_now(row)
        when = f"{row.gen_time.astimezone(UTC):%d %b %Y %H:%M:%S} UTC"
        state = "verified" if verified else f"NOT verified: {message}"
        return Shown(True, verified, f"Timestamped by {authority_name(row.tsa_url)} at {when} ({state})")
    reason = row.reason or configured() or "not stamped yet: waiting for a worker"
    if row.next_attempt_at and not configured():
        reason += f"; next try {row.next_attempt_at.astimezone(UTC):%d %b %Y %H:%M} UTC"
    return Shown(False, False, reason)


def tokens_for_case(case) -> list[dict]:
    """Every stored token about `case`, for its export: its originals' and the chain-head stamps listing it."""
    items = list(case.media_items.order_by("collected_at", "pk"))
    names = {item.sha256: item.original_name or item.sha256[:12] for item in items}
    tokens = []
    originals = TimestampToken.objects.filter(
        subject=Subject.ORIGINAL, status=Status.STAMPED, digest__in=list(names)
    ).order_by("gen_time", "pk")
    for row in originals:
        tokens.append(_exported(row, f"original {names[row.digest]} (SHA-256 {row.digest})"))
    marker = f"[{int(case.pk)},"
    heads = TimestampToken.objects.filter(
        subject=Subject.CHAIN_HEAD, status=Status.STAMPED, listing__contains=marker
    ).order_by("gen_time", "pk")
    for row in heads:
        head = dict((pk, digest) for pk, digest in json.loads(row.listing)).get(case.pk)
        if head is not None:
            tokens.append(_exported(row, f"chain heads of every case; case #{case.pk}'s head was {head}"))
    return tokens


def _exported(row: TimestampToken, label: str) -> dict:
    return {
        "label": label,
        "digest": row.digest,
        "token": bytes(row.token),
        "tsa_url": row.tsa_url,
        "gen_time": row.gen_time,
        "subject": row.subject,
        # A chain-head token stamps the SHA-256 of this exact text: [[case id, head digest], ...].
        "listing": row.listing if row.subject == Subject.CHAIN_HEAD else None,
    }


def check_stored() -> tuple[int, list[str]]:
    """Re-verify every stored token (for check_integrity): (tokens checked, one line per bad one).

    Raises NotStamped, saying so, when no certificate is configured to check them against.
    """
    try:
        pem = configured_certificate()
    except OSError as exc:
        raise NotStamped(f"TSA_CA_FILE could not be read ({exc.strerror or exc})") from None
    rows = TimestampToken.objects.filter(status=Status.STAMPED).select_related("media_item").order_by("pk")
    if pem is None:
        if rows.exists():
            raise NotStamped("stored time-stamp tokens were not re-verified: TSA_CA_FILE is not set")
        return 0, []
    checked, problems = 0, []
    for row in rows.iterator(chunk_size=500):
        checked += 1
        verified, message = verify_token(row.token, row.digest, certificate_pem=pem)
        if not verified:
            what = row.media_item.original_name if row.media_item_id else "chain heads of every case"
            problems.append(f"BAD TIMESTAMP #{row.pk} {row.subject} {row.digest[:12]} ({what}): {message}")
    return checked, problems
