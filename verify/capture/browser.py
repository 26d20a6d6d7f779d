"""The post as a browser shows it: a full-page screenshot, a PDF and an MHTML archive, from headless Chromium.

A desk's cookie file for the platform (Netscape format, the one yt-dlp reads) is handed to Chromium through
the DevTools protocol's `Network.setCookies` before the page opens, so the screenshot, PDF and archive
show the post as the logged-in account sees it, not its login wall.

Every connection Chromium makes goes through the guarding proxy (`--proxy-server`, with
`--proxy-bypass-list=<-loopback>` so that even loopback is not reached directly, and a resolver that
answers nothing, so a connection that skipped the proxy would find no address). Chromium instances are
heavy: a host-wide set of slots (lock files) caps how many run at once across every worker process.

The archive is MHTML from Chromium's own `Page.captureSnapshot`: the same render the screenshot and PDF
come from, through the same proxy, with no second crawler. WACZ would need a separate recording
browser or a recorder of the proxy's traffic, and the proxy only sees encrypted tunnels for https.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path(os.getenv("CHROMIUM_BINARY", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.getenv("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver"))
WIDTH = 1280
# A page taller than this is cut there in the screenshot (the PDF and archive keep all of it).
MAX_SCREENSHOT_HEIGHT = 16_000
SLOT_WAIT_SECONDS = 600
# Netscape cookie files mark a cookie hidden from scripts by this prefix on an otherwise cookie line.
HTTP_ONLY_PREFIX = "#HttpOnly_"

# What the page says about itself: Open Graph and article tags, and Telegram's post widget.
PAGE_FACTS_SCRIPT = """
const meta = (n) => { const e = document.querySelector(`meta[property="${n}"], meta[name="${n}"]`);
                      return e ? e.content : null; };
