"""Security headers on every response: the Content-Security-Policy and the Permissions-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


def tile_source(tile_url: str) -> str | None:
    """The CSP source for a Leaflet tile URL template, or None when it is empty or on this site.

    "https://{s}.tile.example.org/{z}/{x}/{y}.png" gives "https://*.tile.example.org".
    """
    parts = urlsplit(tile_url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc
    while "{" in host and "}" in host:
        start = host.index("{")
        host = host[:start] + "*" + host[host.index("}", start) + 1 :]
    return f"{parts.scheme}://{host}"


class DeskCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the map tile host in img-src when map tiles are configured.

    The tile host is read per request, so a change of MAP_TILE_URL needs no second copy of the policy.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        source = tile_source(getattr(settings, "MAP_TILE_URL", ""))
        if source and not report_only and parts.config is None:
            update = dict(parts.update or {})
            update["img-src"] = [*update.get("img-src", []), source]
            parts.update = update
        return parts


def permissions_policy() -> str:
    """settings.PERMISSIONS_POLICY as a header value: each feature with the origins allowed it."""
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in settings.PERMISSIONS_POLICY.items())


class PermissionsPolicyMiddleware:
    """Turns off the browser features the desk never uses (camera, microphone, geolocation...)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", permissions_policy())
        return response
