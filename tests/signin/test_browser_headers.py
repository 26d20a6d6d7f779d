"""The security headers in a real browser: no page breaks the Content-Security-Policy, and its scripts still run."""

import io

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, console_problems, log_in, save_full_page
from tests.media import jpeg_bytes
from verify import intake, pipeline, services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
REFUSALS = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy")


def assert_nothing_refused(driver, page: str) -> None:
    assert console_problems(driver, *REFUSALS) == [], f"the browser refused something on {page}"


def test_it_keeps_the_login_case_and_public_pages_working_under_the_policy(
    live_server, browser, screenshot_dir, settings, published, staff, tasks_not_sent
):
    # Tiles cannot load here; the tile host is still this server, so img-src must name it.
    settings.MAP_TILE_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    editor = staff["editor"]
    pending = services.open_case(by=staff["desk"], title="Convoy near Sudzha", claim="Shows a convoy near Sudzha")
    intake.ingest_stream(
        case=pending,
        source=io.BytesIO(jpeg_bytes(size=(320, 240))),
        original_name="convoy.jpg",
        by=staff["desk"],
        origin="tip",
    )

    browser.get(f"{live_server.url}/admin/login/")
    WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "login-form")))
    assert_nothing_refused(browser, "the login page")
    save_full_page(browser, screenshot_dir / "csp-login.png")
    log_in(browser, live_server.url, editor.username)

    # The media panel refreshes itself while the files are read.
    browser.get(f"{live_server.url}/admin/verify/case/{pending.pk}/change/")
    panel = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "vd-media")))
    assert "Reading files" in panel.text
    save_full_page(browser, screenshot_dir / "csp-case-reading.png")
    for extraction in pipeline.Extraction.objects.filter(media_item__cases=pending):
        pipeline.run_extraction(extraction.pk)
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: "readings have an outcome" in driver.find_element(By.ID, "vd-media").text
    )
    assert_nothing_refused(browser, "a case page with files being read")
    save_full_page(browser, screenshot_dir / "csp-case-refreshed.png")

    # The story map draws, then gives way to the table when its tiles fail.
    browser.get(f"{live_server.url}/admin/verify/case/{published.pk}/change/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: "Map tiles unavailable" in driver.find_element(By.CSS_SELECTOR, ".vd-story-map").text
    )
    assert_nothing_refused(browser, "the published case's page")
    save_full_page(browser, screenshot_dir / "csp-case-story.png")

    # The public page: its own stylesheet applies, and its JSON-LD is data the policy leaves alone.
    browser.get(f"{live_server.url}/verdicts/{published.pk}/")
    WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.CSS_SELECTOR, "main article")))
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(250, 250, 247)"
    assert browser.find_elements(By.CSS_SELECTOR, "script[type='application/ld+json']")
    assert_nothing_refused(browser, "the public verdict page")
    save_full_page(browser, screenshot_dir / "csp-public.png")


def test_it_enrols_a_device_and_shows_a_lockout_in_the_browser(live_server, browser, screenshot_dir, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.factories import make_user
    from tests.signin.test_two_factor import code_for

    settings.AXES_FAILURE_LIMIT = 3
    make_user("editor", username="eli")
    log_in(browser, live_server.url, "eli")
    browser.find_element(By.CSS_SELECTOR, "#user-tools a[href='/admin/two-factor/']").click()
    qr = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".vd-qr img")))
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", qr)
    save_full_page(browser, screenshot_dir / "two-factor-enrol.png")
    browser.find_element(By.NAME, "otp_token").send_keys(code_for(TOTPDevice.objects.get(user__username="eli")))
    browser.find_element(By.CSS_SELECTOR, "input[type=submit].default").click()
    WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    assert "Two-factor sign-in is on" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert_nothing_refused(browser, "the two-factor page")

    browser.delete_all_cookies()
    for _ in range(4):
        browser.get(f"{live_server.url}/admin/login/")
        browser.find_element(By.NAME, "username").send_keys("eli")
        browser.find_element(By.NAME, "password").send_keys("not-the-password")
        submit = browser.find_element(By.CSS_SELECTOR, "input[type=submit]")
        submit.click()
        WebDriverWait(browser, WAIT_SECONDS).until(EC.staleness_of(submit))  # the answer is in before the next try
    lockout = WebDriverWait(browser, WAIT_SECONDS).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, ".vd-lockout"))
    )
    assert "Too many failed sign-ins for this account" in lockout.text
    assert_nothing_refused(browser, "the lockout page")
    save_full_page(browser, screenshot_dir / "signin-locked.png")