const text = (s) => { const e = document.querySelector(s); return e ? e.innerText.trim() : null; };
const canonical = document.querySelector('link[rel="canonical"]');
const time = document.querySelector('.tgme_widget_message_date time[datetime], time[datetime]');
return {
  final_url: location.href,
  page_title: document.title || null,
  canonical_url: canonical ? canonical.href : meta('og:url'),
  title: meta('og:title'),
  caption: text('.tgme_widget_message_text') || meta('og:description') || meta('description'),
  posted_text: meta('article:published_time') || (time ? time.getAttribute('datetime') : null),
  account: text('.tgme_widget_message_owner_name') || meta('author') || meta('article:author'),
  views: text('.tgme_widget_message_views'),
  images: document.images.length,
  videos: document.querySelectorAll('video').length,
};
"""


@dataclass
class Artifact:
    path: Path
    name: str


@dataclass
class PageOutcome:
    """What the browser made of the page; each artifact is present or has a reason in `problems`."""

    screenshot: Artifact | None = None
    pdf: Artifact | None = None
    archive: Artifact | None = None
    facts: dict = field(default_factory=dict)
    status: int | None = None  # the HTTP status of the page itself
    failed: str = ""  # the page could not be opened at all
    problems: dict = field(default_factory=dict)  # step -> reason
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def browser_slot(slots: int, folder: Path) -> Iterator[None]:
    """Hold one of `slots` host-wide places for a Chromium instance; waits while all are taken."""
    folder.mkdir(parents=True, exist_ok=True)
    ends = time.monotonic() + SLOT_WAIT_SECONDS
    while True:
        for number in range(slots):
            handle = open(folder / f"chromium-{number}.lock", "a")  # noqa: SIM115 - held until released below
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if time.monotonic() > ends:
            raise TimeoutError(f"All {slots} browser places stayed busy for {SLOT_WAIT_SECONDS} s")
        time.sleep(0.2)


def _driver(proxy_url: str, profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    proxy_host = proxy_url.split("://", 1)[-1]
    for argument in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-features=MediaRouter,OptimizationHints,Translate",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--mute-audio",
        f"--window-size={WIDTH},1000",
        f"--user-data-dir={profile}",
        f"--proxy-server={proxy_url}",
        "--proxy-bypass-list=<-loopback>",
        # Only the proxy's own address resolves: a connection that went around the proxy finds nothing.
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {proxy_host.split(':')[0]}",
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def browser_cookies(cookie_file: Path) -> list[dict]:
    """The cookies of a Netscape cookie file, as the DevTools protocol's `Network.setCookies` takes them.

    Lines that are not cookies are skipped without a word: the file is secret, so none of it is logged.
    """
    cookies = []
    for line in cookie_file.read_text(encoding="utf-8", errors="replace").splitlines():
        http_only = line.startswith(HTTP_ONLY_PREFIX)
        if http_only:
            line = line[len(HTTP_ONLY_PREFIX) :]
        elif not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7 or not fields[0] or not fields[5]:
            continue
        domain, subdomains, path, secure, expires, name, value = fields
        cookie = {"name": name, "value": value, "path": path or "/", "httpOnly": http_only}
        cookie["secure"] = secure.upper() == "TRUE"
        if subdomains.upper() == "TRUE":
            cookie["domain"] = domain if domain.startswith(".") else f".{domain}"
        else:
            # A cookie for this host only: given by URL, as Chromium keeps it host-only then (any port).
            scheme = "https" if cookie["secure"] else "http"
            cookie["url"] = f"{scheme}://{domain.lstrip('.')}{cookie['path']}"
        if expires.isdigit() and int(expires) > 0:
            cookie["expires"] = int(expires)
        cookies.append(cookie)
    return cookies


def render_page(
    url: str, *, proxy_url: str, folder: Path, timeout: float, slots: int, cookie_file: Path | None = None
) -> PageOutcome:
    """Open `url` in headless Chromium through the proxy and keep the page three ways, each on its own.

    With `cookie_file`, its cookies are set in the browser first, so a page behind a login opens as the
    desk's account sees it.
    """
    outcome = PageOutcome()
    slots_folder = Path(tempfile.gettempdir()) / "verify-capture-slots"
    with browser_slot(slots, slots_folder), tempfile.TemporaryDirectory(prefix="verify-chromium-") as profile:
        try:
            driver = _driver(proxy_url, profile)
        except WebDriverException as exc:
            outcome.failed = f"the browser could not start ({_first_line(exc)})"
            return outcome
        try:
            if cookie_file is not None:
                _set_cookies(driver, cookie_file, outcome)
            _open(driver, url, outcome, timeout)
            if not outcome.failed:
                _keep(driver, outcome, folder)
        finally:
            driver.quit()
    return outcome


def _set_cookies(driver: webdriver.Chrome, cookie_file: Path, outcome: PageOutcome) -> None:
    cookies = browser_cookies(cookie_file)
    if not cookies:
        outcome.notes.append("the platform's cookie file holds no cookie the browser could use")
        return
    try:
        driver.execute_cdp_cmd("Network.setCookies", {"cookies": cookies})
    except WebDriverException:
        # The message could quote a cookie: only say that it failed.
        outcome.notes.append("the browser did not take the platform's cookie file; the page opened without it")
        return
    outcome.notes.append(f"opened with the platform's cookie file ({len(cookies)} cookie(s))")


def _open(driver: webdriver.Chrome, url: str, outcome: PageOutcome, timeout: float) -> None:
    driver.set_page_load_timeout(timeout)
    driver.set_script_timeout(timeout)
    timed_out = False
    try:
        driver.get(url)
    except TimeoutException:
        timed_out = True
        # Keep what rendered: a page that never finishes loading is still evidence as it stands.
        with contextlib.suppress(WebDriverException):
            driver.execute_script("window.stop();")
        outcome.notes.append(f"the page was still loading after {timeout:g} s; kept as it stood then")
    except WebDriverException as exc:
        outcome.failed = f"the browser could not open the page ({_first_line(exc)})"
        return
    outcome.status = _document_status(driver)
    # No answer to the page's own request: what shows is a blank tab, not the page.
    if not driver.current_url.startswith(("http://", "https://")) or (timed_out and outcome.status is None):
        outcome.status, outcome.failed = None, f"the site sent nothing of the page within {timeout:g} s"
        return
    try:
        outcome.facts = {k: v for k, v in (driver.execute_script(PAGE_FACTS_SCRIPT) or {}).items() if v}
    except WebDriverException as exc:
        outcome.notes.append(f"the page's own details could not be read ({_first_line(exc)})")


def _keep(driver: webdriver.Chrome, outcome: PageOutcome, folder: Path) -> None:
    try:
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        height = min(int(size["height"]) or 1, MAX_SCREENSHOT_HEIGHT)
        if size["height"] > MAX_SCREENSHOT_HEIGHT:
            outcome.notes.append(f"the screenshot stops at {MAX_SCREENSHOT_HEIGHT:,} px of {int(size['height']):,}")
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": max(int(size["width"]), 1), "height": height, "scale": 1},
            },
        )
        outcome.screenshot = _write(folder / "page.png", base64.b64decode(shot["data"]))
    except WebDriverException as exc:
        outcome.problems["screenshot"] = f"the screenshot failed ({_first_line(exc)})"
    try:
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})
        outcome.pdf = _write(folder / "page.pdf", base64.b64decode(pdf["data"]))
    except WebDriverException as exc:
        outcome.problems["pdf"] = f"the PDF failed ({_first_line(exc)})"
    try:
        snapshot = driver.execute_cdp_cmd("Page.captureSnapshot", {"format": "mhtml"})
        outcome.archive = _write(folder / "page.mhtml", snapshot["data"].encode("utf-8"))
    except WebDriverException as exc:
        outcome.problems["archive"] = f"the web archive failed ({_first_line(exc)})"


def _write(path: Path, data: bytes) -> Artifact:
    path.write_bytes(data)
    return Artifact(path=path, name=path.name)


def _document_status(driver: webdriver.Chrome) -> int | None:
    """The HTTP status of the page's main document (after redirects), from the browser's network log."""
    top, status = None, None
    with contextlib.suppress(WebDriverException):
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if (
                message.get("method") == "Network.requestWillBeSent"
                and top is None
                and params.get("type") == "Document"
            ):
                top = params.get("frameId")
            elif (
                message.get("method") == "Network.responseReceived"
                and params.get("type") == "Document"
                and params.get("frameId") == top
            ):
                status = params["response"]["status"]
    return status


def _first_line(exc: WebDriverException) -> str:
    return (exc.msg or str(exc)).strip().splitlines()[0][:300]
