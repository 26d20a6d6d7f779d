"""Two-factor sign-in: enrolling a TOTP device, signing in with a real code, and editors who must enrol."""

import pytest
from django.contrib.admin.models import LogEntry
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "test-pass-123"
LOGIN = "/admin/login/?next=/admin/"
TWO_FACTOR = "/admin/two-factor/"


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or `steps_ahead` steps later) for this device's key."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead)
    return f"{code:0{device.digits}d}"


def sign_in(client, username: str, password: str = PASSWORD, code: str = ""):
    return client.post(LOGIN, {"username": username, "password": password, "otp_token": code})


def enrolled_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def test_it_signs_in_with_the_password_alone_without_a_device(client, desk):
    response = sign_in(client, "dana")

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_it_asks_for_the_code_when_the_user_has_a_device(client, desk):
    enrolled_device(desk)

    response = sign_in(client, "dana")

    assert response.status_code == 200
    assert "This account signs in with a code as well" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_signs_in_with_the_password_and_the_current_code(client, desk):
    device = enrolled_device(desk)

    response = sign_in(client, "dana", code=code_for(device))

    assert response.status_code == 302
    assert client.session["otp_device_id"] == device.persistent_id


def test_it_refuses_a_wrong_code_and_counts_it_as_a_failed_sign_in(client, desk):
    from verify.signin.throttle import failures

    device = enrolled_device(desk)

    response = sign_in(client, "dana", code=code_for(device, steps_ahead=10))

    assert response.status_code == 200
    assert "That code is not the one your authenticator app shows now" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert failures(username="dana") == 1


def test_it_enrols_a_device_with_a_qr_code_and_a_first_code(client, reviewer):
    client.force_login(reviewer)

    page = client.get(TWO_FACTOR).content.decode()
    device = TOTPDevice.objects.get(user=reviewer)
    assert not device.confirmed
    assert 'src="data:image/svg+xml;base64,' in page
    assert "otpauth://totp/" in page
    response = client.post(TWO_FACTOR, {"otp_token": code_for(device)})

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.session["otp_device_id"] == device.persistent_id
    assert LogEntry.objects.filter(object_id=str(reviewer.pk), change_message__contains="two-factor").exists()


def test_it_keeps_the_same_secret_until_the_device_is_confirmed(client, reviewer):
    client.force_login(reviewer)
    client.get(TWO_FACTOR)
    client.post(TWO_FACTOR, {"otp_token": "000000"})
    client.get(TWO_FACTOR)

    assert TOTPDevice.objects.filter(user=reviewer).count() == 1
    assert not TOTPDevice.objects.get(user=reviewer).confirmed


def test_it_does_not_hand_out_a_new_secret_once_a_device_is_on(client, reviewer):
    device = enrolled_device(reviewer)
    client.force_login(reviewer)

    page = client.get(TWO_FACTOR).content.decode()

    assert "otpauth://" not in page
    assert TOTPDevice.objects.filter(user=reviewer).count() == 1
    assert client.post(TWO_FACTOR, {"otp_token": code_for(device)}).status_code == 302
    assert "Two-factor sign-in is on for your account" in client.get(TWO_FACTOR).content.decode()


@pytest.fixture
def editors_must_enrol(settings):
    settings.OTP_REQUIRED_FOR_EDITORS = True


def test_it_lets_editors_work_without_a_device_by_default(client, editor):
    client.force_login(editor)

    assert client.get("/admin/verify/case/").status_code == 200


def test_it_sends_an_editor_to_enrol_before_anything_else(client, editor, editors_must_enrol):
    client.force_login(editor)

    response = client.get("/admin/verify/case/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/two-factor/?next=%2Fadmin%2Fverify%2Fcase%2F"
    assert client.get(TWO_FACTOR).status_code == 200
    assert client.post("/admin/logout/").status_code == 200


def test_it_lets_an_editor_in_once_enrolled(client, editor, editors_must_enrol):
    client.force_login(editor)
    client.get(TWO_FACTOR)
    device = TOTPDevice.objects.get(user=editor)

    response = client.post(TWO_FACTOR, {"otp_token": code_for(device), "next": "/admin/verify/case/"})

    assert response["Location"] == "/admin/verify/case/"
    assert client.get("/admin/verify/case/").status_code == 200


def test_it_lets_an_enrolled_editor_in_after_signing_in_with_a_code(client, editor, editors_must_enrol):
    device = enrolled_device(editor)

    assert sign_in(client, "eli", code=code_for(device)).status_code == 302
    assert client.get("/admin/verify/case/").status_code == 200


def test_it_asks_only_editors_to_enrol(client, reviewer, editors_must_enrol):
    client.force_login(reviewer)

    assert client.get("/admin/verify/case/").status_code == 200
