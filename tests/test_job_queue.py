"""The queue bookkeeping link downloads and post captures share: one delivery in charge of a job at a time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_case
from verify import job_queue
from verify.capture import jobs
from verify.models import CaptureJob, CaseEvent


@pytest.fixture
def queued(desk, monkeypatch):
    monkeypatch.setattr(jobs, "send", lambda job_id: None)
    return jobs.queue_capture(case=make_case(by=desk, stage="triage"), url="https://t.me/kursk_watch/1", by=desk)


def test_a_claimed_capture_is_running_for_this_delivery_with_its_start_on_record(queued):
    job = jobs._claim(queued.pk)
    assert (job.status, job.attempts, job.progress) == ("running", 1, "starting")
    event = CaseEvent.objects.filter(case=queued.case, kind="post_capture").last()
    assert event.note == "A worker started the capture (attempt 1)"


def test_a_capture_a_live_worker_holds_is_not_claimed_again(queued):
    jobs._claim(queued.pk)
    assert jobs._claim(queued.pk) is None
    assert CaptureJob.objects.get().attempts == 1


def test_a_capture_whose_worker_went_silent_is_claimed_by_the_next_delivery(queued):
    jobs._claim(queued.pk)
    CaptureJob.objects.filter(pk=queued.pk).update(touched_at=timezone.now() - timedelta(hours=1))
    assert jobs._claim(queued.pk).attempts == 2


def test_a_capture_whose_worker_kept_stopping_is_failed_instead_of_claimed(queued):
    CaptureJob.objects.filter(pk=queued.pk).update(
        status="running", attempts=jobs.MAX_ATTEMPTS, touched_at=timezone.now() - timedelta(hours=1)
    )
    assert jobs._claim(queued.pk) is None
    job = CaptureJob.objects.get()
    assert (job.status, job.progress) == (
        "failed",
        "The worker stopped 3 times during this capture; it was not tried again.",
    )
    assert job.finished_at is not None


def test_progress_from_a_delivery_that_was_taken_over_is_not_written(queued):
    first = jobs._claim(queued.pk)
    CaptureJob.objects.filter(pk=queued.pk).update(attempts=2)  # another delivery took it over
    assert not job_queue.keep_alive(first, progress="storing the screenshot")
    assert CaptureJob.objects.get().progress == "starting"
    with pytest.raises(jobs.LostClaim):
        jobs._Progress(first, None)("storing the screenshot", 2)


def test_only_the_delivery_in_charge_locks_the_row_for_its_outcome(queued):
    from django.db import transaction

    first = jobs._claim(queued.pk)
    with transaction.atomic():
        assert job_queue.lock_own(first).pk == first.pk
    CaptureJob.objects.filter(pk=queued.pk).update(attempts=2)
    with transaction.atomic():
        assert job_queue.lock_own(first) is None
