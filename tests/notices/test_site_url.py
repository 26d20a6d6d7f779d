"""E-mailed links use the address the desk serves: `make run` passes its host and port as SITE_URL."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_recipe(**env) -> str:
    """The commands `make run` would run (not run), with `env` in its environment."""
    environment = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "HOST", "PORT")} | env
    done = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def site_url_seen_by_django(value: str) -> str:
    code = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    environment = os.environ | {"DJANGO_SETTINGS_MODULE": "verify.settings", "SITE_URL": value}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"HOST": "10.0.0.5", "PORT": "9000"}, "http://10.0.0.5:9000"),
        ({"PORT": "8123", "SITE_URL": "https://desk.example.org"}, "https://desk.example.org"),
    ],
)
def test_it_gives_the_served_address_to_the_desk_and_its_worker(env, expected):
    commands = run_recipe(**env)
    exported = f"export SITE_URL='{expected}'"
    assert exported in commands
    # Exported before the worker and the web server start, so both send links on it.
    assert commands.index(exported) < commands.index("celery -A workers worker") < commands.index("runserver")


def test_it_reads_site_url_from_the_environment_without_a_trailing_slash():
    assert site_url_seen_by_django("http://127.0.0.1:8123/") == "http://127.0.0.1:8123"
