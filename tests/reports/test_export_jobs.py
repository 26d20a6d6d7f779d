"""Background exports: every case, as the report selectors show it, with progress, permissions and failures."""

from __future__ import annotations

import csv
import io
import json
from functools import partial

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_user
from tests.reports.conftest import bulk_published_cases
from verify.exports import jobs, writer
from verify.models import Case, ChecklistItem, ExportJob, Flag
from verify.reports.csv import stream_csv
from verify.reports.data import case_report
from verify.reports.json import _dumps
from verify.selectors import report_cases
from workers import tasks

RTL_TITLE = "\u202eRTL override \u05e9\u05dc\u05d5\u05dd"
AWKWARD_TITLES = ['=HYPERLINK("http://evil.example","x")', "+1 call", "-5 dead", "@mention", RTL_TITLE]
AWKWARD_CLAIM = "She said \"it was staged\",\nthen: 'no'; \u0645\u0631\u062d\u0628\u0627"


@pytest.fixture
def eager(settings):
    """Run sent tasks in this process (the Celery task, its time limits' hook and the service, without a broker)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tasks.run_export.app.conf.task_always_eager = True
    yield
    tasks.run_export.app.conf.task_always_eager = False


@pytest.fixture
def awkward_cases(make_published, awaiting_approval, staff) -> list[int]:
    """Published (frozen reports) and unpublished (live) cases whose text is hostile to CSV and JSON readers."""
    published = [make_published(title=title, claim=AWKWARD_CLAIM).pk for title in AWKWARD_TITLES[:2]]
    Case.objects.filter(pk=awaiting_approval.pk).update(title=AWKWARD_TITLES[2], claim=AWKWARD_CLAIM)
    live = [Case.objects.create(title=title, claim=AWKWARD_CLAIM).pk for title in AWKWARD_TITLES[3:]]
    bulk = bulk_published_cases(3, author=staff["reviewer"], approver=staff["editor"])
    return [*published, awaiting_approval.pk, *live, *bulk]


def run_job(user, fmt: str, case_ids: list[int]) -> ExportJob:
    job = jobs.request_export(by=user, fmt=fmt, case_ids=case_ids, send_now=False)
    jobs.run_export(job.pk)
    job.refresh_from_db()
    return job


def test_it_writes_every_case_to_csv_as_the_streamed_export_does(staff, awkward_cases):
    job = run_job(staff["editor"], "csv", awkward_cases)

    written = job.file.read().decode("utf-8")
    streamed = b"".join(stream_csv(Case.objects.filter(pk__in=awkward_cases))).decode("utf-8")
    rows = list(csv.reader(io.StringIO(written.removeprefix("\ufeff"))))
    expected = list(csv.reader(io.StringIO(streamed)))
    assert written.startswith("\ufeff")
    assert (job.status, job.rows_done, job.rows_total, job.size) == ("done", 8, 8, len(written.encode()))
    assert rows[0] == expected[0]
    assert [row[0] for row in rows[1:]] == [str(pk) for pk in awkward_cases]
    assert sorted(rows[1:]) == sorted(expected[1:])


def test_it_neutralises_formulas_and_keeps_quotes_newlines_and_rtl_text_in_csv(staff, awkward_cases):
    job = run_job(staff["editor"], "csv", awkward_cases)

    rows = list(csv.reader(io.StringIO(job.file.read().decode("utf-8-sig"))))[1:]
    titles = [row[1] for row in rows[:5]]
    assert titles[:4] == ["'" + title for title in AWKWARD_TITLES[:4]]
    # Bidi controls are isolated (FSI ... PDI) so that they cannot reorder the cells around them.
    assert titles[4].startswith("\u2068") and RTL_TITLE in titles[4]
    assert {row[2] for row in rows[:5]} == {AWKWARD_CLAIM}


def test_it_writes_every_case_to_json_as_the_report_selector_does(staff, awkward_cases):
    job = run_job(staff["editor"], "json", awkward_cases)

    document = json.loads(job.file.read())
    reports = {case.pk: json.loads(_dumps(case_report(case))) for case in report_cases().filter(pk__in=awkward_cases)}
    assert (document["schema"], document["version"]) == ("verify-desk/case-report", "1.3")
    assert (job.status, job.rows_done, job.rows_total) == ("done", 8, 8)
    assert document["cases"] == [reports[pk] for pk in awkward_cases]
    assert document["cases"][2]["claim"] == AWKWARD_CLAIM


def test_it_writes_each_case_to_json_byte_for_byte_as_the_report_selector_does(staff, awkward_cases, awaiting_approval):
    # A live case with what only some cases have: a flag on the claim, evidence links, a proposed verdict.
    Flag.objects.create(case=awaiting_approval, kind="first-seen-before-claim", severity="medium", message="Earlier.")
    ChecklistItem.objects.filter(case=awaiting_approval).update(evidence_links=["https://example.org/1", "‮b"])

    job = run_job(staff["editor"], "json", awkward_cases)

    lines = job.file.read().decode("utf-8").split("\n")
    reports = {case.pk: _dumps(case_report(case)) for case in report_cases().filter(pk__in=awkward_cases)}
    assert [line.removesuffix(",") for line in lines[1:-2]] == [reports[pk] for pk in awkward_cases]
    assert lines[-2:] == ["]}", ""]


@pytest.mark.parametrize(("fmt", "per_chunk"), [("json", 12), ("csv", 5)])
def test_it_reads_each_chunk_of_cases_in_a_fixed_number_of_queries(
    staff, django_assert_num_queries, monkeypatch, fmt, per_chunk
):
    case_ids = bulk_published_cases(40, author=staff["reviewer"], approver=staff["editor"])
    monkeypatch.setattr(writer, "CHUNK_SIZE", 20)
    write = writer.write_csv if fmt == "csv" else partial(writer.write_json, generated_at=timezone.now())

    with django_assert_num_queries(2 * per_chunk):
        write(case_ids, io.BytesIO(), lambda done: None)


def test_it_reports_progress_after_each_chunk(staff, monkeypatch):
    case_ids = bulk_published_cases(5, author=staff["reviewer"], approver=staff["editor"])
    monkeypatch.setattr(writer, "CHUNK_SIZE", 2)
    seen = []

    writer.write_csv(case_ids, io.BytesIO(), seen.append)

    assert seen == [2, 4, 5]


def test_it_skips_cases_deleted_after_the_export_was_asked_for(staff, media_root):
    case_ids = bulk_published_cases(2, author=staff["reviewer"], approver=staff["editor"])
    job = run_job(staff["editor"], "json", [*case_ids, 999_999])

    assert (job.rows_done, job.rows_total) == (2, 2)
    assert [case["id"] for case in json.loads(job.file.read())["cases"]] == case_ids


def test_it_records_why_the_file_could_not_be_written(staff, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocker / "media"
    case_ids = bulk_published_cases(1, author=staff["reviewer"], approver=staff["editor"])

    job = run_job(staff["editor"], "csv", case_ids)

    assert job.status == "failed"
    assert job.reason.startswith("The export file could not be written: ")
    assert not job.file


def test_it_records_an_export_stopped_by_its_time_limit(staff, settings):
    job = jobs.request_export(by=staff["editor"], fmt="json", case_ids=[1], send_now=False)

    tasks.run_export.on_failure(SoftTimeLimitExceeded(), "task-id", (job.pk,), {}, None)

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.reason == f"The export was stopped after {settings.EXPORT_TIME_LIMIT:,} seconds, its time limit"


def test_it_leaves_a_finished_job_alone_when_its_message_comes_again(staff, media_root):
    job = run_job(staff["editor"], "csv", bulk_published_cases(1, author=staff["reviewer"], approver=staff["editor"]))

    assert jobs.run_export(job.pk) is None
    assert ExportJob.objects.get(pk=job.pk).file.name == job.file.name


# --- on the desk -----------------------------------------------------------------------------------------------------


def test_it_still_streams_a_small_export_from_the_case_list(client, staff, published):
    client.force_login(staff["editor"])

    response = client.get(reverse("admin:verify_case_export", args=["csv"]))

    assert response.status_code == 200
    assert response.streaming
    assert not ExportJob.objects.exists()


def test_it_hands_a_large_export_to_a_worker_and_links_the_file_when_done(
    client, staff, settings, media_root, eager, django_capture_on_commit_callbacks
):
    settings.EXPORT_STREAM_MAX_CASES = 2
    case_ids = bulk_published_cases(3, author=staff["reviewer"], approver=staff["editor"])
    client.force_login(staff["editor"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("admin:verify_case_export", args=["json"]) + "?o=1")

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:verify_case_export_job", args=[job.pk])
    assert sorted(job.case_ids) == sorted(case_ids)
    page = client.get(response["Location"]).content.decode()
    download = reverse("admin:verify_case_export_download", args=[job.pk])
    assert "Ready: 3 cases" in page and download in page
    assert 'http-equiv="refresh"' not in page
    file = client.get(download)
    assert file["Content-Disposition"].startswith('attachment; filename="verify-desk-cases-')
    assert len(json.loads(b"".join(file.streaming_content))["cases"]) == 3


def test_it_shows_a_running_export_with_its_progress_and_polls(client, staff):
    job = jobs.request_export(by=staff["editor"], fmt="csv", case_ids=list(range(1, 201)), send_now=False)
    ExportJob.objects.filter(pk=job.pk).update(status="running", rows_done=50)
    client.force_login(staff["editor"])

    page = client.get(reverse("admin:verify_case_export_job", args=[job.pk])).content.decode()

    assert "Writing: 50 of 200 cases (25%)" in page
    assert '<meta http-equiv="refresh" content="2">' in page
    assert client.get(reverse("admin:verify_case_export_download", args=[job.pk])).status_code == 404


def test_it_shows_why_an_export_failed(client, staff):
    job = jobs.request_export(by=staff["editor"], fmt="csv", case_ids=[1], send_now=False)
    jobs.record_failure(job.pk, "The export file could not be written: No space left on device")
    client.force_login(staff["editor"])

    page = client.get(reverse("admin:verify_case_export_job", args=[job.pk])).content.decode()

    assert "The export failed: The export file could not be written: No space left on device" in page


@pytest.mark.parametrize("name", ["admin:verify_case_export_job", "admin:verify_case_export_download"])
def test_it_keeps_an_export_from_people_who_may_not_export(client, staff, name):
    job = jobs.request_export(by=staff["editor"], fmt="csv", case_ids=[1], send_now=False)
    client.force_login(staff["desk"])

    assert client.get(reverse(name, args=[job.pk])).status_code == 403


def test_it_refuses_to_start_an_export_for_people_who_may_not_export(client, staff, published):
    client.force_login(staff["desk"])

    assert client.get(reverse("admin:verify_case_export", args=["csv"])).status_code == 403
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("name", ["admin:verify_case_export_job", "admin:verify_case_export_download"])
def test_it_keeps_an_export_from_other_exporters(client, staff, name):
    job = jobs.request_export(by=staff["editor"], fmt="csv", case_ids=[1], send_now=False)
    client.force_login(make_user("editor", username="editor-second"))

    assert client.get(reverse(name, args=[job.pk])).status_code == 404


def test_it_records_an_export_that_could_not_be_handed_to_a_worker(staff, monkeypatch):
    job = jobs.request_export(by=staff["editor"], fmt="csv", case_ids=[1], send_now=False)

    def unreachable(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(tasks.run_export, "delay", unreachable)
    jobs.send(job.pk)

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.reason.startswith("The export could not be handed to a worker (the task queue is unreachable: ")
