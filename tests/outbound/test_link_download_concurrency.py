"""Two deliveries of one link download at once, on two real database connections: one outcome."""

import threading

import pytest
from django.db import connection

from tests.factories import make_case, make_user
from verify import downloads
from verify.models import CaseEvent, LinkDownload, MediaItem
from workers import tasks

# serialized_rollback restores the role groups and checklist that migrations create.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("media_root", "tasks_not_sent"),
]


def test_it_runs_a_download_delivered_twice_at_once_to_one_outcome(web_server, settings, monkeypatch):
    monkeypatch.setattr(downloads, "send", lambda download_id: None)
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    desk = make_user("desk")
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    start, results = threading.Barrier(2), {}

    def deliver(name):
        try:
            start.wait(timeout=10)
            results[name] = tasks.run_link_download(download.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results.values(), key=str) == [None, "ok"]
    assert LinkDownload.objects.get().status == "ok"
    assert MediaItem.objects.count() == 1
    statuses = CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.LINK_DOWNLOAD).values_list(
        "new__status", flat=True
    )
    assert list(statuses) == ["queued", "running", "ok"]
    assert len(web_server.seen) == 1
