"""Failed sign-ins: real POSTs to the admin's login page lock an account, or an address, until unlocked."""

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command

from tests.factories import make_user

PASSWORD = "test-pass-123"  # tests.factories.make_user's
LOGIN = "/admin/login/?next=/admin/"
ACCOUNT_LOCKED = (
    "Too many failed sign-ins for this account; try again in 15 minutes or ask an administrator to unlock it."
)
ADDRESS_LOCKED = "Too many failed sign-ins from your network address"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 8


def sign_in(client, username: str, password: str, address: str = "198.51.100.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_it_signs_in_with_the_right_password(client, desk):
    assert signed_in(sign_in(client, "dana", PASSWORD))


def test_it_locks_an_account_after_the_limit_even_with_the_right_password(client, desk):
    for _ in range(4):
        response = sign_in(client, "dana", "wrong")
        assert response.status_code == 200  # the form again, saying the password is wrong
    assert sign_in(client, "dana", "wrong").status_code == 429

    response = sign_in(client, "dana", PASSWORD)

    assert response.status_code == 429
    assert ACCOUNT_LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_locks_an_account_sprayed_from_many_addresses(client, desk):
    for number in range(5):
        sign_in(client, "dana", "wrong", address=f"203.0.113.{number}")

    response = sign_in(client, "dana", PASSWORD, address="192.0.2.77")

    assert response.status_code == 429
    assert ACCOUNT_LOCKED in response.content.decode()


def test_it_locks_an_address_trying_many_accounts(client, desk):
    make_user("reviewer", username="rafa")
    for number in range(8):
        sign_in(client, f"guess-{number}", "wrong", address="203.0.113.9")

    from_there = sign_in(client, "rafa", PASSWORD, address="203.0.113.9")
    from_elsewhere = sign_in(client, "dana", PASSWORD, address="192.0.2.10")

    assert from_there.status_code == 429
    assert ADDRESS_LOCKED in from_there.content.decode()
    assert signed_in(from_elsewhere)


def test_it_lets_an_address_fail_a_few_times_for_several_people(client, desk):
    make_user("reviewer", username="rafa")
    for username in ("dana", "dana", "rafa", "rafa", "someone"):
        sign_in(client, username, "wrong", address="203.0.113.20")

    assert signed_in(sign_in(client, "rafa", PASSWORD, address="203.0.113.20"))


def test_it_keeps_the_lockout_page_a_login_form(client, desk):
    for _ in range(5):
        sign_in(client, "dana", "wrong")

    html = sign_in(client, "dana", PASSWORD).content.decode()

    assert 'id="login-form"' in html
    assert "Please enter the correct username" not in html


def test_it_unlocks_an_account_from_the_admin_user_list(client, desk):
    admin = make_user(username="root", is_superuser=True)
    for _ in range(5):
        sign_in(client, "dana", "wrong")
    assert sign_in(client, "dana", PASSWORD).status_code == 429

    client.force_login(admin)
    response = client.post(
        "/admin/auth/user/", {"action": "unlock_selected", "index": 0, "_selected_action": [desk.pk]}, follow=True
    )
    assert "Sign-in unlocked for dana: 6 failed sign-ins forgotten." in response.content.decode()
    assert LogEntry.objects.filter(object_id=str(desk.pk), change_message__startswith="Unlocked sign-in").exists()
    client.logout()

    assert signed_in(sign_in(client, "dana", PASSWORD))


def test_it_unlocks_an_account_and_an_address_from_the_command_line(client, desk, capsys):
    for number in range(8):
        sign_in(client, "dana" if number < 5 else f"guess-{number}", "wrong", address="203.0.113.30")

    call_command("unlock_signin", "dana", "--address", "203.0.113.30")

    out = capsys.readouterr().out
    assert "dana: unlocked (5 failed sign-ins forgotten)" in out
    assert "203.0.113.30: unlocked (3 failed sign-ins forgotten)" in out
    assert signed_in(sign_in(client, "dana", PASSWORD, address="203.0.113.30"))


def test_it_says_only_an_administrator_can_unlock_when_locks_do_not_expire(client, desk, settings):
    settings.AXES_COOLOFF_TIME = None
    for _ in range(5):
        sign_in(client, "dana", "wrong")

    html = sign_in(client, "dana", PASSWORD).content.decode()

    assert "Too many failed sign-ins for this account; ask an administrator to unlock it." in html


def test_it_reads_the_address_behind_a_proxy_from_the_proxy_not_the_client(client, desk, settings):
    settings.SIGNIN_PROXY_COUNT = 1
    for number in range(8):  # the client's own part of the header changes every time; the proxy's does not
        client.post(
            LOGIN,
            {"username": f"guess-{number}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, 203.0.113.40",
        )

    from_there = client.post(
        LOGIN, {"username": "dana", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.40"
    )
    from_elsewhere = client.post(
        LOGIN, {"username": "dana", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.41"
    )

    assert from_there.status_code == 429
    assert signed_in(from_elsewhere)
