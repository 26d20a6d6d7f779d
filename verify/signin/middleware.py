"""With OTP_REQUIRED_FOR_EDITORS on, an editor does nothing until signed in with a TOTP code."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from verify.workflow import EDITOR, roles_of

# Pages an editor may still open: the two-factor page itself, signing out, and public pages.
ALWAYS_OPEN = {"signin-two-factor", "logout", "public-verdict", "healthz", "jsi18n"}


def must_use_two_factor(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_verified():
        return False
    return EDITOR in roles_of(user)


def is_always_open(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return True  # a 404 is a 404 for everyone
    return match.url_name in ALWAYS_OPEN


class EditorsEnrolMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            getattr(settings, "OTP_REQUIRED_FOR_EDITORS", False)
            and must_use_two_factor(request)
            and not is_always_open(request.path_info)
        ):
            target = reverse("signin-two-factor")
            return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
