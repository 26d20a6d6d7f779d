"""A corrected verdict's public page in a real browser: the notice, the earlier version, the ClaimReview."""

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, save_full_page
from tests.factories import make_user
from tests.reports.conftest import propose
from verify import services
from verify.models import Case
from verify.record import publishing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

REASON = "The footage was filmed in Donetsk oblast, not in Luhansk oblast as the first version said."


def test_it_shows_a_corrected_verdict_with_its_earlier_version(live_server, browser, screenshot_dir, published, staff):
    publishing.reopen_case(case=Case.objects.get(pk=published.pk), by=staff["editor"], kind="correction", reason=REASON)
    propose(
        staff,
        Case.objects.get(pk=published.pk),
        summary="The footage is from 2021 and shows a training ground in Donetsk oblast.",
        rationale="Geolocated to a training ground in Donetsk oblast.\n\nThe uniforms do not match.",
        rating="false",
    )
    services.approve_verdict(case=Case.objects.get(pk=published.pk), by=make_user("editor", username="ines"))

    browser.get(f"{live_server.url}/verdicts/{published.pk}/")
    notice = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice")))

    assert notice.text.startswith("Corrected on ") and notice.text.endswith(REASON)
    earlier = browser.find_element(By.CSS_SELECTOR, "ul.earlier").text
    assert "Misleading / miscaptioned" in earlier
    script = browser.find_element(By.CSS_SELECTOR, "script[type='application/ld+json']")
    jsonld = json.loads(script.get_attribute("textContent"))
    assert jsonld["correction"][0]["text"] == REASON and "dateModified" in jsonld
    shot = save_full_page(browser, screenshot_dir / "public-verdict-corrected.png")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
