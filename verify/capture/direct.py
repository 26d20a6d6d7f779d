"""A link that serves a media file rather than a page: fetched by the guarded client into intake, as a link download is.

The capture asks the link itself first. A video, photo or audio file is kept as it came (the size cap,
the deadline and the address rules of `verify.outbound`, every redirect checked), with no browser and
no yt-dlp; a page, an error or no answer is left to the browser and yt-dlp, which say why in their steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from verify import intake, outbound
from verify.intake import IntakeError, IntakeResult
from verify.workflow import WorkflowError

MEDIA_TYPES = ("video/", "image/", "audio/")


@dataclass
class LinkedFile:
    """The file a link served: stored (`result`), or why it was not (`failed`)."""

    content_type: str
    final_url: str
    name: str
    result: IntakeResult | None = None
    failed: str = ""


def fetch_linked_file(
    url: str, *, case, by, origin: str, on_progress: Callable[[int, int | None], None] | None = None
) -> LinkedFile | None:
    """Store the media file `url` serves in the case; None when it serves a page, an error or nothing.

    Raises outbound.Refused when the desk's rules refuse the link, one of its redirects, or a file
    announced over the size cap: then nothing at that link may be fetched by any tool.
    """
    try:
        with outbound.open_url(url, on_progress=on_progress) as download:
            content_type = download.content_type.split(";", 1)[0].strip().lower()
            if not content_type.startswith(MEDIA_TYPES):
                return None
            linked = LinkedFile(content_type=content_type, final_url=download.url, name=download.filename)
            try:
                linked.result = intake.ingest_stream(
                    case=case,
                    source=download,
                    original_name=download.filename,
                    by=by,
                    origin=f"{origin} ({download.describe()})",
                )
            except (outbound.OutboundError, IntakeError, WorkflowError) as exc:
                linked.failed = str(exc)
            return linked
    except outbound.FetchFailed:
        return None
