"""Load the demo cases in seeds/cases.json: validate everything first, then write it all or nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

import ftfy
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from verify import services
from verify.models import Case, ChecklistItem, MediaReviewCategory, Platform, Priority, Sighting, Verdict
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
    "hold_reason",
    "dismiss_reason",
    "duplicate_of",
    "checklist",
    "sent_back",
    "verdict",
)
SIGHTING_REQUIRED = ("platform", "account")
SIGHTING_OPTIONAL = ("role", "url", "posted_at", "caption", "reported_by")
# A date without a time ("2024-11-05", as news reports give them) is stored at midday UTC, so it reads
# as the same day in every time zone from UTC-11 to UTC+11.
DATE_ONLY_TIME = time(12, 0, tzinfo=UTC)
# Seed cases are walked to these stages through the same services people use.
SEEDABLE_STAGES = (
    Stage.NEW,
    Stage.TRIAGE,
    Stage.IN_REVIEW,
    Stage.AWAITING_APPROVAL,
    Stage.PUBLISHED,
    Stage.ON_HOLD,
    Stage.DUPLICATE,
    Stage.DISMISSED,
)
NEEDS_VERDICT = (Stage.AWAITING_APPROVAL, Stage.PUBLISHED)
VERDICT_FIELDS = ("rating", "confidence", "summary", "rationale")
# The desk accounts that act for the seed data; they have no usable password.
SEED_ACCOUNTS = {"desk": "seed-desk", "reviewer": "seed-reviewer", "editor": "seed-editor"}
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
    """An ISO 8601 date-time with its UTC offset, or a plain date (stored at DATE_ONLY_TIME)."""
    if value in (None, ""):
        return None
    try:
        day = parse_date(value) if isinstance(value, str) else None
        parsed = parse_datetime(value) if isinstance(value, str) and day is None else None
    except ValueError:  # well-formed but impossible, e.g. 2024-02-30
        day = parsed = None
    if isinstance(day, date):
        return datetime.combine(day, DATE_ONLY_TIME)
    if parsed is None or parsed.tzinfo is None:
        problems.append(f"{where}: {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time with a UTC offset")
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


def _check_progress(record: dict, where: str, earlier_keys: set, problems: list[str]) -> None:
    """The fields a later stage needs: a verdict, a reason to hold, the case it duplicates."""
    stage, verdict = record["stage"], record.get("verdict")
    if stage in NEEDS_VERDICT and not isinstance(verdict, dict):
        problems.append(f"{where}: stage {stage} needs a 'verdict'")
    if isinstance(verdict, dict):
        _check_verdict(verdict, f"{where} verdict", problems)
    if stage == Stage.ON_HOLD and not str(record.get("hold_reason", "")).strip():
        problems.append(f"{where}: stage on_hold needs a 'hold_reason'")
    if stage == Stage.DISMISSED and not str(record.get("dismiss_reason", "")).strip():
        problems.append(f"{where}: stage dismissed needs a 'dismiss_reason'")
    earlier = record.get("sent_back") or []
    if earlier and stage not in NEEDS_VERDICT:
        problems.append(f"{where}: 'sent_back' verdicts need a stage with a verdict ({', '.join(NEEDS_VERDICT)})")
    for n, version in enumerate(earlier if isinstance(earlier, list) else [None], start=1):
        if not isinstance(version, dict) or not str(version.get("reason", "")).strip():
            problems.append(f"{where} sent_back {n}: expected a verdict with the editor's 'reason'")
        else:
            _check_verdict({k: v for k, v in version.items() if k != "reason"}, f"{where} sent_back {n}", problems)
    if stage == Stage.DUPLICATE and record.get("duplicate_of") not in earlier_keys - {record["key"]}:
        problems.append(f"{where}: stage duplicate needs 'duplicate_of' naming an earlier case's key")
    for key, answer in (record.get("checklist") or {}).items():
        if not (isinstance(answer, list) and len(answer) == 2 and answer[0] in ChecklistItem.Status.values):
            problems.append(f"{where} checklist {key}: expected [status, notes] with a known status")


def _check_verdict(verdict: dict, where: str, problems: list[str]) -> None:
    _fields(verdict, VERDICT_FIELDS, ("media_category",), where, problems)
    if verdict.get("rating") not in Verdict.Rating.values:
        problems.append(f"{where}: unknown rating {verdict.get('rating')!r}")
    if verdict.get("confidence") not in Verdict.Confidence.values:
        problems.append(f"{where}: unknown confidence {verdict.get('confidence')!r}")
    if verdict.get("media_category", "") not in ("", *MediaReviewCategory.values):
        problems.append(f"{where}: unknown media_category {verdict.get('media_category')!r}")


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
        _check_progress(record, where, keys, problems)
        case = {k: v for k, v in record.items() if k not in ("sightings",)}
        case["priority"] = PRIORITIES.get(record["priority"])
        case["claimed_at"] = _datetime(record.get("claimed_at"), f"{where} claimed_at", problems)
        case["sightings"] = []
        if not isinstance(record["sightings"], list):
            problems.append(f"{where}: 'sightings' must be a list")
            continue
        seen: dict[tuple, int] = {}
        for s_index, sighting in enumerate(record["sightings"], start=1):
            s_where = f"{where} sighting {s_index}"
            if not _fields(sighting, SIGHTING_REQUIRED, SIGHTING_OPTIONAL, s_where, problems):
                continue
            if sighting["platform"] not in Platform.values:
                problems.append(f"{s_where}: unknown platform {sighting['platform']!r}")
            if sighting.get("role", Sighting.Role.APPEARANCE) not in Sighting.Role.values:
                roles = ", ".join(Sighting.Role.values)
                problems.append(f"{s_where}: role must be one of {roles}, got {sighting['role']!r}")
            _text(sighting, "account", s_where, problems)
            # A seed sighting is known by its platform and account: reloading updates it in place.
            identity = (sighting["platform"], sighting["account"])
            if identity in seen:
                problems.append(f"{s_where}: same platform and account as sighting {seen[identity]}")
            seen.setdefault(identity, s_index)
            case["sightings"].append(
                {
                    "role": sighting.get("role", Sighting.Role.APPEARANCE),
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
    existing = {(s.platform, s.account): s for s in case_obj.sightings.all()}
    changed = False
    for sighting in sightings:
        key = (sighting["platform"], sighting["account"])
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
            _walk_to_stage(created, case)
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


def seed_accounts() -> dict:
    """The seed data's desk, reviewer and editor accounts (created once, unable to log in)."""
    User = get_user_model()
    accounts = {}
    for role, username in SEED_ACCOUNTS.items():
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": "Seed data", "last_name": f"({role})"}
        )
        if created:
            user.set_unusable_password()
            user.save()
            user.groups.set(Group.objects.filter(name=role))
        accounts[role] = user
    return accounts


