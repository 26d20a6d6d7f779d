"""Two-factor sign-in: enrol a TOTP device, or confirm this session with a code from one."""

from __future__ import annotations

import base64
import io

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from verify.signin.forms import CODE_THROTTLED, CodeField, confirmed_device
from verify.signin.services import confirm_device, pending_device


class CodeForm(forms.Form):
    otp_token = CodeField(label="Code from the app")

    def __init__(self, *args, device: TOTPDevice, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_otp_token(self) -> str:
        code = self.cleaned_data["otp_token"]
        allowed, _ = self.device.verify_is_allowed()
        if not allowed:
            raise forms.ValidationError(CODE_THROTTLED)
        if not self.device.verify_token(code):
            raise forms.ValidationError("That is not the code the app shows now; try the current one.")
        return code


def qr_data_uri(text: str) -> str:
    out = io.BytesIO()
    write_qrcode_image(text, out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def next_page(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("admin:index")


@staff_member_required
def two_factor(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = confirmed_device(user)
    enrolling = device is None
    if device is not None and user.is_verified():
        return TemplateResponse(request, "signin/two_factor.html", _context(request, device=device, done=True))
    if enrolling:
        device = pending_device(user)
    form = CodeForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        if enrolling:
            confirm_device(device=device, by=user)
            messages.success(request, "Two-factor sign-in is on: from now on, sign in with your password and a code.")
        otp_login(request, device)
        return redirect(next_page(request))
    return TemplateResponse(
        request, "signin/two_factor.html", _context(request, device=device, form=form, enrolling=enrolling)
    )


def _context(request: HttpRequest, *, device: TOTPDevice, **extra) -> dict:
    context = {
        **admin.site.each_context(request),
        "title": "Two-factor sign-in",
        "device": device,
        "next": request.POST.get("next") or request.GET.get("next") or "",
        **extra,
    }
    if extra.get("enrolling"):
        secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
        context.update(qr_code=qr_data_uri(device.config_url), secret=grouped(secret), otpauth_uri=device.config_url)
    return context
