"""The embedded broker across worker restarts: `make run`'s worker (no Redis) stopped, killed and started again.

A batch goes in with `manage.py ingest` while a worker on the filesystem broker reads it; the worker is
stopped part way (SIGTERM to its whole process group, as Ctrl-C on `make run`: the readings under way are
cut short and the messages it holds go back to the queue), a second one is killed part way (SIGKILL, what a
crash does: what it held in memory is gone, for the stalled sweep to re-send), and a third finishes. No file
is lost, every reading ends with one outcome, and the case reaches review.
"""

import os
import signal
from pathlib import Path

import pytest

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from tests.services import Process, desk_env, wait_for, wait_until
from verify.models import Case, Extraction, MediaItem

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHOTOS = 16


def embedded_env(tmp_path: Path) -> dict[str, str]:
    # The sweep every 2 s re-sends what was sent 4 s ago and not started, and a reading left running by
    # a killed worker once it is past the hard limit (12 s) and that wait.
    return desk_env(
        tmp_path,
        EXTRACTION_SWEEP_SECONDS="2",
        EXTRACTION_RESEND_SECONDS="4",
        CELERY_TASK_SOFT_TIME_LIMIT="10",
        CELERY_TASK_TIME_LIMIT="12",
    )


def start_worker(name: str, env: dict[str, str], tmp_path: Path) -> Process:
    command = ["celery", "-A", "workers", "worker", "-Q", "celery,screening", "--beat"]
    command += [f"--schedule={tmp_path / f'{name}-schedule'}", "--loglevel=info", "--concurrency=2"]
    worker = Process.start(name, command, env, tmp_path)
    wait_for(lambda: "ready." in worker.stderr(), process=worker, what="worker ready")
    return worker


def test_it_loses_no_file_and_leaves_no_case_stuck_when_the_embedded_worker_stops_or_dies(tmp_path):
    env = embedded_env(tmp_path)
    desk = make_user("desk", username="embedded-desk")
    case = make_case(by=desk, stage="triage", title="Worker restarts mid-batch")
    photos = tmp_path / "photos"
    photos.mkdir()
    for number in range(PHOTOS):
        (photos / f"photo-{number:02d}.jpg").write_bytes(jpeg_bytes(size=(160, 120), seed=2000 + number))
    finished = Extraction.objects.filter(media_item__cases=case, finished_at__isnull=False)

    first = start_worker("worker-1", env, tmp_path)
    command = ["python", "manage.py", "ingest", str(photos), "--case", str(case.pk), "--as", desk.username]
    ingest = Process.start("ingest", command, env, tmp_path)
    processes = [first, ingest]
    try:
        wait_until(lambda: finished.count() >= 6, seconds=60, what="6 readings", processes=processes)
        first.stop(grace=30)
        assert ingest.popen.wait(timeout=60) == 0, ingest.output()

        second = start_worker("worker-2", env, tmp_path)
        processes.append(second)
        done = finished.count()
        wait_until(lambda: finished.count() >= done + 6, seconds=60, what="6 more readings", processes=processes)
        os.killpg(second.popen.pid, signal.SIGKILL)  # a crash: what it held in memory is gone
        second.popen.wait(timeout=10)

        third = start_worker("worker-3", env, tmp_path)
        processes.append(third)

        def all_read() -> bool:
            waiting = Extraction.objects.filter(media_item__cases=case, status__in=("pending", "running"))
            return Case.objects.get(pk=case.pk).stage == "in_review" and not waiting.exists()

        wait_until(all_read, seconds=120, what="every reading recorded and the case in review", processes=processes)
    finally:
        for process in processes:
            process.stop()

    assert MediaItem.objects.filter(cases=case).count() == PHOTOS
    extractions = list(Extraction.objects.filter(media_item__cases=case))
    assert {e.status for e in extractions} == {"ok"}
    # A reading is begun again only when a stop or the kill cut it short: two processes, twice, at most.
    assert sum(e.attempts > 1 for e in extractions) <= 4
    assert max(e.attempts for e in extractions) <= 2
    queue = tmp_path / "var" / "celery-queue"
    assert not [name for name in os.listdir(queue) if not name.endswith(".msg")]
