"""The post's media and facts through yt-dlp, every connection through the guarding proxy.

yt-dlp knows how Telegram, X, YouTube, TikTok, Facebook, Instagram, VK and many more sites lay out a post,
and falls back to its generic reader (Open Graph video, <video> tags, a direct media file) elsewhere.
No Django imports: the job gives a URL, a proxy and limits, and gets files and facts back.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yt_dlp
from yt_dlp.utils import DownloadError

log = logging.getLogger(__name__)

# A post with more items than this is kept up to here; the outcome says so.
MAX_ITEMS = 50

PLATFORM_BY_EXTRACTOR = {
    "telegram": "telegram",
    "twitter": "x",
    "facebook": "facebook",
    "instagram": "instagram",
    "tiktok": "tiktok",
    "youtube": "youtube",
}
PLATFORM_BY_HOST = {
    "t.me": "telegram",
    "telegram.me": "telegram",
    "x.com": "x",
    "twitter.com": "x",
    "facebook.com": "facebook",
    "fb.watch": "facebook",
    "instagram.com": "instagram",
    "tiktok.com": "tiktok",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
}

NO_MEDIA = "no media on this page that the desk's tools recognise"
# What yt-dlp's messages mean, in the desk's words; the first match wins.
REASONS = [
    (r"HTTP Error 410|HTTP Error 404|has been removed|been deleted|no longer available|does not exist",
     "deleted or removed: the site says the post is not there"),
    (r"HTTP Error 429|rate.?limit|too many requests", "rate-limited: the site asked the desk to slow down; "
     "try again later"),
    (r"HTTP Error 401|log ?in|sign ?in|cookies|registered users|private|members.only|age.restricted|"
     r"confirm your age",
     "login wall: the post is only shown to a logged-in account; add a cookie file for this platform in the "
     "admin to capture it"),
    (r"geo.?restrict|geo.?block|not available in your country|from your location",
     "geo-blocked: the site does not show this post where the desk's workers are"),
    (r"HTTP Error 403", "the site refused access (HTTP 403): a login wall or a block on the desk's address"),
    (r"timed out|timeout", "the site did not answer in time"),
    (r"Unsupported URL", NO_MEDIA),
    (r"Unable to extract|Unable to download JSON|unable to parse|returned nothing|KeyError|TypeError|IndexError",
     "the reader for this site could not understand the page; the platform may have changed it (updating "
     "yt-dlp usually fixes this)"),
]  # fmt: skip


@dataclass
class MediaFile:
    path: Path
    name: str  # the name the post gives the item, for the record
    item_id: str
    source_url: str


@dataclass
class MediaOutcome:
    """What yt-dlp fetched: files, the post's facts, and for each problem a sentence for the desk."""

    files: list[MediaFile] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unavailable: str = ""  # the page has no media (not a failure)
    failed: str = ""  # the media could not be fetched, and why


