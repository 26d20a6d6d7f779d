"""Security headers: a Content-Security-Policy, frame-ancestors, Referrer-Policy and Permissions-Policy."""

import base64
import hashlib
import re
from pathlib import Path

import django
import pytest
from django.conf import settings as django_settings

from verify.signin.headers import tile_source


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_safe_headers(response) -> None:
    directives = policy(response)
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions


@pytest.mark.django_db
def test_it_sends_the_headers_on_the_login_page(client):
    response = client.get("/admin/login/")

    assert_safe_headers(response)
    assert policy(response)["script-src"] == ["'self'"]


def test_it_sends_the_headers_on_an_admin_page(client, desk):
    client.force_login(desk)

    response = client.get("/admin/verify/case/")

    assert response.status_code == 200
    assert_safe_headers(response)
    assert policy(response)["default-src"] == ["'self'"]


def test_it_sends_the_headers_on_the_case_page(client, desk, case):
    client.force_login(desk)

    response = client.get(f"/admin/verify/case/{case.pk}/change/")

    assert response.status_code == 200
    assert_safe_headers(response)


def test_it_puts_the_tile_host_in_img_src_when_tiles_are_configured(client, desk, case, settings):
    settings.MAP_TILE_URL = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    client.force_login(desk)

    response = client.get(f"/admin/verify/case/{case.pk}/change/")

    assert policy(response)["img-src"] == ["'self'", "data:", "https://*.tiles.example.org"]


def test_it_leaves_img_src_to_this_site_when_maps_are_off(client, desk, case, settings):
    settings.MAP_TILE_URL = ""
    client.force_login(desk)

    response = client.get(f"/admin/verify/case/{case.pk}/change/")

    assert policy(response)["img-src"] == ["'self'", "data:"]


def test_it_reads_the_tile_source_from_a_url_template():
    assert tile_source("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == "https://tile.openstreetmap.org"
    assert tile_source("https://{s}.tile.example.org:8443/{z}/{x}/{y}.png") == "https://*.tile.example.org:8443"
    assert tile_source("/tiles/{z}/{x}/{y}.png") is None
    assert tile_source("") is None


def test_it_allows_exactly_the_inline_style_django_admin_writes():
    # If Django changes this <style> block, the hash in settings.CONTENT_SECURITY_POLICY must follow.
    template = Path(django.__file__).parent / "contrib" / "admin" / "templates" / "admin" / "change_list.html"
    (style,) = re.findall(r"<style>(.*?)</style>", template.read_text(), re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()

    assert f"'sha256-{digest}'" in django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]


def test_it_keeps_inline_script_and_event_handlers_out_of_the_templates():
    templates = Path(django_settings.BASE_DIR) / "templates"
    offenders = []
    for path in templates.rglob("*.html"):
        html = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            if "src=" not in tag and "application/ld+json" not in tag and "application/json" not in tag:
                offenders.append(f"{path.name}: {tag}")
        offenders += [f"{path.name}: {handler}" for handler in re.findall(r"\son[a-z]+\s*=", html)]
        offenders += [f"{path.name}: style attribute" for _ in re.findall(r"\sstyle\s*=", html)]
    assert offenders == []
