"""The production image, read as text (no Docker engine here): every path the app writes belongs to its user."""

import re
import shlex
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
DOCKERFILE = (BASE_DIR / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def app_services() -> dict:
    services = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]
    return {name: service for name, service in services.items() if "build" in service}


def written_paths(service: dict, workdir: str) -> set[str]:
    """Mounted volumes, MEDIA_ROOT and the local data dir, as compose gives them to the app."""
    env = service["environment"]
    paths = {volume.split(":")[1] for volume in service.get("volumes", [])}
    paths.add(env["MEDIA_ROOT"])
    paths.add(env.get("VERIFY_DATA_DIR", f"{workdir}/var"))
    return paths


def prepared_for(user: str) -> set[str]:
    """Directories the RUN steps before `USER user` both create and hand to that user."""
    created, owned = set(), set()
    for instruction, args in instructions():
        if instruction == "USER":
            break
        if instruction != "RUN":
            continue
        for command in re.split(r"&&|;", args):
            words = shlex.split(command)
            if words[:2] == ["mkdir", "-p"]:
                created.update(words[2:])
            if words[:2] == ["chown", f"{user}:{user}"]:
                owned.update(words[2:])
    return created & owned


def test_it_runs_the_image_as_an_unprivileged_user():
    users = [args for instruction, args in instructions() if instruction == "USER"]
    assert users == ["desk"]


def test_it_prepares_every_path_the_app_writes_for_the_image_user():
    workdir = next(args for instruction, args in instructions() if instruction == "WORKDIR")
    prepared = prepared_for("desk")
    for name, service in app_services().items():
        missing = sorted(written_paths(service, workdir) - prepared)
        assert not missing, f"{name} writes to {missing}, which the Dockerfile does not create and chown to desk"
