"""Writing one case's evidence bundle: a BagIt bag built in a temporary folder, then moved into place.

Layout of the payload (`data/`):

    index.json                      what the bundle holds, and why anything expected is not in it
    case.json                       the case's details, and the people its record names
    originals/<sha256>-<name>       each original, byte for byte (left out with --no-media)
    originals.tsv                   each original's SHA-256, size, kind and name, always
    readings/<sha256>/<reader>.json each reading: reader and version, status, result, error, timings
    sightings.json, flags.json, checklist.json, verdicts.json (every version), publications.json
    events.jsonl                    each event's canonical content exactly as hashed, its digest and the one before
    timestamps/<n>-<subject>.tsr    each RFC 3161 token (DER), described in index.json
    reports/report.pdf, report.json, claimreview.jsonld

Nothing here changes the record: the bag shows it as it is, a damaged original or a broken chain included,
so that `verify_bundle` finds what the desk would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import bagit
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from verify.bundle import FORMAT_NAME, FORMAT_VERSION, stamps
from verify.intake import download_name, original_path
from verify.models import Case, CaseEvent, MediaItem
from verify.record import chain
from verify.record.fixity import CHUNK_BYTES
from verify.record.frozen import latest_publication, shown_publication
from verify.reports import ReportError, load_report_case
from verify.workflow import Stage

TSV_COLUMNS = ("sha256", "size", "kind", "mime_type", "original_name", "file")


class BundleError(Exception):
    """The bundle cannot be made; the message says why. Nothing was written."""


@dataclass
class Exported:
    """What `export_bundle` wrote, and what the person running it should know."""

    path: Path
    payload_files: int = 0
    payload_bytes: int = 0
    warnings: list[str] = field(default_factory=list)


def export_bundle(*, case_id: int, output: Path, include_media: bool = True, exporter: str) -> Exported:
    """Write case `case_id`'s bundle to `output`: a bag folder, or a zip of one if `output` ends in .zip.

    Built beside `output` and moved into place at the end, so a failure leaves nothing behind.
    """
    case = load_report_case(case_id)
    if case is None:
        raise BundleError(f"No case #{case_id}; nothing written")
    output = Path(output)
    if not output.parent.is_dir():
        raise BundleError(f"The folder {output.parent} does not exist; nothing written")
    as_zip = output.suffix.lower() == ".zip"
    if output.exists() and not (as_zip and output.is_file()):
        raise BundleError(f"{output} already exists; give a new path (a bag folder is never merged into another)")
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part"))
    try:
        exported = build_bag(case, staging, include_media=include_media, exporter=exporter)
        if as_zip:
            zip_bag(staging, output, top=output.stem)
            shutil.rmtree(staging)
        else:
            os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    exported.path = output
    return exported


def build_bag(case: Case, folder: Path, *, include_media: bool, exporter: str) -> Exported:
    """Fill the empty `folder` with the payload of `case` (loaded by `load_report_case`) and make it a bag."""
    exported = Exported(path=folder)
    writer = _Writer(folder)
    originals = _write_originals(case, writer, include_media=include_media, exported=exported)
    readings = _write_readings(case, writer)
    events = sorted(case.events.all(), key=lambda e: e.pk)
    writer.lines("events.jsonl", (_event_line(event) for event in events))
    _, _, breaks = chain.verify([case.pk])
    exported.warnings += [f"the desk's own chain does not hold: {b}" for b in breaks]
    people = _write_record(case, writer)
    held = {row["sha256"] for row in originals} | {event.digest for event in events}
    timestamps = _write_timestamps(case, writer, held=held)
    reports = _write_reports(case, writer)
    now = timezone.now()
    index = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "case": case.pk,
        "exported_at": now.isoformat(),
        "exported_by": exporter,
        "media_included": include_media,
        "originals": originals,
        "readings": readings,
        "events": len(events),
        "chain_head": events[-1].digest if events else chain.GENESIS,
        "chain_breaks_at_export": [str(b) for b in breaks],
        "timestamps": timestamps,
        "reports": reports,
    }
    writer.json("index.json", index)
    writer.json("case.json", {**_case_details(case), "people": people})
    exported.payload_files, exported.payload_bytes = writer.files, writer.bytes
    bag_info = _bag_info(case, index, now=now, exporter=exporter)
    bagit.make_bag(str(folder), bag_info=bag_info, checksums=["sha256"], processes=1)
    return exported


class _Writer:
    """Writes payload files under a folder and counts them."""

    def __init__(self, folder: Path):
        self.folder, self.files, self.bytes = folder, 0, 0

    def path(self, relative: str) -> Path:
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def bytes_(self, relative: str, content: bytes) -> None:
        self.path(relative).write_bytes(content)
        self.files, self.bytes = self.files + 1, self.bytes + len(content)

    def json(self, relative: str, value) -> None:
        text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True)
        self.bytes_(relative, (text + "\n").encode("utf-8"))

    def lines(self, relative: str, lines) -> None:
        self.bytes_(relative, "".join(line + "\n" for line in lines).encode("utf-8"))


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _original_name(item: MediaItem) -> str:
    return f"{item.sha256}-{download_name(item) if item.original_name else 'original'}"


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    """Copy `source` to `target`, hashing what was copied: the bag gets exactly the bytes that were hashed."""
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as reading, open(target, "wb") as writing:
        while chunk := reading.read(CHUNK_BYTES):
            digest.update(chunk)
            writing.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_originals(case: Case, writer: _Writer, *, include_media: bool, exported: Exported) -> list[dict]:
    """Each original (if included), and a row for every one in originals.tsv; a damaged one is left out, named."""
    rows = []
    for link in case.case_media.all():
        item = link.media_item
        row = {
            "sha256": item.sha256,
            "size": item.size,
            "kind": item.kind,
            "mime_type": item.mime_type,
            "original_name": item.original_name,
            "file": None,
            "left_out": None if include_media else "--no-media: listed by SHA-256 and size only",
        }
        if include_media:
            relative = f"originals/{_original_name(item)}"
            target = writer.path(relative)
            try:
                found, size = _copy_hashing(original_path(item.sha256), target)
            except OSError as exc:
                found, size = None, 0
                row["left_out"] = f"the desk's stored copy could not be read ({exc.strerror or exc})"
            else:
                if found == item.sha256:
                    row["file"] = f"data/{relative}"
                    writer.files, writer.bytes = writer.files + 1, writer.bytes + size
                else:
                    row["left_out"] = (
                        f"the desk's stored copy is damaged: its {size:,} bytes hash to {found[:12]}…, "
                        f"not {item.sha256[:12]}…"
                    )
            if row["file"] is None:
                target.unlink(missing_ok=True)
                exported.warnings.append(
                    f"original {item.sha256[:12]}… ({item.original_name}) left out: {row['left_out']}"
                )
        rows.append(row)
    tsv = ["\t".join(TSV_COLUMNS)] + [
        "\t".join(_tsv_cell(row[column] if column != "file" else row["file"] or "") for column in TSV_COLUMNS)
        for row in rows
    ]
    writer.lines("originals.tsv", tsv)
    return rows


def _tsv_cell(value) -> str:
    return " ".join(str(value if value is not None else "").split())


def _write_readings(case: Case, writer: _Writer) -> list[dict]:
    listed = []
    for link in case.case_media.all():
        item = link.media_item
        for extraction in item.extractions.all():
            relative = f"readings/{item.sha256}/{extraction.extractor}.json"
            seconds = (
                (extraction.finished_at - extraction.started_at).total_seconds()
                if extraction.started_at and extraction.finished_at
                else None
            )
            writer.json(
                relative,
                {
                    "media_sha256": item.sha256,
                    "extractor": extraction.extractor,
                    "version": extraction.extractor_version,
                    "status": extraction.status,
                    "result": extraction.result,
                    "error": extraction.error or None,
                    "attempts": extraction.attempts,
                    "started_at": _iso(extraction.started_at),
                    "finished_at": _iso(extraction.finished_at),
                    "seconds": seconds,
                },
            )
            listed.append({"media_sha256": item.sha256, "extractor": extraction.extractor, "file": f"data/{relative}"})
    return listed


def _event_line(event: CaseEvent) -> str:
    """One line of events.jsonl: the content the digest was taken over, as `verify.record.canonical` hashes it."""
    content = chain.canonical_content(**chain.content_of(event))
    line = {
        "event": event.pk,
        "label": event.get_kind_display(),
        "content": content,
        "previous": event.previous_digest,
        "digest": event.digest,
    }
    return json.dumps(line, ensure_ascii=False, sort_keys=True, allow_nan=False)


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"username": user.get_username(), "name": user.get_full_name() or None}


def _case_details(case: Case) -> dict:
    return {
        "id": case.pk,
        "title": case.title,
        "claim": case.claim,
        "stage": case.stage,
        "priority": case.priority,
        "deadline": _iso(case.deadline),
        "tags": sorted(t.name for t in case.tags.all()),
        "graphic": case.is_graphic,
        "personal_data_visible": case.shows_personal_data,
        "source_at_risk": case.source_at_risk,
        "claimed_place": case.claimed_place or None,
        "claimed_latitude": case.claimed_latitude,
        "claimed_longitude": case.claimed_longitude,
        "claimed_at": _iso(case.claimed_at),
        "duplicate_of": case.duplicate_of_id,
        "opened_at": _iso(case.created_at),
        "opened_by": case.created_by_id,
        "assignments": [
            {"user": a.user_id, "role": a.role, "assigned_at": _iso(a.assigned_at)} for a in case.assignments.all()
        ],
    }


def _write_record(case: Case, writer: _Writer) -> dict:
    """Sightings, flags, checklist, every verdict version and every publication; returns the people they name."""
    people: dict[int, object] = {}

    def who(user) -> int | None:
        if user is not None:
            people[user.pk] = user
        return user.pk if user is not None else None

    sha_of = {link.media_item_id: link.media_item.sha256 for link in case.case_media.all()}
    writer.json(
        "sightings.json",
        [
            {
                "id": s.pk,
                "role": s.role,
                "media_sha256": s.media_item.sha256 if s.media_item else None,
                "url": s.url or None,
                "platform": s.platform,
                "account": s.account or None,
                "posted_at": _iso(s.posted_at),
                "caption": s.caption or None,
                "reported_by": s.reported_by or None,
                "added_by": s.added_by_id,
                "added_at": _iso(s.added_at),
            }
            for s in case.sightings.all()
        ],
    )
    writer.json(
        "flags.json",
        [
            {
                "id": f.pk,
                "media_sha256": sha_of.get(f.media_item_id) if f.media_item_id else None,
                "kind": f.kind,
                "severity": f.severity,
                "message": f.message,
                "data": f.data,
                "computed_at": _iso(f.computed_at),
            }
            for f in case.flags.all()
        ],
    )
    writer.json(
        "checklist.json",
        [
            {
                "key": item.key,
                "question": item.prompt,
                "required": item.required,
                "status": item.status,
                "notes": item.notes or None,
                "evidence_links": item.evidence_links,
                "updated_by": who(item.updated_by),
                "updated_at": _iso(item.updated_at),
            }
            for item in case.checklist.all()
        ],
    )
    writer.json(
        "verdicts.json",
        [
            {
                "version": v.number,
                "status": v.status,
                "rating": v.rating,
                "confidence": v.confidence,
                "summary": v.summary,
                "rationale": v.rationale,
                "media_category": v.media_category or None,
                "media_ratings": [
                    {
                        "media_sha256": r.media_item.sha256,
                        "category": r.category,
                        "original_context": r.original_context or None,
                        "original_link": r.original_link or None,
                    }
                    for r in v.media_ratings.all()
                ],
                "evidence": v.evidence,
                "author": who(v.author),
                "proposed_at": _iso(v.proposed_at),
                "reviewed_by": who(v.reviewed_by),
                "reviewed_at": _iso(v.reviewed_at),
                "review_note": v.review_note or None,
            }
            for v in sorted(case.verdicts.all(), key=lambda v: v.number)
        ],
    )
    publications = sorted(case.publications.all(), key=lambda p: p.number)
    writer.json(
        "publications.json",
        [
            {
                "number": p.number,
                "kind": p.kind,
                "reason": p.reason or None,
                "verdict_version": next((v.number for v in case.verdicts.all() if v.pk == p.verdict_id), None),
                "approved_by": p.approved_by_id,
                "approved_at": _iso(p.approved_at),
                "document": p.document,
            }
            for p in publications
        ],
    )
    for event in case.events.all():
        who(event.actor)
    for sighting in case.sightings.all():
        who(sighting.added_by)
    for publication in publications:
        who(publication.approved_by)
    who(case.created_by)
    for a in case.assignments.all():
        who(a.user)
    return {str(pk): _person(user) for pk, user in sorted(people.items())}


def _write_timestamps(case: Case, writer: _Writer, *, held: set[str]) -> dict:
    """The case's tokens over what the bundle holds: its originals, and chain-head listings whose entry for
    this case is one of its events (a head stamped after the events were read waits for the next bundle).

    A chain-head token stamps the listing of every case's head, so the listing goes in beside it; the
    authority's certificates (TSA_CA_FILE) go in too, so that the tokens can be checked without the desk.
    """
    module = stamps.timestamps_module()
    if module is None:
        return {"stamped": False, "note": stamps.NOT_STAMPING, "tokens": []}
    tokens = []
    for token in module.tokens_for_case(case):
        listing = token.get("listing")
        if token["subject"] == "chain_head":
            if not listing or _head_in(listing, case.pk) not in held:
                continue
        elif token["digest"] not in held:
            continue
        number = len(tokens) + 1
        relative = f"timestamps/{number:03d}-{token['subject']}.tsr"
        writer.bytes_(relative, bytes(token["token"]))
        entry = {
            "label": token["label"],
            "subject": token["subject"],
            "digest": token["digest"],
            "tsa_url": token["tsa_url"],
            "gen_time": _iso(token.get("gen_time")),
            "file": f"data/{relative}",
        }
        if listing:
            writer.bytes_(f"timestamps/{number:03d}-chain-heads.json", listing.encode("utf-8"))
            entry["listing_file"] = f"data/timestamps/{number:03d}-chain-heads.json"
        tokens.append(entry)
    note = f"{len(tokens)} timestamp token(s)" if tokens else "this desk stamps, but no token was issued for this case"
    stamping = {"stamped": True, "note": note, "tokens": tokens}
    certificate = module.configured_certificate() if tokens else None
    if certificate:
        writer.bytes_("timestamps/authority-certificates.pem", certificate)
        stamping["certificate_file"] = "data/timestamps/authority-certificates.pem"
    return stamping


def _head_in(listing: str, case_id: int) -> str | None:
    """This case's head digest in a chain-head listing, or None."""
    try:
        return {pk: digest for pk, digest in json.loads(listing)}.get(case_id)
    except (ValueError, TypeError):
        return None


