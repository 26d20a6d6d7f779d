"""Headless Chromium for the browser tests: the driver fixture, screenshots and logging in."""

import base64
import os
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "test-pass-123"  # what tests.factories.make_user gives everyone
WAIT_SECONDS = 15


@pytest.fixture
def browser():
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        message = f"Browser tests need Chromium and ChromeDriver; not found: {', '.join(missing)}"
        if os.getenv("VERIFY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message} (VERIFY_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(message)
    with tempfile.TemporaryDirectory(prefix="verify-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
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
            "--window-size=1440,1000",
            f"--user-data-dir={profile}",
        ]:
            options.add_argument(argument)
        # Keep the console, so tests can read what the browser refused (Content-Security-Policy).
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # An explicit driver path keeps Selenium Manager from trying to download one.
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    directory = Path(os.getenv("VERIFY_SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def save_full_page(driver, path: Path) -> Path:
    """Capture the whole page, not just the window, as a PNG."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def log_in(driver, base_url: str, username: str) -> None:
    driver.get(f"{base_url}/admin/login/?next=/admin/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "user-tools")))


def console_problems(driver, *words: str) -> list[str]:
    """Console messages since the last call that mention any of `words` (e.g. "Content Security Policy")."""
    return [entry["message"] for entry in driver.get_log("browser") if any(word in entry["message"] for word in words)]
