"""Faults during a real batch: Redis restarts and PostgreSQL drops out while `manage.py ingest` runs.

A Celery worker (with beat, for the stalled-extraction sweep) reads the files. Both it and the
command reach PostgreSQL through a TCP proxy that this test cuts and restores, and use a Redis
server of this test's own that it restarts (no persistence, so every queued message is lost).
"""

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.db import connection

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from tests.services import Process, desk_env, free_port, require_services, wait_for, wait_until
from verify.models import Case, CaseEvent, Extraction, MediaItem
from workers.extractors import extractors_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHOTOS = 24
# Longer than intake's retries (0.5 + 1 + 2 + 4 s), so the file in flight is reported as not taken.
CUT_SECONDS = 10
# Each answer from PostgreSQL is held this long, so that the batch is still running when the faults come.
PROXY_LATENCY = 0.01


class CuttableProxy:
    """A local port forwarded to PostgreSQL; `cut()` closes every connection and refuses new ones until `restore()`."""

    def __init__(self, target: tuple[str, int], latency: float = 0.0):
        self.target, self.latency = target, latency
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepting = threading.Event()
        self.accepting.set()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.accepting.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.latency), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, latency: float) -> None:
        try:
            while data := source.recv(65536):
                if latency:
                    time.sleep(latency)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        with self.lock:
            for sock in sockets:
                self.sockets.discard(sock)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut(self) -> None:
        self.accepting.clear()
        with self.lock:
            open_now = list(self.sockets)
        self._drop(*open_now)

    def restore(self) -> None:
        self.accepting.set()

    def close(self) -> None:
        self.listener.close()
        self.cut()


