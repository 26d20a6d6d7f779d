"""What a published case lets change (nothing, until an editor reopens it), and which publication the public sees."""

from __future__ import annotations

from verify.models import Case, Publication
from verify.workflow import ConditionNotMet, Stage

# A reopened case keeps its public page (the last publication) while the correction is worked on;
# the reopening move lands in review, from where the case may collect files or wait on hold.
PUBLIC_STAGES = (Stage.PUBLISHED, Stage.IN_REVIEW, Stage.COLLECTING, Stage.AWAITING_APPROVAL, Stage.ON_HOLD)


def latest_publication(case: Case) -> Publication | None:
    """The newest publication of `case` (from the prefetched ones when a report selector loaded it)."""
    publications = list(case.publications.all())
    return max(publications, key=lambda p: p.number) if publications else None


def shown_publication(case: Case) -> Publication | None:
    """The publication the public page, the JSON-LD and the reports show for `case`, if any."""
    if case.stage not in PUBLIC_STAGES:
        return None
    return latest_publication(case)


def check_editable(case: Case, doing: str = "edit it") -> None:
    """Refuse any change to a published case's record; an editor reopens it first."""
    if case.stage == Stage.PUBLISHED:
        raise ConditionNotMet(
            f"Case #{case.pk} is published, so its record is frozen: you cannot {doing}. "
            "An editor must first reopen it for a correction or an update, with a reason; "
            "the change is then approved again before the public page shows it."
        )
