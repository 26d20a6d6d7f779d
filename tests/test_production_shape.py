"""The docker-compose production shape without Docker: compose's web and worker commands on loopback services."""

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import psycopg
import pytest
import yaml
from celery import Celery
from psycopg import sql

from tests.services import (
    BASE_DIR,
    POSTGRES_ADMIN,
    WAIT_SECONDS,
    Process,
    claimed_redis_db,
    free_port,
    require_services,
    wait_for,
)

pytestmark = pytest.mark.services

COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
TASK_NAME = "workers.tasks.report_overdue_cases"


@pytest.fixture(scope="module", autouse=True)
def services_reachable() -> None:
    require_services()


@pytest.fixture(scope="module")
def database_url(services_reachable: None) -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards even if processes still hold connections."""
    name = f"verify_desk_compose_check_{secrets.token_hex(4)}"
    with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def redis_url(services_reachable: None) -> Iterator[str]:
    with claimed_redis_db() as url:
        yield url


# --- what compose runs -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_services() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def compose_command(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else shlex.split(command)


def compose_default(key: str, value: str) -> str:
    """Resolve compose's ${NAME:-default}; a variable compose requires from the host must be set by this check."""

    def default(match: re.Match) -> str:
        if match.group(2) != "-":
            raise ValueError(f"docker-compose.yml needs {match.group(1)} from the host for {key}; set it in host_env")
        return match.group(3)

    return re.sub(r"\$\{(\w+)(?::?([-?])([^}]*))?\}", default, value)


def service_env(service: dict, host_env: dict[str, str]) -> dict[str, str]:
    """Compose's environment for a service, with host-specific values (hostnames, volumes) swapped for local ones."""
    environment = service["environment"]
    assert isinstance(environment, dict), "compose environment is expected as a mapping"
    env = {key: compose_default(key, str(value)) for key, value in environment.items() if key not in host_env}
    return env | host_env


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose-check")


@pytest.fixture(scope="module")
def host_env(run_dir: Path, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        # A container's bare environment: the Dockerfile's ENV, and `python`/`gunicorn`/`celery` from this virtualenv.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "HOME": str(run_dir),  # gunicorn keeps a control socket under $HOME; one per run
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # What compose points at service hostnames and volumes.
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(run_dir / "media"),
        # What the image keeps under /app.
        "VERIFY_DATA_DIR": str(run_dir / "var"),
        "STATIC_ROOT": str(run_dir / "staticfiles"),
    }


def rebind(gunicorn_args: str, address: str) -> str:
    """Compose's GUNICORN_CMD_ARGS with only the bind address changed."""
    args = shlex.split(gunicorn_args)
    for flag in ("--bind", "-b"):
        if flag in args:
            args[args.index(flag) + 1] = address
            return shlex.join(args)
    return shlex.join([*args, "--bind", address])


# --- HTTP ------------------------------------------------------------------------------------------------------------


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# No proxies from the environment, and redirects are answers to look at, not to follow.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _KeepRedirects)


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def describe(self) -> str:
        return f"HTTP {self.status}, headers {dict(self.headers)}, body {self.body[:1000]!r}"


def fetch(url: str, *, behind_https_proxy: bool = True, timeout: float = 5) -> Reply:
    """GET url as the TLS-terminating proxy in front of production would pass it on."""
    headers = {"X-Forwarded-Proto": "https"} if behind_https_proxy else {}
    try:
        with OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers, exc.read())


@dataclass
class WebServer:
    base_url: str
    process: Process

    def get(self, path: str, **kwargs: object) -> Reply:
        return fetch(self.base_url + path, **kwargs)


def answers(url: str) -> bool:
    try:
        fetch(url, timeout=2)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return True