class RedisServer:
    """A redis-server of this test's own on a free port, without persistence, that can be restarted."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.port, self.log_dir, self.env, self.starts = free_port(), log_dir, env, 0
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = Process.start(f"redis-{self.starts}", command, self.env, self.log_dir)
        wait_for(self.answers, process=self.process, what="redis PING", seconds=10)

    def answers(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_connect_timeout=1) as client:
                return client.ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process:
            self.process.stop()


@pytest.fixture
def postgres_proxy():
    require_services()
    if connection.vendor != "postgresql":
        message = "The fault check cuts a PostgreSQL connection; run it with DATABASE_URL=postgres://..."
        if os.getenv("VERIFY_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    target = (connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
    proxy = CuttableProxy(target, latency=PROXY_LATENCY)
    yield proxy
    proxy.close()


@pytest.fixture
def outcome_audit(postgres_proxy):
    """Every outcome written to an extraction, noted by the database itself, whoever writes it and however often."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TABLE fault_check_outcomes (extraction_id bigint NOT NULL, status text NOT NULL);
            CREATE FUNCTION fault_check_note_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO fault_check_outcomes VALUES (NEW.id, NEW.status); RETURN NEW; END $$;
            CREATE TRIGGER fault_check_outcome AFTER UPDATE ON verify_extraction FOR EACH ROW
                WHEN (NEW.finished_at IS NOT NULL AND NEW.finished_at IS DISTINCT FROM OLD.finished_at)
                EXECUTE FUNCTION fault_check_note_outcome();
            """
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER fault_check_outcome ON verify_extraction; DROP FUNCTION fault_check_note_outcome();"
            "DROP TABLE fault_check_outcomes;"
        )


@pytest.fixture
def own_redis(tmp_path):
    if not shutil.which("redis-server"):
        message = "The fault check starts its own redis-server, which is not installed"
        if os.getenv("VERIFY_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = RedisServer(tmp_path, {"PATH": os.environ.get("PATH", os.defpath)})
    server.start()
    yield server
    server.stop()


def test_it_loses_no_file_and_doubles_nothing_when_redis_restarts_and_postgres_drops_out(
    postgres_proxy, outcome_audit, own_redis, tmp_path
):
    db = connection.settings_dict
    # The sweep every 2 s, re-sending what was sent 6 s ago and not started: the 60 s + 60 s of
    # production, shortened so that the check stays short.
    env = desk_env(
        tmp_path,
        DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{postgres_proxy.port}/{db['NAME']}",
        REDIS_URL=own_redis.url,
        CELERY_BROKER_URL=own_redis.url,
        EXTRACTION_SWEEP_SECONDS="2",
        EXTRACTION_RESEND_SECONDS="6",
    )
    desk = make_user("desk", username="fault-desk")
    case = make_case(by=desk, stage="triage", title="Faults mid-batch")
    photos = tmp_path / "photos"
    photos.mkdir()
    for number in range(PHOTOS):
        (photos / f"photo-{number:02d}.jpg").write_bytes(jpeg_bytes(size=(160, 120), seed=1000 + number))

    worker = Process.start(
        "worker",
        [
            "celery",
            "-A",
            "workers",
            "worker",
            "-Q",
            "celery,screening",
            "--beat",
            f"--schedule={tmp_path / 'celerybeat-schedule'}",
        ]
        + ["--loglevel=info", "--concurrency=2", "--without-gossip", "--without-mingle"],
        env,
        tmp_path,
    )
    try:
        wait_for(lambda: "ready." in worker.stderr(), process=worker, what="worker ready")
        command = ["python", "manage.py", "ingest", str(photos), "--case", str(case.pk), "--as", desk.username]
        in_case = MediaItem.objects.filter(cases=case)

        started = time.monotonic()
        first = Process.start("ingest-1", command, env, tmp_path)
        processes = [first, worker]
        wait_until(lambda: in_case.count() >= 4, seconds=30, what="4 files in", processes=processes)
        own_redis.stop()
        redis_down_at = in_case.count()
        time.sleep(1.5)
        own_redis.start()
        wait_until(lambda: in_case.count() >= redis_down_at + 4, seconds=30, what="4 more files", processes=processes)
        postgres_cut_at = in_case.count()
        postgres_proxy.cut()
        time.sleep(CUT_SECONDS)
        postgres_proxy.restore()
        first.popen.wait(timeout=60)
        first_out = first.stdout_path.read_text() + first.stderr_path.read_text()
        not_taken = len(re.findall(r": not taken: ", first_out))

        second = Process.start("ingest-2", command, env, tmp_path)
        second.popen.wait(timeout=60)
        second_out = second.stdout_path.read_text() + second.stderr_path.read_text()
        ingest_done = time.monotonic() - started

        def all_read() -> bool:
            stage = Case.objects.get(pk=case.pk).stage
            waiting = Extraction.objects.filter(media_item__cases=case, status__in=("pending", "running"))
            return stage == "in_review" and not waiting.exists()

        wait_until(all_read, seconds=60, what="every reading recorded", processes=[worker, first, second])
        everything_read = time.monotonic() - started
    finally:
        worker.stop()
    worker_log = worker.stderr()

    items = list(MediaItem.objects.filter(cases=case))
    extractions = list(Extraction.objects.filter(media_item__cases=case))
    custody = Counter(
        CaseEvent.objects.filter(case=case, kind="media_collected").values_list("media_item_id", flat=True)
    )
    originals = [p for p in (tmp_path / "media" / "originals").rglob("*") if p.is_file()]
    recorded = set(MediaItem.objects.values_list("sha256", flat=True))
    orphans = [p.name for p in originals if p.name not in recorded]
    left_in_incoming = sorted(p.name for p in (tmp_path / "media" / "incoming").glob("*"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT extraction_id FROM fault_check_outcomes")
        outcomes = Counter(extraction_id for (extraction_id,) in cursor.fetchall())
    resent = sum(int(n) for n in re.findall(r"Re-sent (\d+) stalled extraction", worker_log))
    broker_refused = first_out.count("Broker unreachable")

    print(
        f"\nFault check: {PHOTOS} photos, Redis restarted after {redis_down_at} files "
        f"({broker_refused} send(s) refused while it was down), PostgreSQL cut for {CUT_SECONDS} s after "
        f"{postgres_cut_at} files ({postgres_proxy.refused} connection(s) refused)\n"
        f"  first run: exit {first.popen.returncode}, {not_taken} file(s) reported as not taken\n"
        f"  second run: exit {second.popen.returncode}: {summary_line(second_out)}\n"
        f"  files lost: {PHOTOS - len(items)}\n"
        f"  orphans on disk: {len(orphans)} (copies left in incoming/: {len(left_in_incoming)})\n"
        f"  duplicate custody events: {sum(n - 1 for n in custody.values())}\n"
        f"  extractions with two outcomes: {sum(n > 1 for n in outcomes.values())} "
        f"({sum(outcomes.values())} outcomes recorded by the worker for {len(extractions)} extractions)\n"
        f"  extraction tasks re-sent by the sweep: {resent}\n"
        f"  both runs of the command done after {ingest_done:.1f} s; every reading recorded after "
        f"{everything_read:.1f} s"
    )
    assert redis_down_at < postgres_cut_at < PHOTOS, "the faults did not come while the batch was running"
    assert first.popen.returncode == (1 if not_taken else 0), first_out
    assert second.popen.returncode == 0, second_out
    assert f"{PHOTOS} file(s) into case #{case.pk}" in second_out
    assert len(items) == PHOTOS
    assert orphans == []
    assert left_in_incoming == []
    assert set(custody.values()) == {1} and set(custody) == {item.pk for item in items}
    assert len(extractions) == PHOTOS * len(extractors_for("photo"))
    assert {e.status for e in extractions} == {"ok"}, Counter((e.extractor, e.status, e.error) for e in extractions)
    assert outcomes == {e.pk: 1 for e in extractions}, worker.output()
    assert everything_read < 100


def summary_line(output: str) -> str:
    return next((line for line in output.splitlines() if " file(s) into case #" in line), "no summary")
