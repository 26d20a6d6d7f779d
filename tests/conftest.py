"""Shared fixtures: one user per desk role, and a case in triage."""

import json
import os
from pathlib import Path

import pytest

from tests.browsing import browser, screenshot_dir  # noqa: F401 - fixtures for the browser tests
from tests.factories import make_case, make_user


@pytest.fixture
def desk(db):
    return make_user("desk", username="dana")


@pytest.fixture
def reviewer(db):
    return make_user("reviewer", username="rafa")


@pytest.fixture
def other_reviewer(db):
    return make_user("reviewer", username="rina")


@pytest.fixture
def editor(db):
    return make_user("editor", username="eli")


@pytest.fixture
def other_editor(db):
    return make_user("editor", username="emma")


@pytest.fixture
def case(desk):
    return make_case(by=desk, stage="triage")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CORPUS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real files; tests using it fail instead of skipping under VERIFY_REQUIRE_CORPUS=1."""
    if not (CORPUS_DIR / "expected-exiftool.json").exists():
        if os.getenv("VERIFY_REQUIRE_CORPUS") == "1":
            pytest.fail(f"The shared corpus is missing at {CORPUS_DIR} and VERIFY_REQUIRE_CORPUS=1")
        pytest.skip(f"shared corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def corpus_expected(corpus) -> dict:
    """ExifTool's and c2pa-python's readings of the corpus, keyed by 'folder/file'."""
    return json.loads((corpus / "expected-exiftool.json").read_text(encoding="utf-8"))


@pytest.fixture
def media_root(settings, tmp_path):
    """Evidence files for this test only, under a temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def tasks_not_sent(monkeypatch):
    """Record instead of sending the pipeline's tasks, for tests about what intake records."""
    from verify import pipeline

    sent = []
    monkeypatch.setattr(pipeline, "enqueue_pending", lambda item: sent.append(item.pk) or 0)
    return sent


@pytest.fixture
def mail_sent_here(monkeypatch):
    """Run the notice e-mail task in this process as soon as it is sent, instead of through a broker."""
    from workers.tasks import send_notice_mail

    monkeypatch.setattr(send_notice_mail, "delay", lambda *args, **kwargs: send_notice_mail.apply(args, kwargs))


@pytest.fixture(autouse=True)
def fresh_similarity_index():
    """Each test starts with no near-duplicate index in this process, as a new worker would."""
    from verify import similarity

    similarity.forget_index()
    yield
    similarity.forget_index()


@pytest.fixture(scope="session", autouse=True)
def test_database_flush_lifts_the_record_guard():
    """Transactional tests empty the throwaway test database between tests with flush, which on SQLite
    deletes rows (and on PostgreSQL truncates): the case-event triggers refuse both, so only that
    flush lifts them, inside its own transaction. Nowhere else does; a live database keeps them."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from verify.record import guard

    flush = BaseDatabaseOperations.execute_sql_flush

    def flush_with_guard_lifted(self, sql_list):
        with guard.lifted(self.connection):
            flush(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = flush_with_guard_lifted
    yield
    BaseDatabaseOperations.execute_sql_flush = flush
