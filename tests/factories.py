"""Small builders for test data; cases are opened through the services, as the desk does."""

from itertools import count

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from verify import services
from verify.models import Case, CaseMedia, MediaItem

_numbers = count(1)


def make_user(*roles: str, username: str | None = None, **fields):
    User = get_user_model()
    username = username or f"{'-'.join(roles) or 'nobody'}-{next(_numbers)}"
    user = User.objects.create_user(
        username=username, password="test-pass-123", email=f"{username}@example.org", is_staff=True, **fields
    )
    user.groups.set(Group.objects.filter(name__in=roles))
    return user


def make_case(*, by=None, stage: str | None = None, **fields) -> Case:
    fields.setdefault("title", f"Case {next(_numbers)}")
    fields.setdefault("claim", "Video shows soldiers training in Kursk.")
    case = services.open_case(by=by, **fields)
    if stage:
        case = move_to(case, stage)
    return case


def add_media(case: Case, *, name: str = "clip.mp4", kind: str = MediaItem.Kind.VIDEO) -> MediaItem:
    number = next(_numbers)
    item = MediaItem.objects.create(
        sha256=f"{number:064x}", kind=kind, size=1000 + number, original_name=name, file=f"media/{number:064x}"
    )
    CaseMedia.objects.create(case=case, media_item=item)
    return item


def move_to(case: Case, stage: str) -> Case:
    """Walk a fresh case along the usual path to `stage`, as desk staff would."""
    desk = make_user("desk")
    path = {
        "new": [],
        "triage": ["triage"],
        "in_review": ["triage", "in_review"],
        "on_hold": ["triage", "on_hold"],
        "dismissed": ["dismissed"],
    }[stage]
    if "in_review" in path and not case.assignments.exists():
        services.assign_reviewer(case=case, user=make_user("reviewer"), by=desk)
    for target in path:
        case = services.transition_case(case=case, to=target, by=desk, note="test")
    return case
