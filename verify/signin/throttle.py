"""Failed sign-ins: separate limits per account and per address, and the page that says an account is locked.

django-axes records each failure by account and address. It locks when either count reaches one
limit (AXES_FAILURE_LIMIT); the desk wants a higher limit for an address, because a newsroom often
signs in from behind one shared address, so SignInHandler reports an address's count shifted down
by the difference between the two limits.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

ACCOUNT_LOCKED = "Too many failed sign-ins for this account"
ADDRESS_LOCKED = "Too many failed sign-ins from your network address"


def client_address(request: HttpRequest) -> str | None:
    """The address a sign-in comes from (AXES_CLIENT_IP_CALLABLE).

    Each of the SIGNIN_PROXY_COUNT proxies in front appends the address it was reached from to
    X-Forwarded-For, so the client's is that many places from the right; what lies further left
    was sent by the client itself and proves nothing.
    """
    proxies = settings.SIGNIN_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def _recent(attempts):
    if settings.AXES_COOLOFF_TIME is None:
        return attempts
    return attempts.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)


def failures(*, username: str | None = None, address: str | None = None) -> int:
    """Failed sign-ins still counting against an account or an address."""
    attempts = AccessAttempt.objects.all()
    if username is not None:
        attempts = attempts.filter(username=username)
    if address is not None:
        attempts = attempts.filter(ip_address=address)
    return _recent(attempts).aggregate(total=Sum("failures_since_start"))["total"] or 0


def locked_by(*, username: str | None, address: str | None) -> str | None:
    """'account' or 'address' when that count has reached its limit, else None."""
    if username is not None and failures(username=username) >= settings.AXES_FAILURE_LIMIT:
        return "account"
    if address is not None and failures(address=address) >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT:
        return "address"
    return None


class SignInHandler(AxesDatabaseHandler):
    """Axes' database handler, with the address's own, higher limit."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        address = request.axes_ip_address
        by_account = failures(username=username) if username is not None else 0
        headroom = settings.SIGNIN_ADDRESS_FAILURE_LIMIT - settings.AXES_FAILURE_LIMIT
        return max(by_account, failures(address=address) - headroom)


def counted(failed: int) -> str:
    return f"{failed} failed sign-in{'s' if failed != 1 else ''}"


def lockout_message(*, username: str | None, address: str | None) -> str:
    reason = locked_by(username=username, address=address) or "account"
    what = ACCOUNT_LOCKED if reason == "account" else ADDRESS_LOCKED
    cooloff = settings.AXES_COOLOFF_TIME
    if not cooloff:
        return f"{what}; ask an administrator to unlock it."
    minutes = max(1, round(cooloff.total_seconds() / 60))
    return f"{what}; try again in {minutes} minute{'s' if minutes != 1 else ''} or ask an administrator to unlock it."


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The sign-in page again, saying why it refuses, with 429 Too Many Requests (AXES_LOCKOUT_CALLABLE)."""
    address = getattr(request, "axes_ip_address", None) or client_address(request)
    message = lockout_message(username=get_client_username(request, credentials), address=address)
    if isinstance(original_response, TemplateResponse) and original_response.context_data is not None:
        context = {**original_response.context_data, "lockout_message": message}
        response = TemplateResponse(request, original_response.template_name, context, status=429)
        return response.render()
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