def _walk_to_stage(case_obj: Case, case: dict) -> None:
    """Take a new seed case along the desk's usual path to its seed stage."""
    stage, note = case["stage"], "Loaded from seed data"
    if stage == Stage.NEW:
        return
    people = seed_accounts()
    case_obj = services.transition_case(case=case_obj, to=Stage.TRIAGE, by=None, note=note)
    if stage == Stage.ON_HOLD:
        services.transition_case(case=case_obj, to=Stage.ON_HOLD, by=people["desk"], note=case["hold_reason"])
        return
    if stage == Stage.DUPLICATE:
        survivor = Case.objects.get(seed_key=case["duplicate_of"])
        services.mark_duplicate(case=case_obj, of=survivor, by=people["desk"], note=note)
        return
    if stage == Stage.DISMISSED:
        services.transition_case(case=case_obj, to=Stage.DISMISSED, by=people["desk"], note=case["dismiss_reason"])
        return
    if stage == Stage.TRIAGE:
        return
    services.assign_reviewer(case=case_obj, user=people["reviewer"], by=people["desk"])
    case_obj = services.transition_case(case=case_obj, to=Stage.IN_REVIEW, by=people["desk"], note=note)
    for item in case_obj.checklist.all():
        status, notes = (case.get("checklist") or {}).get(item.key, ["open", ""])
        if status != ChecklistItem.Status.OPEN:
            services.answer_checklist_item(item=item, by=people["reviewer"], status=status, notes=notes)
    if stage == Stage.IN_REVIEW:
        return
    for version in case.get("sent_back") or []:
        verdict = {k: v for k, v in version.items() if k != "reason"}
        services.propose_verdict(case=case_obj, by=people["reviewer"], **verdict)
        case_obj.refresh_from_db()
        services.send_back_verdict(case=case_obj, by=people["editor"], reason=version["reason"])
        case_obj.refresh_from_db()
    services.propose_verdict(case=case_obj, by=people["reviewer"], **case["verdict"])
    if stage == Stage.PUBLISHED:
        case_obj.refresh_from_db()
        services.approve_verdict(case=case_obj, by=people["editor"], note=note)


def load_seeds(path: Path = DEFAULT_SEED_FILE) -> SeedReport:
    cases, repaired = read_seed_file(path)
    report = load_seed_cases(cases)
    report.repaired_texts = repaired
    return report
