"""`manage.py export_report`: each format to a file, and clear refusals that write nothing."""

import json
import re

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_case
from verify.reports import csv as csv_report


def export(*args: str) -> None:
    call_command("export_report", *args)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def out(tmp_path):
    """A folder of its own for the exports (out also holds the test's MEDIA_ROOT)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("fmt", ["csv", "json", "pdf", "jsonld"])
def test_it_writes_each_format(published, out, fmt):
    output = out / f"report.{fmt}"
    export("--format", fmt, "--case", str(published.pk), "--output", str(output))
    data = output.read_bytes()
    if fmt == "pdf":
        assert data.startswith(b"%PDF")
    elif fmt == "csv":
        assert data.decode().splitlines()[1].startswith(f"{published.pk},")
    else:
        assert json.loads(data)
    assert leftovers(out) == [output.name]


def test_it_filters_by_stage(published, awaiting_approval, out):
    output = out / "report.json"
    export("--format", "json", "--stage", "awaiting_approval", "--stage", "in_review", "--output", str(output))
    assert [c["id"] for c in json.loads(output.read_text())["cases"]] == [awaiting_approval.pk]


def test_it_names_the_formats_when_given_an_unknown_one(out):
    with pytest.raises(CommandError, match="argument --format: invalid choice: 'xml'") as refused:
        export("--format", "xml", "--output", str(out / "x"))
    # Python versions differ on whether the choices are quoted.
    assert re.search(r"choose from '?csv'?, '?json'?, '?pdf'?, '?jsonld'?\)", str(refused.value))
    assert leftovers(out) == []


def test_it_refuses_an_empty_filter_and_writes_nothing(published, out):
    with pytest.raises(
        CommandError, match=r"No case matches the filter \(all cases in stage dismissed\); nothing written"
    ):
        export("--format", "csv", "--stage", "dismissed", "--output", str(out / "out.csv"))
    assert leftovers(out) == []


def test_it_refuses_an_unknown_stage(out, db):
    with pytest.raises(CommandError, match="Unknown stage 'done'; stages are: new, triage"):
        export("--format", "csv", "--stage", "done", "--output", str(out / "out.csv"))


def test_it_needs_a_case_for_one_case_formats(published, out):
    with pytest.raises(CommandError, match="--format pdf reports on one case; give it with --case ID"):
        export("--format", "pdf", "--output", str(out / "out.pdf"))


def test_it_refuses_a_pdf_of_a_case_without_a_verdict(desk, out):
    case = make_case(by=desk, stage="triage")
    with pytest.raises(CommandError, match=f"Case #{case.pk} has no verdict yet.*nothing written"):
        export("--format", "pdf", "--case", str(case.pk), "--output", str(out / "out.pdf"))
    assert leftovers(out) == []


def test_it_refuses_json_ld_for_an_unpublished_case_and_keeps_the_old_file(awaiting_approval, out):
    output = out / "claim.jsonld"
    output.write_text("previous export")
    with pytest.raises(CommandError, match="is Awaiting approval, not published.*nothing written"):
        export("--format", "jsonld", "--case", str(awaiting_approval.pk), "--output", str(output))
    assert output.read_text() == "previous export"
    assert leftovers(out) == ["claim.jsonld"]


def test_it_leaves_nothing_half_written_when_an_export_fails_midway(make_published, out, monkeypatch):
    make_published(), make_published()
    real, calls = csv_report.row_report, []

    def fail_on_second(case):
        calls.append(case.pk)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(case)

    monkeypatch.setattr(csv_report, "row_report", fail_on_second)
    with pytest.raises(RuntimeError, match="database went away"):
        export("--format", "csv", "--output", str(out / "out.csv"))
    assert leftovers(out) == []


def test_it_refuses_an_output_folder_that_does_not_exist(published, out):
    with pytest.raises(CommandError, match="does not exist; nothing written"):
        export("--format", "csv", "--output", str(out / "missing" / "out.csv"))