def report_source(case: Case) -> str:
    """Where the reports in the bundle come from, in words."""
    publication = latest_publication(case) if case.stage == Stage.PUBLISHED else None
    if publication is not None:
        return f"frozen publication {publication.number} of {publication.approved_at:%Y-%m-%d %H:%M} UTC"
    shown = shown_publication(case)
    if shown is not None:
        return (
            f"the live case record at export (the case is {Stage(case.stage).label}); its ClaimReview is "
            f"frozen publication {shown.number}, still the public one"
        )
    return f"the live case record at export (the case is {Stage(case.stage).label}, not published)"


def _write_reports(case: Case, writer: _Writer) -> dict:
    """The PDF, JSON and JSON-LD reports, each as `export_report` writes it; a report the case cannot have is named."""
    from verify.reports.claimreview import claim_review, dumps
    from verify.reports.json import stream_json
    from verify.reports.pdf import render_pdf

    made: dict[str, dict] = {}

    def attempt(name: str, render) -> None:
        try:
            content = render()
        except ReportError as exc:
            made[name] = {"file": None, "left_out": str(exc)}
            return
        writer.bytes_(f"reports/{name}", content)
        made[name] = {"file": f"data/reports/{name}", "left_out": None}

    attempt("report.json", lambda: b"".join(stream_json(Case.objects.filter(pk=case.pk))))
    attempt("report.pdf", lambda: render_pdf(case))
    attempt("claimreview.jsonld", lambda: (dumps(claim_review(case), indent=2) + "\n").encode("utf-8"))
    return {"source": report_source(case), "files": made}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _bag_info(case: Case, index: dict, *, now, exporter: str) -> dict:
    originals = index["originals"]
    included = sum(1 for row in originals if row["file"])
    verdicts = case.verdicts.all()
    return {
        "Source-Organization": _one_line(settings.ORGANISATION_NAME),
        "External-Identifier": f"case-{case.pk}",
        "External-Description": _one_line(f"Evidence bundle of case #{case.pk}: {case.title}"),
        "Bundle-Format": f"{FORMAT_NAME} {FORMAT_VERSION}",
        "Desk-Name": _one_line(settings.ORGANISATION_NAME),
        "Case-ID": str(case.pk),
        "Case-Title": _one_line(case.title),
        "Case-Stage": case.stage,
        "Exported-At": now.isoformat(),
        "Exported-By": _one_line(exporter),
        "Media-Included": (
            f"yes ({included} of {len(originals)} originals)"
            if index["media_included"]
            else f"no (--no-media: {len(originals)} originals listed in data/originals.tsv by SHA-256 and size)"
        ),
        "Originals-Count": str(len(originals)),
        "Readings-Count": str(len(index["readings"])),
        "Events-Count": str(index["events"]),
        "Chain-Head": index["chain_head"],
        "Flags-Count": str(len(case.flags.all())),
        "Checklist-Count": str(len(case.checklist.all())),
        "Verdict-Versions": str(len(verdicts)),
        "Publications-Count": str(len(case.publications.all())),
        "Timestamp-Tokens": (
            str(len(index["timestamps"]["tokens"])) if index["timestamps"]["stamped"] else index["timestamps"]["note"]
        ),
        "Report-Source": _one_line(index["reports"]["source"]),
    }


def zip_bag(folder: Path, output: Path, *, top: str) -> None:
    """Zip the bag at `folder` under one top folder `top` (how a serialised bag is laid out), atomically."""
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", allowZip64=True) as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                relative = path.relative_to(folder)
                # Originals are photos and videos, compressed already; the rest is text.
                compress = zipfile.ZIP_STORED if relative.parts[:2] == ("data", "originals") else zipfile.ZIP_DEFLATED
                archive.write(path, f"{top}/{relative.as_posix()}", compress_type=compress)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
