"""The PDF verdict report: what it contains, and that WeasyPrint reads nothing from the network."""

import subprocess

import pytest
from django.conf import settings

from tests.factories import make_case
from verify.models import Flag, MediaItem
from verify.reports import NoVerdict, load_report_case
from verify.reports.pdf import LocalFilesOnly, render_html, render_pdf, report_fetcher


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_it_renders_the_verdict_with_claim_summary_and_hashes(published, tmp_path):
    pdf = render_pdf(published)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    flat = " ".join(text.split())
    assert "Video shows North Korean soldiers learning Russian words in Kursk." in flat
    assert "The footage is from 2021 and shows a Donetsk training ground." in flat
    for item in published.media_items.all():
        assert item.sha256 in text
    for shown in ("Misleading / miscaptioned", "Apple iPhone 12", "Snapseed 2.0", "48.01590, 37.80280", "Invalid"):
        assert shown in flat
    assert "CUSTODY TIMELINE" in flat and "Verdict approved" in flat and "Triage → In review" in flat


def test_it_embeds_the_thumbnail(published, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(render_pdf(published))
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert "jpeg" in listing or "image" in listing.splitlines()[-1]
    assert len(listing.splitlines()) == 3  # header, rule, one image


def test_it_marks_a_verdict_that_is_not_approved(awaiting_approval, tmp_path):
    flat = " ".join(pdf_text(render_pdf(awaiting_approval), tmp_path).split())
    assert "PROPOSED: not approved" in flat


def test_it_shows_each_files_flags_and_the_claims_flags(awaiting_approval, tmp_path):
    # Not yet published: a published case's report is frozen, and a flag added now would not reach it.
    Flag.objects.create(
        case=awaiting_approval,
        kind="first-seen-before-claim",
        severity="medium",
        message="CLAIM-FLAG posted before the claim",
    )
    case = load_report_case(awaiting_approval.pk)
    flat = " ".join(pdf_text(render_pdf(case), tmp_path).split())
    photo, video = (case.media_items.get(kind=kind).sha256 for kind in (MediaItem.Kind.PHOTO, MediaItem.Kind.VIDEO))
    assert "FLAGS ON THE CLAIM (1) • MEDIUM CLAIM-FLAG posted before the claim" in flat
    c2pa = "HIGH The file's Content Credentials (C2PA) are invalid (signed by Adobe Inc.)"
    stripped = "LOW The file's metadata has no camera make, camera model, capture time or GPS position."
    # Each file's flags are shown with that file, most serious first; the video has none.
    assert flat.index(photo) < flat.index(c2pa) < flat.index(stripped) < flat.index(video)
    assert "Flags none" in flat[flat.index(video) :]


def test_it_lists_a_flag_among_the_evidence_the_verdict_rests_on(resting_on_a_flag, tmp_path):
    case, flag = resting_on_a_flag
    flat = " ".join(pdf_text(render_pdf(load_report_case(case.pk)), tmp_path).split())
    assert "EVIDENCE THE VERDICT RESTS ON • FLAG High: The file's Content Credentials (C2PA) are invalid" in flat
    assert "(IMG_PRIVATE_0001.jpg)" in flat


def test_it_escapes_hostile_html_in_the_summary_and_rationale(make_published):
    case = make_published(
        summary='<script>alert("summary")</script> & <b>bold</b>',
        rationale='</div><h1 id="injected">Injected</h1>\n\n<img src="file:///etc/passwd" onerror="alert(1)">',
    )
    html = render_html(case)
    assert "&lt;script&gt;alert(&quot;summary&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;/div&gt;&lt;h1 id=&quot;injected&quot;&gt;Injected&lt;/h1&gt;" in html
    assert "&lt;img src=&quot;file:///etc/passwd&quot; onerror=&quot;alert(1)&quot;&gt;" in html
    for raw in ("<script>", '<h1 id="injected">', '<img src="file:///etc/passwd"', "<b>bold</b>"):
        assert raw not in html


def test_it_refuses_a_case_without_a_verdict(desk):
    case = load_report_case(make_case(by=desk).pk)
    with pytest.raises(NoVerdict, match=f"Case #{case.pk} has no verdict yet"):
        render_pdf(case)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x.png",
        "https://example.org/a.css",
        "ftp://example.org/x",
        "file:///etc/passwd",
    ],
)
def test_its_fetcher_refuses_the_network_and_files_outside_media(url, media_root):
    with pytest.raises(ValueError, match="refused"):
        report_fetcher().fetch(url)


def test_its_fetcher_reads_files_under_media_root(media_root):
    media_root.mkdir(parents=True)
    (media_root / "thumb.jpg").write_bytes(b"jpeg bytes")
    response = report_fetcher().fetch((media_root / "thumb.jpg").as_uri())
    assert response.read() == b"jpeg bytes"
    response.close()


def test_its_fetcher_refuses_a_file_on_another_host(media_root):
    assert not report_fetcher().allows(f"file://fileserver{media_root}/thumb.jpg")


def test_its_fetcher_refuses_a_path_that_climbs_out_of_media_root(media_root):
    escape = f"{media_root.as_uri()}/../../etc/passwd"
    assert not LocalFilesOnly([settings.MEDIA_ROOT]).allows(escape)
