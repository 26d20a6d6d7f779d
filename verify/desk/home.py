"""What each role sees first on the desk's home page: the desk its new, triage and overdue cases,
a reviewer their queue, an editor the verdicts awaiting their approval."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.urls import reverse

from verify import selectors, workflow
from verify.models import Case
from verify.workflow import DESK, EDITOR, REVIEWER, Stage

# Rows a section shows; the rest are one link away.
SECTION_ROWS = 10


@dataclass
class Section:
    """One list of cases on the home page."""

    key: str
    title: str
    empty: str
    cases: list[Case] = field(default_factory=list)
    total: int = 0
    more_url: str = ""
    more_label: str = "see them all"

    @property
    def more(self) -> int:
        return self.total - len(self.cases)


def _section(key: str, title: str, cases: QuerySet[Case], *, empty: str, more_url: str, **labels) -> Section:
    shown = list(cases[:SECTION_ROWS])
    total = len(shown) if len(shown) < SECTION_ROWS else cases.count()
    return Section(key=key, title=title, empty=empty, cases=shown, total=total, more_url=more_url, **labels)


def _cases_in(stage: Stage) -> QuerySet[Case]:
    return selectors.case_list(Case.objects.filter(stage=stage).order_by("-priority", "created_at", "pk"))


def _stage_list(stage: Stage) -> str:
    return f"{reverse('admin:verify_case_changelist')}?stage__exact={stage.value}"


def sections_for(user) -> list[Section]:
    """The home page's lists for `user`'s roles, in the order desk, reviewer, editor."""
    roles = workflow.roles_of(user)
    sections = []
    if DESK in roles:
        sections += [
            _section(
                "new",
                "New cases",
                _cases_in(Stage.NEW),
                empty="No new case is waiting.",
                more_url=_stage_list(Stage.NEW),
            ),
            _section(
                "triage",
                "In triage",
                _cases_in(Stage.TRIAGE),
                empty="No case is in triage.",
                more_url=_stage_list(Stage.TRIAGE),
            ),
            _section(
                "overdue",
                "Overdue",
                selectors.case_list(selectors.overdue_cases()),
                empty="No open case is past its deadline.",
                more_url=reverse("admin:verify_case_workload"),
                more_label="see each reviewer's overdue cases",
            ),
        ]
    if REVIEWER in roles:
        sections.append(
            _section(
                "my-queue",
                "My queue",
                selectors.reviewer_queue(user),
                empty="No open case is assigned to you.",
                more_url=reverse("admin:verify_case_my_queue"),
            )
        )
    if EDITOR in roles:
        sections.append(
            _section(
                "awaiting-approval",
                "Awaiting my approval",
                selectors.awaiting_approval_for(user),
                empty="No verdict is waiting for you.",
                more_url=_stage_list(Stage.AWAITING_APPROVAL),
            )
        )
    return sections