# --- web and worker --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(compose_services: dict, host_env: dict[str, str], run_dir: Path) -> Iterator[WebServer]:
    env = service_env(compose_services["web"], host_env)
    # The image runs collectstatic at build time; with DEBUG off whitenoise serves the manifest it writes.
    collectstatic = subprocess.run(
        ["python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert collectstatic.returncode == 0, f"collectstatic failed:\n{collectstatic.stdout}\n{collectstatic.stderr}"

    address = f"127.0.0.1:{free_port()}"
    env["GUNICORN_CMD_ARGS"] = rebind(env["GUNICORN_CMD_ARGS"], address)
    server = WebServer(
        f"http://{address}", Process.start("web", compose_command(compose_services["web"]), env, run_dir)
    )
    try:
        wait_for(lambda: answers(server.base_url + "/healthz"), process=server.process, what="HTTP answer")
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="module")
def celery_client(redis_url: str) -> Iterator[Celery]:
    """A client of the broker the worker reads, separate from the project's app (this process has its own settings)."""
    app = Celery("verify_desk_compose_check", broker=redis_url, backend=redis_url, set_as_current=False)
    app.control.purge()
    try:
        yield app
    finally:
        app.control.purge()
        app.close()


@pytest.fixture(scope="module")
def worker(
    compose_services: dict, host_env: dict[str, str], run_dir: Path, web: WebServer, celery_client: Celery
) -> Iterator[Process]:
    """Compose's worker command; it depends on `web` because the web command is what migrates the database."""
    env = service_env(compose_services["worker"], host_env)
    process = Process.start("worker", compose_command(compose_services["worker"]), env, run_dir)
    try:
        yield process
    finally:
        process.stop()


# --- the checks ------------------------------------------------------------------------------------------------------


def test_it_answers_healthz_from_the_compose_web_command(web: WebServer) -> None:
    reply = web.get("/healthz")

    assert reply.status == 200, f"/healthz: {reply.describe()}\n{web.process.output()}"
    assert json.loads(reply.body) == {"status": "ok"}, f"/healthz: {reply.describe()}"


def test_it_serves_the_admin_login_with_its_css_from_whitenoise(web: WebServer) -> None:
    login = web.get("/admin/login/")
    assert login.status == 200, f"/admin/login/: {login.describe()}\n{web.process.output()}"
    html = login.body.decode()
    # A manifest name (base.<hash>.css) shows collectstatic's CompressedManifestStaticFilesStorage is in use.
    css_path = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', html)
    assert css_path, f"no hashed admin base.css link in /admin/login/:\n{html[:3000]}"

    css = web.get(css_path.group(1))

    assert css.status == 200, f"{css_path.group(1)}: {css.describe()}\n{web.process.output()}"
    assert css.headers.get_content_type() == "text/css", css.describe()
    assert b"body" in css.body, f"admin base.css came back without its rules: {css.describe()}"
    assert "immutable" in css.headers.get("Cache-Control", ""), f"not served by whitenoise? {css.describe()}"


def test_it_redirects_plain_http_to_https(web: WebServer) -> None:
    reply = web.get("/healthz", behind_https_proxy=False)

    assert reply.status == 301, f"/healthz over plain HTTP: {reply.describe()}"
    assert reply.headers["Location"].startswith("https://"), reply.describe()


def test_it_runs_report_overdue_cases_on_the_compose_worker_command(worker: Process, celery_client: Celery) -> None:
    result = celery_client.send_task(TASK_NAME)
    try:
        wait_for(result.ready, process=worker, what=f"result for {TASK_NAME}[{result.id}]")
        value = result.get(timeout=5, propagate=False)
        assert result.successful(), f"{TASK_NAME} failed: {result.traceback}\n{worker.output()}"
    finally:
        result.forget()

    assert isinstance(value, list), f"{TASK_NAME} returned {value!r}"
    assert result.id in worker.stderr(), f"the task was not run by this worker\n{worker.output()}"


def stored_entries(schedule: Path) -> set[str]:
    """The entries in beat's schedule file; none while it is missing or being written."""
    import dbm
    import shelve

    try:
        with shelve.open(str(schedule), flag="r") as stored:  # noqa: S301 - the file beat writes here
            return set(stored.get("entries", {}))
    except (*dbm.error, OSError, KeyError, EOFError, ValueError):
        return set()


def test_it_starts_the_compose_beat_command_with_the_desks_schedule(
    compose_services: dict, host_env: dict[str, str], run_dir: Path, web: WebServer
) -> None:
    import shelve

    from django.conf import settings

    command = compose_command(compose_services["beat"])
    schedule = run_dir / "celerybeat-schedule"
    command = [f"--schedule={schedule}" if arg.startswith("--schedule=") else arg for arg in command]
    beat = Process.start("beat", command, service_env(compose_services["beat"], host_env), run_dir)
    try:
        wait_for(lambda: "beat: Starting..." in beat.stderr(), process=beat, what="beat starting")
        # Beat writes the file before it has set up its entries (which loads the result backend); stopping it
        # in between would interrupt that import, so wait until the desk's entries are stored.
        wait_for(lambda: stored_entries(schedule) >= set(settings.CELERY_BEAT_SCHEDULE), process=beat, what="entries")
    finally:
        beat.stop()

    assert "Traceback" not in beat.stderr(), beat.output()
    with shelve.open(str(schedule), flag="r") as stored:  # noqa: S301 - the file beat just wrote here
        entries = set(stored["entries"])
    assert entries >= set(settings.CELERY_BEAT_SCHEDULE), beat.output()
