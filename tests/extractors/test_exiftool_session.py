"""The ExifTool session: the same reading as one ExifTool run per file, at a fraction of the cost."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.media import jpeg_bytes
from workers.extractors import base, exiftool
from workers.extractors.exiftool_session import ExifToolSession, SessionTimeout

pytestmark = pytest.mark.skipif(not exiftool.available(), reason="exiftool is not installed")


def test_it_reads_every_corpus_file_as_one_exiftool_run_per_file_does(corpus, tmp_path):
    files = sorted(
        path
        for folder in ("photos", "video", "c2pa", "malformed")
        for path in (corpus / folder).rglob("*")
        if path.is_file()
    )
    assert len(files) > 20
    for path in files:
        assert _outcome(exiftool.extract, path, tmp_path) == _outcome(_one_run, path, tmp_path), path.name


def _outcome(extract, path, artifacts_dir) -> object:
    try:
        return extract(path, artifacts_dir)
    except (base.Unsupported, base.ExtractionFailed) as exc:
        return type(exc).__name__, str(exc)


def _one_run(path, artifacts_dir) -> dict:
    """The extractor as it was before the session: one ExifTool process for the file."""

    def run_once(path):
        completed = subprocess.run(  # noqa: S603
            [*exiftool.COMMAND, "--", str(path.resolve())], capture_output=True, timeout=60, check=False
        )
        found = json.loads(completed.stdout.decode("utf-8", errors="replace") or "[]")
        if not found:
            raise base.ExtractionFailed(completed.stderr.decode())
        return {key: exiftool._storable(value) for key, value in found[0].items()}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exiftool, "run_exiftool", run_once)
        return exiftool.extract(path, artifacts_dir)


def test_it_keeps_one_exiftool_process_for_many_files(tmp_path):
    session = ExifToolSession()
    paths = []
    for seed in range(3):
        paths.append(tmp_path / f"{seed}.jpg")
        paths[-1].write_bytes(jpeg_bytes(seed=seed))
    try:
        answers = [session.read(["-j", str(path)], timeout=30) for path in paths]
        pid = session.process.pid
        session.read(["-j", str(paths[0])], timeout=30)
        assert session.process.pid == pid
    finally:
        session.stop()
    assert [json.loads(answer.stdout)[0]["SourceFile"] for answer in answers] == list(map(str, paths))


def test_it_starts_a_new_exiftool_after_one_that_did_not_finish_in_time(tmp_path):
    session = ExifToolSession()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes())
    try:
        session.read(["-j", str(photo)], timeout=30)
        stopped = session.process
        with pytest.raises(SessionTimeout):
            session.read(["-j", str(photo)], timeout=1e-9)
        assert session.process is None
        assert stopped.poll() is not None
        answer = session.read(["-j", str(photo)], timeout=30)
    finally:
        session.stop()
    assert json.loads(answer.stdout)[0]["SourceFile"] == str(photo)
