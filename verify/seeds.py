"""Load the demo cases in seeds/cases.json: validate everything first, then write it all or nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import ftfy
from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_datetime

from verify import services
from verify.models import Case, Platform, Priority
from verify.workflow import Stage

DEFAULT_SEED_FILE = Path(settings.BASE_DIR) / "seeds" / "cases.json"
SEED_FORMAT_VERSION = 1

CASE_REQUIRED = ("key", "title", "claim", "stage", "priority", "sightings")
CASE_OPTIONAL = (
    "tags",
    "claimed_place",
    "claimed_latitude",
    "claimed_longitude",
    "claimed_at",
    "is_graphic",
    "shows_personal_data",
    "source_at_risk",
)
SIGHTING_REQUIRED = ("platform", "account")
SIGHTING_OPTIONAL = ("url", "posted_at", "caption", "reported_by")
# Seeds place cases at the start of the desk's work; later stages are reached by people.
SEEDABLE_STAGES = (Stage.NEW, Stage.TRIAGE)
PRIORITIES = {p.label.lower(): p.value for p in Priority}


class SeedError(Exception):
    """The seed file is not valid; the message lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Seed file has problems, nothing was loaded:\n  - " + "\n  - ".join(problems))


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    repaired_texts: int = 0

    def summary(self) -> str:
        return (
            f"Seed cases: {len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged; text encoding repaired in {self.repaired_texts} field(s)."
        )


def repair_text(value):
    """Undo mojibake (UTF-8 read as another code page, e.g. 'ThĂ©o' for 'Théo') in every string."""
    if isinstance(value, str):
        return ftfy.fix_encoding(value)
    if isinstance(value, list):
        return [repair_text(item) for item in value]
    if isinstance(value, dict):
        return {key: repair_text(item) for key, item in value.items()}
    return value


def _count_repairs(before, after) -> int:
    if isinstance(before, str):
        return int(before != after)
    if isinstance(before, list):
        return sum(_count_repairs(b, a) for b, a in zip(before, after, strict=True))
    if isinstance(before, dict):
        return sum(_count_repairs(before[k], after[k]) for k in before)
    return 0


def _datetime(value, where: str, problems: list[str]) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        problems.append(f"{where}: {value!r} is not an ISO 8601 date-time with a UTC offset")
        return None
    return parsed


def _fields(record, required, optional, where: str, problems: list[str]) -> bool:
    if not isinstance(record, dict):
        problems.append(f"{where}: expected an object, got {type(record).__name__}")
        return False
    missing = [name for name in required if name not in record]
    unknown = sorted(set(record) - set(required) - set(optional))
    for name in missing:
        problems.append(f"{where}: missing field '{name}'")
    for name in unknown:
        problems.append(f"{where}: unknown field '{name}'")
    return not missing and not unknown


def _text(record: dict, name: str, where: str, problems: list[str], *, blank_ok: bool = False) -> None:
    value = record.get(name, "")
    if not isinstance(value, str) or (not blank_ok and not value.strip()):
        problems.append(f"{where}: '{name}' must be non-empty text")


