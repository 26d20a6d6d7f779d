"""Shared fixtures: one user per desk role, and a case in triage."""

import pytest

from tests.factories import make_case, make_user


@pytest.fixture
def desk(db):
    return make_user("desk", username="dana")


@pytest.fixture
def reviewer(db):
    return make_user("reviewer", username="rafa")


@pytest.fixture
def other_reviewer(db):
    return make_user("reviewer", username="rina")


@pytest.fixture
def editor(db):
    return make_user("editor", username="eli")


@pytest.fixture
def other_editor(db):
    return make_user("editor", username="emma")


@pytest.fixture
def case(desk):
    return make_case(by=desk, stage="triage")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
