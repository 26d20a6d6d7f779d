"""A local site playing the web a post lives on: a plain post page, a Telegram channel post, and pages that fail.

The Telegram pages follow the markup of t.me's public post preview and embed widget (the classes and
attributes a reader of that page sees); the proxy's test routes send t.me and Telegram's CDN here.
"""

import http.server
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.media import jpeg_bytes, mp4_file
from verify.capture import proxy

PHOTO = jpeg_bytes(seed=21, size=(320, 240))
CHANNEL, POST = "kursk_watch", 2041
CAPTION = "Soldiers learn Russian words at a training ground near Kursk. Three videos."
POSTED = "2024-11-05T14:03:11+00:00"


def telegram_post(site: "Site", *, ids=(2041, 2042, 2043), caption: str = CAPTION) -> str:
    """A public channel post with an album of videos, as t.me serves its preview and ?embed=1 frame."""
    players = "".join(
        f"""
      <a class="tgme_widget_message_video_player grouped_media_wrap js-message_video_player"
         href="https://t.me/{CHANNEL}/{number}?single">
        <i class="tgme_widget_message_video_thumb" style="background-image:url('http://cdn4.telesco.pe/file/thumb{i}.jpg')"></i>
        <div class="tgme_widget_message_video_wrap">
          <video src="http://cdn4.telesco.pe/file/video{i}.mp4" class="tgme_widget_message_video js-message_video"
                 width="100%" height="100%"></video>
        </div>
        <div class="message_video_play"></div>
        <time class="message_video_duration js-message_video_duration" duration="2">0:02</time>
      </a>"""
        for i, number in enumerate(ids)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>Kursk Watch – Telegram</title>
<meta property="og:title" content="Kursk Watch">
<meta property="og:description" content="{caption}">
<meta property="og:url" content="https://t.me/{CHANNEL}/{POST}">
<link rel="canonical" href="https://t.me/{CHANNEL}/{POST}">
</head><body class="widget_frame_base tgme_widget body_widget_post">
<div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{CHANNEL}/{POST}"
     data-view="eyJjIjotMTAwMTQ4MjkzNzU1NSwicCI6MjA0MX0">
  <div class="tgme_widget_message_user"><a href="https://t.me/{CHANNEL}"><i
    class="tgme_widget_message_user_photo"></i></a></div>
  <div class="tgme_widget_message_bubble">
    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name"
       href="https://t.me/{CHANNEL}"><span dir="auto">Kursk Watch</span></a></div>
    <div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap">
      <div class="tgme_widget_message_grouped js-message_grouped">{players}
      </div>
    </div>
    <div class="tgme_widget_message_text js-message_text" dir="auto">{caption}</div>
    <div class="tgme_widget_message_footer compact js-message_footer">
      <div class="tgme_widget_message_info short js-message_info">
        <span class="tgme_widget_message_views">48.2K</span><span class="copyonclick">views</span>
        <span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{CHANNEL}/{POST}"><time
          datetime="{POSTED}" class="time">14:03</time></a></span>
      </div>
    </div>
  </div>
</div>
</body></html>"""


MEMBER_COOKIE, MEMBER_SESSION = "desk_session", "5e55-10n-4d35k"
MEMBER_CAPTION = "Members-only footage: the convoy on the ring road at dawn."
LOGIN_WALL = "<html><head><title>Log in</title></head><body><form>Log in to see this post</form></body></html>"


def members_post() -> str:
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Convoy at dawn</title>
<meta property="og:description" content="{MEMBER_CAPTION}"><meta name="author" content="Ring Road Watch">
</head><body><article><h1>Convoy at dawn</h1><p>{MEMBER_CAPTION}</p></article></body></html>"""


def plain_post(site: "Site", *, video: str = "/clip.mp4", extra: str = "") -> str:
    """A news-site page with Open Graph video and image, and the video in the page."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Footage from the training ground</title>
<meta property="og:title" content="Footage from the training ground">
<meta property="og:description" content="A video said to show soldiers near Kursk.">
<meta property="og:type" content="video.other">
<meta property="og:video" content="{site.url}{video}">
<meta property="og:video:type" content="video/mp4">
<meta property="og:image" content="{site.url}/photo.jpg">
<meta property="article:published_time" content="2024-11-06T08:30:00+01:00">
<meta name="author" content="Local Herald">
<link rel="canonical" href="{site.url}/post">
</head><body><h1>Footage from the training ground</h1>
<p>A video said to show soldiers near Kursk.</p>
<video controls src="{site.url}{video}" poster="{site.url}/photo.jpg"></video>{extra}
</body></html>"""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802 - the stdlib's name
        site: Site = self.server.site
        parts = urllib.parse.urlsplit(self.path)
        host = (self.headers.get("Host") or "").split(":")[0]
        path = parts.path
        site.seen.append((host, path))
        if host == "t.me" and path in site.telegram:
            self._send(site.telegram[path](), "text/html; charset=utf-8")
        elif host == "cdn4.telesco.pe" and path.startswith("/file/video"):
            self._send(site.clips[int(path[len("/file/video") : -len(".mp4")]) % len(site.clips)], "video/mp4")
        elif host == "cdn4.telesco.pe" and path.startswith("/file/thumb"):
            self._send(PHOTO, "image/jpeg")
        elif path == "/members":
            # A post shown only to a logged-in account; anyone else gets the site's login wall (HTTP 200).
            signed_in = f"{MEMBER_COOKIE}={MEMBER_SESSION}" in (self.headers.get("Cookie") or "")
            self._send(members_post() if signed_in else LOGIN_WALL, "text/html; charset=utf-8")
        elif path in site.pages:
            self._send(site.pages[path](), "text/html; charset=utf-8")
        elif path == "/clip.mp4":
            self._send(site.clips[0], "video/mp4")
        elif path == "/big.mp4":
            self._send(site.big, "video/mp4")
        elif path == "/big-unannounced.mp4":
            self._send(site.big, "video/mp4", announce_length=False)  # the body ends when the server hangs up
        elif path == "/photo.jpg":
            self._send(PHOTO, "image/jpeg")
        elif path == "/login":
            self._send(b"<html><body><form>Log in to see this post</form></body></html>", "text/html", status=401)
        elif path == "/busy":
            self._send(b"<html><body>Too many requests. Try again later.</body></html>", "text/html", status=429)
        elif path == "/gone":
            self._send(b"<html><body>This post was removed.</body></html>", "text/html", status=410)
        elif path == "/never":
            site.stopping.wait(60)
        elif path in site.redirects:
            self.send_response(302)
            self.send_header("Location", site.redirects[path])
            self.end_headers()
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", f"/loop?{len(site.seen)}")
            self.end_headers()
        else:
            self._send(b"<html><body>Not found</body></html>", "text/html", status=404)

    def _send(self, body, content_type: str, status: int = 200, *, announce_length: bool = True):
        body = body.encode() if isinstance(body, str) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if announce_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client hung up

    def log_message(self, *args):
        pass


@dataclass
class Site:
    url: str
    port: int
    httpd: http.server.ThreadingHTTPServer
    clips: list
    big: bytes
    stopping: threading.Event

    def __post_init__(self):
        self.seen: list = []
        self.pages = {
            "/post": lambda: plain_post(self),
            "/big-post": lambda: plain_post(self, video="/big.mp4"),
            "/no-media": lambda: "<html><head><title>Just words</title></head><body><p>Words only.</p></body></html>",
            "/many-images": lambda: (
                "<html><body>"
                + "".join(f'<img src="/photo.jpg?{i}" width="40" height="30">' for i in range(500))
                + "</body></html>"
            ),
        }
        self.telegram = {f"/{CHANNEL}/{POST}": lambda: telegram_post(self)}
        self.redirects: dict[str, str] = {}


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("clips")
    return [mp4_file(folder / f"clip{i}.mp4", seconds=2 + i).read_bytes() for i in range(3)]


def _start(clips) -> Site:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    site = Site(
        url=f"http://127.0.0.1:{port}",
        port=port,
        httpd=httpd,
        clips=clips,
        big=clips[0] + bytes(3 * 1024 * 1024),
        stopping=threading.Event(),
    )
    httpd.site = site
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return site


@pytest.fixture
def site(clips, settings, monkeypatch):
    """The local site, allowed by the desk's rules; t.me and Telegram's CDN are routed to it."""
    site = _start(clips)
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{site.port}"]
    monkeypatch.setitem(proxy.ROUTES, "t.me", ("127.0.0.1", site.port))
    monkeypatch.setitem(proxy.ROUTES, "cdn4.telesco.pe", ("127.0.0.1", site.port))
    yield site
    site.stopping.set()
    site.httpd.shutdown()
    site.httpd.server_close()


@pytest.fixture
def internal(clips):
    """A server on this machine that the desk's rules do not allow: nothing captured may reach it."""
    server = _start(clips)
    yield server
    server.stopping.set()
    server.httpd.shutdown()
    server.httpd.server_close()


def telegram_url() -> str:
    # http, so that the test site needs no certificate for t.me; yt-dlp keeps the scheme it is given.
    return f"http://t.me/{CHANNEL}/{POST}"


__all__ = ["Path"]