def parse_seed_data(data) -> list[dict]:
    """Validate the seed file's data and return its cases in load-ready form, or raise SeedError."""
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise SeedError(["top level: expected an object with a 'cases' list"])
    if data.get("version") != SEED_FORMAT_VERSION:
        raise SeedError([f"top level: 'version' must be {SEED_FORMAT_VERSION}, got {data.get('version')!r}"])
    cases, keys = [], set()
    for index, record in enumerate(data["cases"], start=1):
        name = record.get("key", "?") if isinstance(record, dict) else "?"
        where = f"case {index} ({name})"
        if not _fields(record, CASE_REQUIRED, CASE_OPTIONAL, where, problems):
            continue
        for text_field in ("key", "title", "claim"):
            _text(record, text_field, where, problems)
        if record["key"] in keys:
            problems.append(f"{where}: key '{record['key']}' is used twice")
        keys.add(record["key"])
        if record["stage"] not in SEEDABLE_STAGES:
            problems.append(f"{where}: stage must be one of {', '.join(SEEDABLE_STAGES)}, got {record['stage']!r}")
        if record["priority"] not in PRIORITIES:
            problems.append(f"{where}: priority must be one of {', '.join(PRIORITIES)}, got {record['priority']!r}")
        case = {k: v for k, v in record.items() if k not in ("sightings",)}
        case["priority"] = PRIORITIES.get(record["priority"])
        case["claimed_at"] = _datetime(record.get("claimed_at"), f"{where} claimed_at", problems)
        case["sightings"] = []
        if not isinstance(record["sightings"], list):
            problems.append(f"{where}: 'sightings' must be a list")
            continue
        for s_index, sighting in enumerate(record["sightings"], start=1):
            s_where = f"{where} sighting {s_index}"
            if not _fields(sighting, SIGHTING_REQUIRED, SIGHTING_OPTIONAL, s_where, problems):
                continue
            if sighting["platform"] not in Platform.values:
                problems.append(f"{s_where}: unknown platform {sighting['platform']!r}")
            _text(sighting, "account", s_where, problems)
            case["sightings"].append(
                {
                    "platform": sighting["platform"],
                    "account": sighting["account"],
                    "url": sighting.get("url") or "",
                    "posted_at": _datetime(sighting.get("posted_at"), f"{s_where} posted_at", problems),
                    "caption": sighting.get("caption") or "",
                    "reported_by": sighting.get("reported_by") or "",
                }
            )
        cases.append(case)
    if problems:
        raise SeedError(problems)
    return cases


def read_seed_file(path: Path) -> tuple[list[dict], int]:
    """The validated cases of a seed file and how many texts had their encoding repaired."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedError([f"{path}: no such file"]) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeedError([f"{path}: not valid UTF-8 JSON ({exc})"]) from None
    repaired = repair_text(raw)
    return parse_seed_data(repaired), _count_repairs(raw, repaired)


def _details(case: dict) -> dict:
    names = [n for n in services.CASE_DETAIL_FIELDS if n in case and n not in ("title", "claim")]
    return {name: case[name] for name in names}


def _sync_sightings(case_obj: Case, sightings: list[dict]) -> bool:
    """Add the seed's sightings the case lacks and bring captions up to date; True if anything changed."""
    existing = {(s.platform, s.account, s.posted_at): s for s in case_obj.sightings.all()}
    changed = False
    for sighting in sightings:
        key = (sighting["platform"], sighting["account"], sighting["posted_at"])
        current = existing.get(key)
        if current is None:
            services.add_sighting(case=case_obj, by=None, **sighting)
            changed = True
            continue
        changes = {k: v for k, v in sighting.items() if getattr(current, k) != v}
        if changes:
            services.update_sighting(sighting=current, by=None, changes=changes)
            changed = True
    return changed


@transaction.atomic
def load_seed_cases(cases: list[dict]) -> SeedReport:
    """Create or update each seed case so that loading the same file twice changes nothing."""
    report = SeedReport()
    for case in cases:
        existing = Case.objects.filter(seed_key=case["key"]).first()
        if existing is None:
            created = services.open_case(
                by=None,
                title=case["title"],
                claim=case["claim"],
                tags=case.get("tags", []),
                seed_key=case["key"],
                **_details(case),
            )
            _sync_sightings(created, case["sightings"])
            if case["stage"] != Stage.NEW:
                services.transition_case(case=created, to=case["stage"], by=None, note="Loaded from seed data")
            report.created.append(case["key"])
            continue
        wanted = {"title": case["title"], "claim": case["claim"], **_details(case)}
        changes = {name: value for name, value in wanted.items() if getattr(existing, name) != value}
        if sorted(existing.tags.values_list("name", flat=True)) != sorted(case.get("tags", [])):
            changes["tags"] = case.get("tags", [])
        if changes:
            services.update_case(case=existing, by=None, changes=changes)
        sightings_changed = _sync_sightings(existing, case["sightings"])
        (report.updated if changes or sightings_changed else report.unchanged).append(case["key"])
    return report


def load_seeds(path: Path = DEFAULT_SEED_FILE) -> SeedReport:
    cases, repaired = read_seed_file(path)
    report = load_seed_cases(cases)
    report.repaired_texts = repaired
    return report
