"""The c2pa extractor on files made here, on the corpus's Content Credentials, and on broken and hostile files."""

from pathlib import Path

import pytest
from PIL import Image

from tests.extractors.helpers import attempt_all, broken_files, is_readable_sentence, problems_in, slowest_of
from workers.extractors import c2pa
from workers.extractors.base import ExtractionFailed, Unsupported


def read(path: Path) -> dict:
    return c2pa.extract(path, path.parent)


def test_it_reports_no_manifest_in_a_plain_jpeg(tmp_path):
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (64, 48), "teal").save(path, "JPEG")

    result = read(path)

    assert result["present"] is False
    assert result["validation_state"] is None
    assert result["validation_errors"] == []
    assert result["note"] == "No Content Credentials (C2PA manifest) in the file."


def test_it_refuses_a_file_type_c2pa_cannot_read(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Not a picture, not a video.\n" * 100, encoding="utf-8")

    with pytest.raises(Unsupported, match=r"^c2pa cannot read Content Credentials from this type of file"):
        read(path)


def test_it_fails_readably_on_an_mp4_whose_box_overruns_the_file(tmp_path):
    path = tmp_path / "broken.mp4"
    file_type = b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp42"
    path.write_bytes(file_type + b"\x00\x10\x00\x00moov" + bytes(8192))  # a 1 MiB box in an 8 KiB file

    with pytest.raises(
        ExtractionFailed,
        match=r"^c2pa could not read the file's Content Credentials: .* Box size extends beyond asset bounds\.$",
    ):
        read(path)


# The corpus's Content Credentials, against c2pa-python's readings in expected-exiftool.json.


def test_it_agrees_with_the_expected_readings_of_every_c2pa_file(corpus, corpus_expected):
    for path in sorted((corpus / "c2pa").iterdir()):
        result, expected = read(path), corpus_expected[f"c2pa/{path.name}"]["c2pa"]
        assert result["present"] is expected["manifest"], path.name
        assert result["validation_state"] == expected.get("validation_state"), path.name
        assert result["claim_generator"] == expected.get("claim_generator"), path.name
        assert result["signer"] == expected.get("issuer"), path.name


def test_it_names_a_broken_claim_signature(corpus):
    result = read(corpus / "c2pa" / "E-sig-CA.jpg")

    assert result["validation_state"] == "Invalid"
    assert "claimSignature.mismatch" in [error["code"] for error in result["validation_errors"]]


def test_it_names_an_image_changed_after_signing(corpus):
    result = read(corpus / "c2pa" / "XCA.jpg")

    assert result["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in [error["code"] for error in result["validation_errors"]]


def test_it_lists_the_signed_actions_and_ingredients(corpus):
    result = read(corpus / "c2pa" / "CA.jpg")

    assert [action["action"] for action in result["actions"]] == ["c2pa.opened", "c2pa.color_adjustments"]
    assert result["ingredients"] == [
        {
            "title": "A.jpg",
            "format": "image/jpeg",
            "relationship": "parentOf",
            "document_id": "xmp.did:813ee422-9736-4cdc-9be6-4e35ed8e41cb",
            "instance_id": "xmp.iid:813ee422-9736-4cdc-9be6-4e35ed8e41cb",
            "has_manifest": False,
        }
    ]
    assert result["signed_at"] == "2024-08-06T21:53:37+00:00"


def test_it_marks_an_ingredient_that_carries_its_own_manifest(corpus):
    (ingredient,) = read(corpus / "c2pa" / "video1.mp4")["ingredients"]

    assert ingredient["has_manifest"] is True


def test_it_reports_no_manifest_in_camera_videos(corpus):
    for name in ("with-gps.mov", "with-gps.mp4", "sample_mpeg4.mp4"):
        assert read(corpus / "video" / name)["present"] is False, name


# Broken and hostile files: only Unsupported or ExtractionFailed, in readable sentences, quickly.


def test_it_survives_every_malformed_and_fuzzed_file(corpus):
    outcomes = attempt_all(read, broken_files(corpus), readable=is_readable_sentence)

    problems, slowest = problems_in(outcomes), slowest_of(outcomes)
    assert not problems, "\n".join(problems)
    assert slowest.seconds < 5, f"{slowest.path.name} took {slowest.seconds:.1f} s"
