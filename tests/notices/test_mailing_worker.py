"""A real Celery worker on Redis sends a notice's e-mail once the assignment commits."""

import subprocess
import sys
import time

import pytest

from tests.factories import make_case
from tests.services import BASE_DIR, Process, claimed_redis_db, desk_env, require_services, wait_for
from verify.notices.models import NoticeMail

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def mail_through_task():
    """Here the task goes through the broker to the worker, not run in this process (tests/notices/conftest.py)."""


@pytest.fixture
def mail_worker(tmp_path):
    """A worker on its own Redis database, writing the e-mails it sends to files under `tmp_path / "mail"`."""
    require_services()
    with claimed_redis_db() as redis_url:
        env = desk_env(
            tmp_path,
            REDIS_URL=redis_url,
            CELERY_BROKER_URL=redis_url,
            SITE_URL="http://desk.example.test",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(tmp_path / "mail"),
        )
        worker = Process.start(
            "worker",
            ["celery", "-A", "workers", "worker", "--loglevel=info", "--concurrency=1", "--without-gossip"],
            env,
            tmp_path,
        )
        try:
            wait_for(lambda: "ready." in worker.stderr(), process=worker, what="worker ready")
            yield worker, env, tmp_path / "mail"
        finally:
            worker.stop()


def test_the_worker_sends_the_assignment_e_mail_and_records_it_sent(mail_worker, desk, reviewer):
    worker, env, outbox = mail_worker
    case = make_case(by=desk, stage="triage", title="Kursk footage")

    # The assignment is made in a desk process of its own, which sends the task to the worker's broker.
    assign = (
        "from django.contrib.auth import get_user_model; from verify import services; from verify.models import Case; "
        f"User = get_user_model(); services.assign_reviewer(case=Case.objects.get(pk={case.pk}), "
        f"user=User.objects.get(pk={reviewer.pk}), by=User.objects.get(pk={desk.pk}))"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", assign], cwd=BASE_DIR, env=env, check=True, timeout=120)

    deadline = time.monotonic() + 60
    while NoticeMail.objects.filter(status=NoticeMail.Status.SENT).count() == 0:
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.2)
    (written,) = outbox.iterdir()
    message = written.read_text()
    assert f"Subject: [Verify Desk] Case #{case.pk} assigned to you" in message
    assert f"To: {reviewer.email}" in message
    assert f"Open the case: http://desk.example.test{case.get_absolute_url()}" in message
