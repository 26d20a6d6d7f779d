"""Evidence bundles: exported as a BagIt bag, checked offline, and every tampered part named."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from verify.bundle import stamps
from verify.models import CaseEvent, MediaItem
from verify.record.fixity import original_of

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def export(case, path: Path, *options: str) -> Path:
    call_command("export_bundle", "--case", str(case.pk), "--output", str(path), *options, stdout=io.StringIO())
    return path


def check(path: Path) -> tuple[int, str]:
    """verify_bundle's exit code and output."""
    out = io.StringIO()
    try:
        call_command("verify_bundle", str(path), stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Change one byte of the file (by default the one in its middle)."""
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def event_lines(bag: Path) -> list[dict]:
    return [json.loads(line) for line in (bag / "data" / "events.jsonl").read_text().splitlines()]


def first_original(bag: Path) -> Path:
    return sorted((bag / "data" / "originals").iterdir())[0]


def rewrite_manifests(bag: Path) -> None:
    """What a careful forger does after changing the payload: make the bag's manifests agree again."""
    bagit.Bag(str(bag)).save(manifests=True)


@pytest.fixture
def bag(published_case, stamping, tmp_path) -> Path:
    return export(published_case, tmp_path / "bundle")


def test_it_exports_a_published_case_that_verify_bundle_finds_intact(bag, published_case):
    code, out = check(bag)
    assert code == 0, out
    for name in ("bag manifest", "contents", "originals", "event chain", "custody", "timestamp tokens"):
        assert f"OK       {name}:" in out
    assert "PROBLEM" not in out
    data = bag / "data"
    assert len(list((data / "originals").iterdir())) == 2
    item = published_case.case_media.all()[0].media_item
    reading = json.loads((data / "readings" / item.sha256 / "exif.json").read_text())
    assert reading["extractor"] == "exif" and reading["version"] and reading["status"] in ("ok", "unsupported")
    for name in ("report.pdf", "report.json", "claimreview.jsonld"):
        assert (data / "reports" / name).stat().st_size > 0
    assert len(event_lines(bag)) == published_case.events.count()
    assert len(json.loads((data / "verdicts.json").read_text())) == 1
    info = bagit.Bag(str(bag)).info
    assert info["Case-ID"] == str(published_case.pk)
    assert info["Media-Included"] == "yes (2 of 2 originals)"
    assert info["Report-Source"].startswith("frozen publication 1 of ")
    assert info["Timestamp-Tokens"] == "3"


def test_each_event_line_holds_the_content_its_digest_was_taken_over(bag, published_case):
    stored = {e.pk: e.digest for e in CaseEvent.objects.filter(case=published_case)}
    for line in event_lines(bag):
        canonical = json.dumps(line["content"], sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        assert hashlib.sha256(canonical).hexdigest() == line["digest"] == stored[line["event"]]


def test_a_zip_bundle_checks_the_same(published_case, stamping, tmp_path):
    path = export(published_case, tmp_path / "case.zip")
    with zipfile.ZipFile(path) as archive:
        assert "case/bagit.txt" in archive.namelist()
    code, out = check(path)
    assert code == 0, out


def tamper_original(bag: Path) -> tuple[str, str]:
    path = first_original(bag)
    flip_byte(path)
    return f"data/originals/{path.name}: SHA-256 is ", "but the bag manifest says"


def tamper_reading(bag: Path) -> tuple[str, str]:
    path = sorted((bag / "data" / "readings").rglob("exif.json"))[0]
    flip_byte(path)
    return f"{path.relative_to(bag).as_posix()}: SHA-256 is ", "but the bag manifest says"


def tamper_file(relative: str):
    def tamper(bag: Path) -> tuple[str, str]:
        flip_byte(bag / relative)
        manifest = "the bag manifest" if relative.startswith("data/") else "the tag manifest"
        return f"{relative}: SHA-256 is ", f"but {manifest} says"

    return tamper


def tamper_event_content(bag: Path) -> tuple[str, str]:
    first = event_lines(bag)[0]
    replace_once(bag / "data" / "events.jsonl", '"kind": "opened"', '"kind": "openee"')
    return (
        f"data/events.jsonl line 1: event #{first['event']}: content hashes to ",
        "(the event was changed after it was written)",
    )


def tamper_event_hash(bag: Path) -> tuple[str, str]:
    second = event_lines(bag)[1]
    digest = second["digest"]
    replace_once(bag / "data" / "events.jsonl", f'"digest": "{digest}"', f'"digest": "{digest[:-1]}x"')
    return (
        f"data/events.jsonl line 2: event #{second['event']}: content hashes to {digest}",
        f"not the recorded {digest[:-1]}x",
    )


def tamper_token(bag: Path) -> tuple[str, str]:
    path = sorted((bag / "data" / "timestamps").iterdir())[0]
    flip_byte(path, offset=-1)
    return "timestamp token for original ", "the token's signature does not verify"


def tamper_chain_head_listing(bag: Path) -> tuple[str, str]:
    flip_byte(next((bag / "data" / "timestamps").glob("*-chain-heads.json")))
    return "timestamp token for chain head ", "does not hash to the stamped digest"


TAMPERINGS = {
    "original": tamper_original,
    "reading": tamper_reading,
    "flags": tamper_file("data/flags.json"),
    "checklist": tamper_file("data/checklist.json"),
    "verdicts": tamper_file("data/verdicts.json"),
    "event content": tamper_event_content,
    "event hash": tamper_event_hash,
    "report": tamper_file("data/reports/report.pdf"),
    "bag-info": tamper_file("bag-info.txt"),
    "token": tamper_token,
    "chain-head listing": tamper_chain_head_listing,
}


@pytest.mark.parametrize("part", TAMPERINGS)
def test_one_changed_byte_in_any_part_is_named_and_fails_the_check(bag, part):
    start, end = TAMPERINGS[part](bag)
    code, out = check(bag)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert any(start in line and end in line for line in problems), out


def test_a_changed_original_is_found_even_when_the_manifests_were_rewritten_to_match(bag):
    path = first_original(bag)
    flip_byte(path)
    rewrite_manifests(bag)
    code, out = check(bag)
    assert code == 1
    assert f"data/originals/{path.name}: its content hashes to " in out
    assert f"not the SHA-256 {path.name.split('-')[0]} in its name" in out
    assert "OK       bag manifest:" in out


def test_a_changed_event_is_found_even_when_the_manifests_were_rewritten_to_match(bag):
    lines = event_lines(bag)
    replace_once(bag / "data" / "events.jsonl", '"kind": "opened"', '"kind": "openee"')
    rewrite_manifests(bag)
    code, out = check(bag)
    assert code == 1
    assert f"PROBLEM  event chain: data/events.jsonl line 1: event #{lines[0]['event']}: content hashes to" in out


def test_a_removed_event_breaks_the_link_of_the_one_after_it(bag):
    path = bag / "data" / "events.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    rewrite_manifests(bag)
    code, out = check(bag)
    assert code == 1
    assert "line 3: event #" in out and "(an event was removed, inserted or reordered)" in out


def test_a_missing_file_is_named(bag):
    (bag / "data" / "reports" / "report.pdf").unlink()
    code, out = check(bag)
    assert code == 1
    assert "PROBLEM  bag manifest: missing file data/reports/report.pdf (listed in the bag manifest)" in out
    assert "PROBLEM  contents: missing file data/reports/report.pdf (listed in data/index.json)" in out


def test_a_bundle_without_media_lists_the_originals_and_checks_everything_else(published_case, stamping, tmp_path):
    path = export(published_case, tmp_path / "bundle", "--no-media")
    assert not (path / "data" / "originals").exists()
    rows = (path / "data" / "originals.tsv").read_text().splitlines()
    assert rows[0].startswith("sha256\tsize\t") and len(rows) == 3
    for link in published_case.case_media.all():
        assert f"{link.media_item.sha256}\t{link.media_item.size}\t" in "\n".join(rows)
    assert bagit.Bag(str(path)).info["Media-Included"].startswith("no (--no-media: 2 originals listed")
    code, out = check(path)
    assert code == 0, out
    assert "OK       originals: not included (exported with --no-media); 2 listed in data/originals.tsv" in out
    flip_byte(path / "data" / "checklist.json")
    assert check(path)[0] == 1


def test_a_desk_that_does_not_stamp_says_so(published_case, not_stamping, tmp_path):
    path = export(published_case, tmp_path / "bundle")
    assert bagit.Bag(str(path)).info["Timestamp-Tokens"] == stamps.NOT_STAMPING
    code, out = check(path)
    assert code == 0, out
    assert f"OK       timestamp tokens: {stamps.NOT_STAMPING}" in out


def test_a_damaged_original_is_left_out_and_named_and_the_record_is_left_as_it_is(published_case, stamping, tmp_path):
    item = published_case.case_media.all()[0].media_item
    stored = Path(original_of(item).path)
    from verify.intake import original_path

    damaged = original_path(item.sha256)
    flip_byte(damaged)
    events_before = list(CaseEvent.objects.filter(case=published_case).values_list("pk", "digest"))
    path = export(published_case, tmp_path / "bundle")
    code, out = check(path)
    assert code == 1
    assert f"original {item.sha256[:12]}… (first.jpg) is not in the bundle: the desk's stored copy is damaged" in out
    assert list(CaseEvent.objects.filter(case=published_case).values_list("pk", "digest")) == events_before
    assert MediaItem.objects.get(pk=item.pk).sha256 == item.sha256
    assert original_of(item).damaged_at is None and str(stored)


def test_the_check_needs_nothing_of_django(published_case, not_stamping, tmp_path):
    path = export(published_case, tmp_path / "bundle")
    script = (
        "import sys; from verify.bundle.verify import verify_bundle; "
        f"outcome = verify_bundle({str(path)!r}); "
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], 'django imported'; "
        "print('\\n'.join(outcome.lines())); sys.exit(0 if outcome.ok else 1)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK       event chain: " in result.stdout


def test_tokens_this_installation_cannot_check_are_a_problem_not_a_pass(bag, monkeypatch):
    monkeypatch.setattr(stamps, "timestamps_module", lambda: None)
    code, out = check(bag)
    assert code == 1
    assert "PROBLEM  timestamp tokens: the bundle holds 3 timestamp tokens, but this installation cannot" in out


def test_an_unknown_case_writes_nothing(db, tmp_path):
    with pytest.raises(CommandError, match="No case #999999; nothing written"):
        call_command("export_bundle", "--case", "999999", "--output", str(tmp_path / "b"))
    assert list(tmp_path.iterdir()) == []


def test_a_case_without_a_verdict_carries_its_live_json_report_and_says_why_the_others_are_missing(
    people, media_root, tasks_not_sent, not_stamping, tmp_path
):
    from tests.bundle.conftest import ingest_photos
    from tests.factories import make_case

    case = make_case(by=people["desk"], stage="triage")
    ingest_photos(case, people["desk"], names=["only.jpg"])
    path = export(case, tmp_path / "bundle")
    reports = sorted(p.name for p in (path / "data" / "reports").iterdir())
    assert reports == ["report.json"]
    assert bagit.Bag(str(path)).info["Report-Source"].startswith("the live case record at export (the case is")
    code, out = check(path)
    assert code == 0, out
    assert "not in the bundle: claimreview.jsonld (Case #" in out
    assert f"report.pdf (Case #{case.pk} has no verdict yet" in out
