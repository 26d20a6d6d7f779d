"""Refusing request bodies before anything reads them: over the cap for one request, or files from a stranger.

Django parses a multipart body (and spools its files to FILE_UPLOAD_TEMP_DIR) the first time
anything touches request.POST, and CsrfViewMiddleware does so in process_view, before any view
runs. So the checks live here, in a middleware's request phase, which runs before every
process_view, and they look only at the headers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from verify.intake import human_bytes

# A stranger's request carries at most a sign-in form (a few hundred bytes). A body this small is
# parsed in memory (FILE_UPLOAD_MAX_MEMORY_SIZE is far larger), so nothing of it is ever spooled.
ANONYMOUS_MAX_BYTES = 64 * 1024


class RequestBodyLimitMiddleware:
    """Answer 413, 411 or 403 from the headers alone, so that a refused body is never read or spooled.

    Over MAX_REQUEST_BYTES: 413 for anyone. Of unstated size (chunked): 411. From anyone but a signed-in
    desk user, over ANONYMOUS_MAX_BYTES: 403 for files (multipart), 413 for anything else.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = refuse_body(request)
        return refusal if refusal is not None else self.get_response(request)


def refuse_body(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request whose body must not be read; None when it may be."""
    declared = _declared_length(request)
    if declared is None:
        return _refusal(
            411,
            "The request has a body of unstated size (sent in chunks, with no Content-Length). "
            "Uploads must state their size so that one over the limit can be refused unread; "
            "nothing of it was read.",
        )
    if declared == 0:
        return None
    limit = settings.MAX_REQUEST_BYTES
    if declared > limit:
        return _refusal(
            413,
            f"This upload is {human_bytes(declared)}, over the {human_bytes(limit)} limit for one request "
            f"(at most {human_bytes(settings.MAX_UPLOAD_BYTES)} a file); nothing of it was read or stored. "
            "Add large files one at a time, or in several smaller uploads.",
        )
    if _is_desk_user(request) or declared <= ANONYMOUS_MAX_BYTES:
        return None
    if request.content_type == "multipart/form-data":
        return _refusal(403, "Sign in to the desk to upload files; nothing of this upload was read or stored.")
    return _refusal(
        413,
        f"This request is {human_bytes(declared)}; without signing in, a request may carry at most "
        f"{human_bytes(ANONYMOUS_MAX_BYTES)}. Nothing of it was read.",
    )


def _declared_length(request: HttpRequest) -> int | None:
    """The body's declared size; None for a body of unstated size (chunked); 0 for none."""
    raw = request.META.get("CONTENT_LENGTH") or ""
    if raw.strip().isdigit():
        return int(raw)
    # Without a length, a WSGI server passes a chunked body on unmeasured (gunicorn decodes it).
    return None if request.META.get("HTTP_TRANSFER_ENCODING") else 0


def _is_desk_user(request: HttpRequest) -> bool:
    # What the admin, where every upload form lives, asks of anyone who uses it.
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def _refusal(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
