"""A case walked through the workflow with each move committed, so that its notices are written."""

import pytest

from tests.factories import make_case, make_user
from verify import services
from verify.models import ChecklistItem
from verify.workflow import Stage


@pytest.fixture(autouse=True)
def mail_through_task(mail_sent_here):
    """E-mails go out through their task, run here: tests/notices/test_mailing.py covers the sending."""


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "http://desk.example.test:8123"
    return settings.SITE_URL


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service and then what it left for after the commit (its notices), as a request would."""

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


@pytest.fixture
def walk(committed, desk, reviewer):
    """Steps of the usual path, each committed: open and assign, review, propose."""

    class Walk:
        def assigned(self, **fields):
            case = make_case(by=desk, stage="triage", title=fields.pop("title", "Kursk footage"), **fields)
            committed(services.assign_reviewer, case=case, user=reviewer, by=desk)
            return services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)

        def proposed(self, **fields):
            case = self.assigned(**fields)
            for item in case.checklist.all():
                services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.UNKNOWN)
            committed(
                services.propose_verdict,
                case=case,
                by=reviewer,
                rating="misleading",
                confidence="high",
                summary="Old footage, new caption.",
                rationale="Found the 2022 upload.",
            )
            case.refresh_from_db()
            return case

    return Walk()


@pytest.fixture
def superuser(db):
    return make_user(username="root", is_superuser=True)