class _Messages:
    """yt-dlp's logger: keeps its errors and warnings for the outcome, quiet otherwise."""

    def __init__(self):
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.skipped: list[str] = []

    def debug(self, message: str) -> None:
        if "larger than max-filesize" in message:
            self.skipped.append(message)

    def info(self, message: str) -> None:
        self.debug(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        log.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        self.errors.append(message)


def reason_for(message: str) -> str:
    """The desk's sentence for one of yt-dlp's error messages."""
    text = re.sub(r"^ERROR:\s*", "", message.strip())
    for pattern, reason in REASONS:
        if re.search(pattern, text, re.IGNORECASE):
            return f"{reason} ({_short(text)})"
    return f"the media could not be fetched ({_short(text)})"


def _short(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return text if len(text) <= 300 else text[:299] + "…"


def fetch_media(
    url: str,
    *,
    folder: Path,
    proxy_url: str,
    max_bytes: int,
    timeout: float,
    cookie_file: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> MediaOutcome:
    """Download every item of the post at the best quality offered into `folder`, and read the post's facts."""
    messages = _Messages()
    options = {
        "proxy": proxy_url,
        "format": "bestvideo*+bestaudio/best",
        "outtmpl": str(folder / "%(playlist_index|0)s-%(id).80B.%(ext)s"),
        "max_filesize": max_bytes,
        "socket_timeout": timeout,
        "playlistend": MAX_ITEMS,
        "ignoreerrors": "only_download",
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "cachedir": False,
        "noprogress": True,
        "quiet": True,
        "no_warnings": True,
        "logger": messages,
        "progress_hooks": [_hook(on_progress)] if on_progress else [],
    }
    if cookie_file is not None:
        options["cookiefile"] = str(cookie_file)
    outcome = MediaOutcome()
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=True)
    except DownloadError as exc:
        return _nothing(outcome, reason_for(str(exc)))
    if info is None:
        return _nothing(outcome, _why_nothing(messages))
    entries = [e for e in (info.get("entries") or [info]) if e]
    outcome.facts = facts_from(info, entries, url)
    for entry in entries:
        path = _downloaded(entry)
        if path is None:
            continue
        name = f"{entry.get('id') or 'media'}.{path.suffix.lstrip('.') or entry.get('ext') or 'bin'}"
        outcome.files.append(MediaFile(path=path, name=name, item_id=str(entry.get("id") or ""), source_url=url))
    for message in messages.errors:
        outcome.problems.append(reason_for(message))
    for message in messages.skipped:
        outcome.problems.append(f"an item was over the size cap and was not downloaded ({_short(message)})")
    if not outcome.files:
        outcome.failed = "; ".join(outcome.problems) or "the post's media could not be downloaded"
    return outcome


def _why_nothing(messages: _Messages) -> str:
    """Why yt-dlp gave no reading of the post: its error, or a reader that found nothing it knew on the page."""
    if messages.errors:
        return reason_for(messages.errors[-1])
    broken = [w for w in messages.warnings if re.search(r"returned nothing|unable to extract", w, re.IGNORECASE)]
    # A site's own reader that finds none of the markup it knows: the platform has changed its pages.
    return reason_for(broken[-1]) if broken else NO_MEDIA


def _nothing(outcome: MediaOutcome, reason: str) -> MediaOutcome:
    if reason.startswith(NO_MEDIA):
        outcome.unavailable = reason
    else:
        outcome.failed = reason
    return outcome


def _hook(on_progress: Callable[[str], None]):
    def hook(status: dict) -> None:
        if status.get("status") == "downloading":
            done = status.get("downloaded_bytes") or 0
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            on_progress(f"media: {done:,} of {int(total):,} bytes" if total else f"media: {done:,} bytes")

    return hook


def _downloaded(entry: dict) -> Path | None:
    for download in entry.get("requested_downloads") or []:
        path = Path(download.get("filepath") or download.get("_filename") or "")
        if path.is_file():
            return path
    return None


def facts_from(info: dict, entries: list[dict], url: str) -> dict:
    """The post's facts in the desk's terms, from yt-dlp's reading of it; absent ones are left out."""
    first = entries[0] if entries else info

    def pick(*names):
        for source in (info, first):
            for name in names:
                value = source.get(name)
                if value not in (None, ""):
                    return value
        return None

    timestamp = pick("timestamp", "release_timestamp")
    facts = {
        "platform": platform_of(info.get("extractor_key") or first.get("extractor_key") or "", url),
        "extractor": info.get("extractor_key") or first.get("extractor_key"),
        "account": pick("channel", "uploader", "creator"),
        "account_id": pick("channel_id", "uploader_id"),
        "post_id": str(info.get("id") or first.get("id") or "") or None,
        "posted_at": dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat() if timestamp else None,
        "caption": pick("description") or None,
        "title": pick("title"),
        "views": pick("view_count"),
        "likes": pick("like_count"),
        "comments": pick("comment_count"),
        "reposts": pick("repost_count"),
        "canonical_url": pick("webpage_url") or url,
        "item_count": len(entries),
    }
    return {name: value for name, value in facts.items() if value not in (None, "")}


def platform_of(extractor_key: str, url: str) -> str:
    key = extractor_key.lower()
    for prefix, platform in PLATFORM_BY_EXTRACTOR.items():
        if key.startswith(prefix):
            return platform
    host = (urllib.parse.urlsplit(url).hostname or "").lower().removeprefix("www.").removeprefix("m.")
    return PLATFORM_BY_HOST.get(host, "other")
