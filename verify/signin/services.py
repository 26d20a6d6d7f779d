"""Changes of sign-in state: unlocking after failed sign-ins, and enrolling a TOTP device.

Each writes a row in the admin's history of the account it changes, in the same transaction.
"""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django_otp.plugins.otp_totp.models import TOTPDevice

from verify.signin.throttle import counted

DEVICE_NAME = "Authenticator app"


def unlock_signin(*, by, username: str | None = None, address: str | None = None) -> int:
    """Forget the failed sign-ins of an account or an address (or both); returns how many were forgotten.

    With a user doing it, the admin's history of that account records the unlock.
    """
    if not username and not address:
        raise ValueError("Name an account or an address to unlock")
    with transaction.atomic():
        attempts = AccessAttempt.objects.all()
        if username:
            attempts = attempts.filter(username=username)
        if address:
            attempts = attempts.filter(ip_address=address)
        forgotten = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
        attempts.delete()
        account = get_user_model().objects.filter(username=username).first() if username else None
        if by is not None and account is not None:
            LogEntry.objects.log_actions(
                user_id=by.pk,
                queryset=[account],
                action_flag=CHANGE,
                change_message=f"Unlocked sign-in ({counted(forgotten)} forgotten)",
                single_object=True,
            )
    return forgotten


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device this user is enrolling, made on first visit so the secret stays put."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def confirm_device(*, device: TOTPDevice, by) -> None:
    """Turn a device on, drop the user's other half-made ones, and note it in the account's history."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
        LogEntry.objects.log_actions(
            user_id=by.pk,
            queryset=[device.user],
            action_flag=ADDITION,
            change_message="Turned on two-factor sign-in (TOTP device confirmed)",
            single_object=True,
        )
