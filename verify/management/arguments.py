"""What the intake commands take from their arguments: the case they add to, and who acts."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from verify.models import Case


def case_and_user(case_id: int, username: str | None) -> tuple[Case, object]:
    """The case #case_id and the user named `username` (None: the system), or a CommandError naming what is missing."""
    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        raise CommandError(f"No case #{case_id} exists")
    if not username:
        return case, None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}")
    return case, user
