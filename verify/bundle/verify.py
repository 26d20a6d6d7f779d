"""Checking an evidence bundle offline, from the bag's own files alone: no database, nothing of the desk's data.

Each check names every problem it finds, with the file (and line) it is in. The bag manifests are
checked by bagit; each original is also re-hashed against the SHA-256 in its own name, each event's
digest recomputed with the desk's own canonical form (`verify.record.canonical`) and its link to the
one before followed, and each timestamp token checked against the digest it stamps.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import bagit

from verify.bundle import FORMAT_NAME, stamps
from verify.record.canonical import serialise, walk

CHUNK_BYTES = 1024 * 1024
RECORD_FILES = (
    "data/case.json",
    "data/originals.tsv",
    "data/sightings.json",
    "data/flags.json",
    "data/checklist.json",
    "data/verdicts.json",
    "data/publications.json",
    "data/events.jsonl",
)
SUBJECT_WORDS = {"original": "original", "chain_head": "chain head"}


@dataclass
class Check:
    """One check of the bundle: what it covered when it holds, or every problem it found."""

    name: str
    summary: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Outcome:
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [problem for check in self.checks for problem in check.problems]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """One line per check that holds, one per problem of a check that does not."""
        out = []
        for check in self.checks:
            if check.ok:
                out.append(f"OK       {check.name}: {check.summary}")
            else:
                out += [f"PROBLEM  {check.name}: {problem}" for problem in check.problems]
        return out


def verify_bundle(path: Path) -> Outcome:
    """Check the bundle at `path` (a bag folder or a zip of one)."""
    outcome = Outcome()
    with _opened(Path(path), outcome) as root:
        if root is not None:
            _verify_bag(root, outcome)
    return outcome


@contextmanager
def _opened(path: Path, outcome: Outcome) -> Iterator[Path | None]:
    """The bag's folder: `path` itself, or a zip unpacked into a temporary folder for the checks."""
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        outcome.checks.append(Check("bundle", problems=[f"{path} does not exist"]))
        yield None
        return
    if not zipfile.is_zipfile(path):
        outcome.checks.append(Check("bundle", problems=[f"{path} is neither a bag folder nor a zip of one"]))
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="verify-bundle-") as unpacked:
        yield _unzip(path, Path(unpacked), outcome)


def _unzip(path: Path, folder: Path, outcome: Outcome) -> Path | None:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        unsafe = [n for n in names if PurePosixPath(n).is_absolute() or ".." in PurePosixPath(n).parts]
        if unsafe:
            outcome.checks.append(
                Check("bundle", problems=[f"{path}: refused to unpack, it holds unsafe paths such as {unsafe[0]!r}"])
            )
            return None
        archive.extractall(folder)
    if (folder / "bagit.txt").is_file():
        return folder
    tops = [p for p in folder.iterdir() if p.is_dir() and (p / "bagit.txt").is_file()]
    if len(tops) != 1:
        outcome.checks.append(Check("bundle", problems=[f"{path}: no bag (bagit.txt) at its top or in one top folder"]))
        return None
    return tops[0]


def _verify_bag(root: Path, outcome: Outcome) -> None:
    bag_check = _check_manifests(root)
    outcome.checks.append(bag_check)
    bag_info = _bag_info(root)
    index = _load_json(root, "data/index.json")
    contents = Check("contents")
    outcome.checks.append(contents)
    if not isinstance(index, dict) or index.get("format") != FORMAT_NAME:
        contents.problems.append(
            "data/index.json is missing or not a Verify Desk bundle index; the other checks need it"
            if not isinstance(index, dict)
            else f"data/index.json is a {index.get('format')!r} document, not a {FORMAT_NAME}"
        )
        return
    _check_contents(root, index, bag_info, contents)
    events_check, events = _check_events(root, index, bag_info)
    outcome.checks.append(_check_originals(root, index))
    outcome.checks.append(events_check)
    outcome.checks.append(_check_custody(index, events))
    outcome.checks.append(_check_timestamps(root, index, events))


def _check_manifests(root: Path) -> Check:
    """The bag's structure, and every payload and tag file against the manifests (bagit)."""
    check = Check("bag manifest")
    try:
        bag = bagit.Bag(str(root))
        # bagit's validate() stops at the first stage that fails (the file count, then missing
        # files, then checksums); its stages are run one by one here to name every problem.
        bag._validate_structure()
        bag._validate_bagittxt()
    except bagit.BagError as exc:
        check.problems.append(f"not a valid bag: {exc}")
        return check
    missing: set[str] = set()
    try:
        bag._validate_completeness()
    except bagit.BagValidationError as exc:
        for detail in exc.details:
            if isinstance(detail, bagit.FileMissing):
                missing.add(detail.path)
                check.problems.append(f"missing file {detail.path} (listed in the bag manifest)")
            else:
                check.problems.append(f"unexpected file {detail.path}: it is not in the bag manifest")
    try:
        bag._validate_entries(processes=1)
    except bagit.BagValidationError as exc:
        for detail in exc.details:
            if detail.path in missing:
                continue
            manifest = "the bag manifest" if detail.path.startswith("data/") else "the tag manifest"
            check.problems.append(f"{detail.path}: SHA-256 is {detail.found} but {manifest} says {detail.expected}")
    if not check.problems:
        try:
            bag._validate_oxum()
        except bagit.BagError as exc:
            check.problems.append(f"bag-info.txt: {exc}")
    payload = len(bag.payload_entries())
    check.summary = f"{payload} payload files and the tag files match manifest-sha256.txt and tagmanifest-sha256.txt"
    return check


