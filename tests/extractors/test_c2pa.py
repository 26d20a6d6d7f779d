"""The c2pa extractor on files made here, on the corpus's Content Credentials, and on broken and hostile files."""

import datetime
import io
import json
from pathlib import Path

import c2pa as c2pa_python
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
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


def certificate(subject: str, key, *, issuer: x509.Certificate | None = None, issuer_key=None) -> x509.Certificate:
    """A test CA (no issuer given) or a signing certificate it issues, in the C2PA certificate profile."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, subject), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Desk Tests")]
    )
    is_ca = issuer is None
    unused = ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement")
    usage = dict.fromkeys((*unused, "encipher_only", "decipher_only"), False)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if is_ca else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=not is_ca, key_cert_sign=is_ca, crl_sign=is_ca, **usage),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not is_ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(key if is_ca else issuer_key, hashes.SHA256())


def sign_jpeg(path: Path, manifest: dict) -> None:
    """Write a small JPEG to `path` carrying `manifest`, signed by a certificate made here (so: untrusted)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Desk Tests Root", ca_key)
    signing = certificate("Desk Tests Signer", key, issuer=ca, issuer_key=ca_key)
    chain = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in (signing, ca))
    private_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    source, signed = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(source, "JPEG")
    source.seek(0)
    info = c2pa_python.C2paSignerInfo(
        alg=c2pa_python.C2paSigningAlg.ES256, sign_cert=chain, private_key=private_key, ta_url=None
    )
    c2pa_python.Builder(json.dumps(manifest)).sign(c2pa_python.Signer.from_info(info), "image/jpeg", source, signed)
    path.write_bytes(signed.getvalue())


def test_it_reads_the_signer_generator_and_actions_of_a_manifest_signed_here(tmp_path):
    path = tmp_path / "signed.jpg"
    capture = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    sign_jpeg(
        path,
        {
            "claim_generator_info": [{"name": "verify-desk-tests", "version": "1.0"}],
            "title": "signed.jpg",
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {"action": "c2pa.created", "digitalSourceType": capture},
                            {
                                "action": "c2pa.cropped",
                                "softwareAgent": "Desk Editor 2.1",
                                "description": "Cropped to the face",
                            },
                        ]
                    },
                }
            ],
        },
    )

    result = read(path)

    assert result["present"] is True
    assert (result["signer"], result["signer_common_name"]) == ("Desk Tests", "Desk Tests Signer")
    assert result["claim_generator"] == "verify-desk-tests 1.0"
    assert result["title"] == "signed.jpg"
    assert [(a["action"], a["software_agent"], a["description"]) for a in result["actions"]] == [
        ("c2pa.created", None, None),
        ("c2pa.cropped", "Desk Editor 2.1", "Cropped to the face"),
    ]
    assert result["actions"][0]["digital_source_type"] == capture
    # Intact, but signed by a certificate no trust list knows.
    assert result["validation_state"] == "Valid"
    assert [error["code"] for error in result["validation_errors"]] == ["signingCredential.untrusted"]


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
