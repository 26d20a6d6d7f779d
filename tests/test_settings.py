"""Settings from the environment: safe local defaults, and a deployment that passes Django's checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG", "SECRET_KEY")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_it_passes_the_deployment_checks_with_a_real_secret_and_hosts(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="desk.example.org",
        VERIFY_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_when_debug_is_off(tmp_path):
    result = manage("check", DEBUG="0", ALLOWED_HOSTS="desk.example.org", VERIFY_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_names_a_badly_formed_number_setting(tmp_path):
    result = manage("check", CELERY_TASK_TIME_LIMIT="soon", VERIFY_DATA_DIR=str(tmp_path))
    assert "CELERY_TASK_TIME_LIMIT must be a whole number, got 'soon'" in result.stderr


def test_it_keeps_migrations_in_step_with_the_models(tmp_path):
    result = manage("makemigrations", "--check", "--dry-run", VERIFY_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_is_ruff_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout


def test_it_keeps_pillow_refusing_truncated_images_once_django_is_loaded():
    # A library that flips this for the whole process would make workers record cut-off files as read.
    from PIL import ImageFile

    import verify.admin  # noqa: F401 - loads every module the desk and its workers load

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_it_keeps_every_folder_of_the_embedded_broker_under_the_data_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings as s; "
         "print(*sorted(s.CELERY_BROKER_TRANSPORT_OPTIONS[k] for k in "
         "('data_folder_in', 'data_folder_out', 'processed_folder', 'control_folder')), sep='\\n')"],
        cwd=ROOT, env=env | {"VERIFY_DATA_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    folders = [Path(line) for line in result.stdout.split() if line.startswith("/")]
    assert len(folders) == 4, result.stdout + result.stderr
    assert all(folder.is_relative_to(tmp_path) for folder in folders), folders