def _bag_info(root: Path) -> dict:
    try:
        return dict(bagit.Bag(str(root)).info)
    except bagit.BagError:
        return {}


def _load_json(root: Path, relative: str):
    try:
        return json.loads((root / relative).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _check_contents(root: Path, index: dict, bag_info: dict, check: Check) -> None:
    """Every file the index lists is there and readable, and bag-info.txt speaks of the same case."""
    case = index.get("case")
    if str(bag_info.get("Case-ID", "")) != str(case):
        check.problems.append(
            f"bag-info.txt says case {bag_info.get('Case-ID')!r} but data/index.json says case {case}"
        )
    listed = list(RECORD_FILES)
    listed += [row["file"] for row in index.get("originals", []) if row.get("file")]
    listed += [row["file"] for row in index.get("readings", [])]
    listed += [entry["file"] for entry in index.get("reports", {}).get("files", {}).values() if entry.get("file")]
    listed += [token["file"] for token in index.get("timestamps", {}).get("tokens", [])]
    for relative in listed:
        path = root / relative
        if not path.is_file():
            check.problems.append(f"missing file {relative} (listed in data/index.json)")
        elif relative.endswith(".json") and _load_json(root, relative) is None:
            check.problems.append(f"{relative} is not valid JSON")
    left_out = [
        f"{name} ({entry['left_out']})"
        for name, entry in index.get("reports", {}).get("files", {}).items()
        if not entry.get("file")
    ]
    check.summary = (
        f"case #{case}: the {len(listed)} files data/index.json lists are all present; "
        f"reports from {index.get('reports', {}).get('source')}"
        + (f"; not in the bundle: {'; '.join(left_out)}" if left_out else "")
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_originals(root: Path, index: dict) -> Check:
    """Each original's bytes against the SHA-256 in its own name, whatever the manifest says."""
    check = Check("originals")
    rows = index.get("originals", [])
    check.problems += _tsv_problems(root, rows)
    if not index.get("media_included"):
        check.summary = (
            f"not included (exported with --no-media); {len(rows)} listed in data/originals.tsv "
            "by SHA-256 and size, everything else checked"
        )
        return check
    expected = {row["file"]: row for row in rows if row.get("file")}
    for row in rows:
        if not row.get("file"):
            check.problems.append(
                f"original {row['sha256'][:12]}… ({row.get('original_name')}) is not in the bundle: "
                f"{row.get('left_out')}"
            )
    folder = root / "data" / "originals"
    present = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    for path in present:
        relative = f"data/originals/{path.name}"
        named = path.name.split("-", 1)[0]
        found, size = _sha256_of(path)
        if found != named:
            check.problems.append(f"{relative}: its content hashes to {found}, not the SHA-256 {named} in its name")
        row = expected.get(relative)
        if row is None:
            check.problems.append(f"{relative}: not an original data/index.json lists")
        elif size != row["size"]:
            check.problems.append(f"{relative}: {size:,} bytes, but the desk recorded {row['size']:,}")
    check.summary = f"{_count(len(present), 'original')}, each hashing to the SHA-256 in its name"
    return check


def _tsv_problems(root: Path, rows: list[dict]) -> list[str]:
    try:
        with open(root / "data" / "originals.tsv", encoding="utf-8", newline="") as source:
            listed = {(r["sha256"], r["size"]) for r in csv.DictReader(source, delimiter="\t")}
    except (OSError, UnicodeDecodeError, KeyError, csv.Error):
        return ["data/originals.tsv cannot be read as the list of originals"]
    indexed = {(row["sha256"], str(row["size"])) for row in rows}
    return [
        f"data/originals.tsv lists {sha[:12]}… ({size} bytes), which data/index.json does not"
        for sha, size in sorted(listed - indexed)
    ] + [
        f"data/index.json lists original {sha[:12]}… ({size} bytes), which data/originals.tsv does not"
        for sha, size in sorted(indexed - listed)
    ]


def _check_events(root: Path, index: dict, bag_info: dict) -> tuple[Check, list[dict]]:
    """Every event's digest recomputed from its content, and each link to the event before it."""
    check = Check("event chain")
    events: list[dict] = []
    links = []
    try:
        text = (root / "data" / "events.jsonl").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        check.problems.append("data/events.jsonl cannot be read")
        return check, events
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"data/events.jsonl line {number}"
        try:
            event = json.loads(line)
            content, previous, digest, pk = event["content"], event["previous"], event["digest"], event["event"]
            canonical_bytes = serialise(content)
        except (ValueError, KeyError, TypeError) as exc:
            check.problems.append(f"{where}: not an event line ({type(exc).__name__}: {exc})")
            continue
        events.append(event)
        if content.get("case") != index.get("case"):
            check.problems.append(
                f"{where}: event #{pk} belongs to case {content.get('case')}, not {index.get('case')}"
            )
        if content.get("previous") != previous:
            check.problems.append(f"{where}: event #{pk}'s previous digest differs from the one its content names")
        links.append((f"{where}: event #{pk}", canonical_bytes, content.get("previous"), digest))
    check.problems += [f"{event}: {problem}" for event, problem in walk(links)]
    head = events[-1]["digest"] if events else None
    if len(events) != index.get("events"):
        check.problems.append(
            f"data/events.jsonl holds {len(events)} events, data/index.json says {index.get('events')}"
        )
    for named, where in ((index.get("chain_head"), "data/index.json"), (bag_info.get("Chain-Head"), "bag-info.txt")):
        if head and named != head:
            check.problems.append(
                f"the chain ends at digest {head[:12]}… but {where} names {str(named)[:12]}… as its head "
                "(events were removed from the end, or added)"
            )
    check.summary = f"{_count(len(events), 'event')}: each digest matches its content and each links to the one before"
    return check, events


def _check_custody(index: dict, events: list[dict]) -> Check:
    """Each original was collected into the case by an event of the chain."""
    check = Check("custody")
    collected = {
        e["content"].get("media_sha256")
        for e in events
        if isinstance(e.get("content"), dict) and e["content"].get("kind") == "media_collected"
    }
    for row in index.get("originals", []):
        if row["sha256"] not in collected:
            check.problems.append(f"original {row['sha256'][:12]}… has no custody event in data/events.jsonl")
    check.summary = f"each of the {len(index.get('originals', []))} originals has its custody event in the chain"
    return check


def _chain_head_problem(root: Path, token: dict, digest: str, *, case_id, digests: set) -> str | None:
    """What is wrong with a chain-head token's listing, or None: it must hash to the stamped digest and
    name one of this bundle's events as the case's head."""
    relative = token.get("listing_file")
    if not relative:
        return "the listing of chain heads it stamps is not in the bundle"
    try:
        listing = (root / relative).read_bytes()
    except OSError:
        return f"missing file {relative}"
    if hashlib.sha256(listing).hexdigest() != digest:
        return f"{relative} does not hash to the stamped digest"
    try:
        heads = {pk: head for pk, head in json.loads(listing)}
    except (ValueError, TypeError):
        return f"{relative} is not a list of [case, head digest] pairs"
    if heads.get(case_id) not in digests:
        return f"{relative} names no event of data/events.jsonl as case #{case_id}'s head"
    return None


def _check_timestamps(root: Path, index: dict, events: list[dict]) -> Check:
    """Each token checked against the digest it stamps, which must be an original or a digest of the chain."""
    check = Check("timestamp tokens")
    stamping = index.get("timestamps", {})
    tokens = stamping.get("tokens", [])
    if not stamping.get("stamped") or not tokens:
        check.summary = stamping.get("note") or "none"
        return check
    module = stamps.timestamps_module()
    if module is None:
        check.problems.append(
            f"the bundle holds {len(tokens)} timestamp tokens, but this installation cannot check them "
            "(it has no verify.record.timestamps)"
        )
        return check
    originals = {row["sha256"] for row in index.get("originals", [])}
    digests = {e.get("digest") for e in events}
    certificate = None
    if stamping.get("certificate_file"):
        try:
            certificate = (root / stamping["certificate_file"]).read_bytes()
        except OSError:
            check.problems.append(f"missing file {stamping['certificate_file']} (the authority's certificates)")
    for token in tokens:
        subject, digest = token.get("subject"), str(token.get("digest"))
        named = f"timestamp token for {SUBJECT_WORDS.get(subject, subject)} {digest[:12]}… ({token.get('file')})"
        if subject == "original" and digest not in originals:
            check.problems.append(f"{named}: the bundle has no original with that SHA-256")
        elif subject == "chain_head":
            problem = _chain_head_problem(root, token, digest, case_id=index.get("case"), digests=digests)
            if problem:
                check.problems.append(f"{named}: {problem}")
        try:
            der = (root / token["file"]).read_bytes()
        except OSError:
            check.problems.append(f"{named}: missing file {token['file']}")
            continue
        ok, message = module.verify_token(der, digest, certificate_pem=certificate)
        if not ok:
            check.problems.append(f"{named}: {message}")
    check.summary = f"{_count(len(tokens), 'token')}, each for the digest it names"
    return check
