"""The admin's sign-in form, which asks for a TOTP code from people who have enrolled a device."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

CODE_REQUIRED = (
    "This account signs in with a code as well: enter the 6-digit code from your authenticator app with your password."
)
CODE_WRONG = "That code is not the one your authenticator app shows now; enter the current code with your password."
CODE_THROTTLED = "Too many wrong codes: wait a minute, then enter the current code with your password."


class CodeField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 8}),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        return "".join(super().to_python(value).split())  # apps show "123 456"


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


class SignInForm(AdminAuthenticationForm):
    """Password for everyone; a TOTP code too for a user with a confirmed device."""

    otp_token = CodeField(
        label="Authentication code",
        required=False,
        help_text="Only if you have turned on two-factor sign-in.",
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        device = confirmed_device(user) if user is not None else None
        if device is None:
            return cleaned
        code = cleaned.get("otp_token", "")
        if not code:
            raise forms.ValidationError(CODE_REQUIRED, code="code_required")
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            raise forms.ValidationError(CODE_THROTTLED, code="code_throttled")
        verified = verify_token(user, device.persistent_id, code)
        if verified is None:
            # A wrong code counts as a failed sign-in, towards the same lockout as a wrong password.
            user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=self.request)
            raise forms.ValidationError(CODE_WRONG, code="code_wrong")
        user.otp_device = verified  # django_otp marks the session verified when it logs the user in
        return cleaned
