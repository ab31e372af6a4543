"""A person's view: headless Chromium opens the index, uploads, watches progress and reads the results, under
the service's Content-Security-Policy with no violation in the console."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from harness.generate import write_csv
from harness.processes import BIN, ROOT, start_gunicorn
from tests.conftest import wait_until

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium/chromedriver not installed")]


@pytest.fixture()
def browser(tmp_path):
    options = Options()
    options.binary_location = CHROMIUM
    # Flags from the machine notes: no sandbox as root, and nothing that phones home on a closed network.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, where CSP reports violations
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def shoot(driver, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 900), 8000))
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path


def csp_violations(driver) -> list[str]:
    """Console messages since the last call that say the Content-Security-Policy refused something."""
    return [e["message"] for e in driver.get_log("browser")
            if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]


def assert_csp_enforced(driver, base: str):
    """The page runs under our policy: an inline script is refused, and the console says so."""
    policy = requests.get(base + "/health", timeout=5).headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    ran = driver.execute_script("""var s = document.createElement('script');
        s.textContent = 'window.inlineRan = true;'; document.head.appendChild(s); return window.inlineRan === true;""")
    assert ran is False
    assert any("inline script" in message for message in csp_violations(driver))


def test_upload_watch_progress_and_read_results(server, workers, browser, tmp_path):
    data = write_csv(tmp_path / "orders.csv", 3000, 12)
    browser.get(server + "/")
    assert "Clean a dataset" in browser.page_source
    shoot(browser, "index")

    browser.find_element(By.NAME, "file").send_keys(str(data))
    browser.find_element(By.NAME, "user_id").clear()
    browser.find_element(By.NAME, "user_id").send_keys("browser")
    browser.find_element(By.CSS_SELECTOR, "form#upload button[type=submit]").click()
    wait_until(lambda: "/view" in browser.current_url, 30, "the form did not lead to the dataset's page")
    bar = browser.find_element(By.ID, "progress")  # no worker yet: the job waits, the bar shows it
    assert bar.get_attribute("value") == "0" and "Waiting" in browser.find_element(By.ID, "progress-info").text
    shoot(browser, "queued")

    workers()
    wait_until(lambda: browser.find_elements(By.ID, "plots"), 90, "the progress bar never turned into results")
    assert not browser.find_elements(By.ID, "progress")
    images = browser.find_elements(By.CSS_SELECTOR, "#plots img")
    assert len(images) >= 5
    for image in images:  # lazy images load as they scroll into view
        browser.execute_script("arguments[0].scrollIntoView()", image)
    wait_until(lambda: browser.execute_script(
        "return Array.from(document.querySelectorAll('#plots img')).every(i => i.complete && i.naturalWidth > 0)"),
        30, "some plots did not load")
    rows = browser.find_elements(By.CSS_SELECTOR, "#statistics tbody tr")
    assert len(rows) == 12
    thumbs = browser.find_elements(By.CSS_SELECTOR, "#statistics img.thumb")
    assert len(thumbs) >= 6 and all(t.size["width"] >= 250 for t in thumbs)  # readable where they are
    browser.find_element(By.CSS_SELECTOR, "nav.jump a[href='#column-3']").click()
    assert browser.execute_script("return location.hash") == "#column-3"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 20
    marked = browser.find_elements(By.CSS_SELECTOR, "#preview td[title]")  # the generator's gaps, filled
    assert marked and all(m.get_attribute("title").startswith("Before: ") for m in marked)
    assert browser.find_elements(By.CSS_SELECTOR, "#log-cleaning tbody tr")
    assert "Cleaned CSV" in browser.find_element(By.CSS_SELECTOR, ".downloads").text
    shoot(browser, "completed")

    browser.get(server + "/?user_id=browser")
    assert "orders" in browser.find_element(By.TAG_NAME, "table").text
    assert csp_violations(browser) == []  # scripts, styles, plots and the status polling all within the policy
    assert_csp_enforced(browser, server)


@pytest.fixture()
def token_server(env):
    """gunicorn in token mode on the e2e database, and a token for user `tara`."""
    values = dict(env, AUTH_MODE="token", SECRET_KEY="e2e-secret-key")
    made = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "tokens", "create", "tara"], cwd=ROOT, env=values,
                          capture_output=True, text=True, check=True)
    proc, base = start_gunicorn(values, "--workers", "1", "--threads", "4", "--worker-class", "gthread")
    yield base, made.stdout.strip().splitlines()[-1].split()[-1]
    proc.terminate()
    proc.wait(10)


def test_token_mode_signs_in_once_and_the_pages_work_with_the_cookie(token_server, workers, browser, tmp_path):
    base, token = token_server
    browser.get(base + "/")
    assert browser.find_elements(By.CSS_SELECTOR, "form#login")  # no token yet: asked for one, not shown JSON
    browser.find_element(By.NAME, "token").send_keys("wrt_wrong")
    browser.find_element(By.CSS_SELECTOR, "form#login button").click()
    wait_until(lambda: "unknown or revoked" in browser.page_source, 10, "a wrong token was not refused")
    browser.find_element(By.NAME, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form#login button").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "form#upload"), 10, "signing in failed")
    user = browser.find_element(By.NAME, "user_id")
    assert user.get_attribute("value") == "tara" and user.get_attribute("readonly")
    cookie = browser.get_cookie("wrangler_session")
    assert cookie and cookie["httpOnly"] and token not in cookie["value"]  # a signed reference, not the token
    assert "wrangler_session" not in browser.execute_script("return document.cookie")  # HttpOnly: scripts never see it

    browser.find_element(By.NAME, "file").send_keys(str(write_csv(tmp_path / "t.csv", 500, 6)))
    browser.find_element(By.CSS_SELECTOR, "form#upload button[type=submit]").click()
    wait_until(lambda: "/view" in browser.current_url, 30, "the form did not lead to the dataset's page")
    workers()  # the page polls the status API with the cookie, then shows plots fetched with it too
    wait_until(lambda: browser.find_elements(By.ID, "plots"), 90, "the page never showed results")
    images = browser.find_elements(By.CSS_SELECTOR, "#plots img")
    for image in images:
        browser.execute_script("arguments[0].scrollIntoView()", image)
    wait_until(lambda: browser.execute_script(
        "return Array.from(document.querySelectorAll('#plots img')).every(i => i.complete && i.naturalWidth > 0)"),
        30, "some plots did not load with the cookie")
    shoot(browser, "token-mode-completed")
    assert csp_violations(browser) == []
    assert requests.get(browser.current_url, timeout=5).status_code == 401  # without the cookie: no way in


def test_docs_pages_render_the_operations_offline(server, browser):
    """Swagger UI and ReDoc draw every operation from our own assets, with no request to another origin."""
    doc = requests.get(server + "/openapi.json", timeout=10).json()
    operations = sum(len(ops) for ops in doc["paths"].values())
    csp_violations(browser)  # start from an empty console
    browser.get(server + "/docs")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) == operations, 30,
               "Swagger UI did not draw every operation")
    summaries = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/dataset/upload" in {s.replace("\u200b", "") for s in summaries}
    shoot(browser, "docs-swagger")
    assert csp_violations(browser) == []
    browser.get(server + "/redoc")
    wait_until(lambda: "Upload a dataset" in browser.find_element(By.TAG_NAME, "body").text, 30,
               "ReDoc did not draw the operations")
    # ReDoc renders the operations' sections one after another ("Loading..." until the last): wait for a late one.
    wait_until(lambda: "/dataset/{dataset_id}/correlations" in browser.find_element(By.TAG_NAME, "body").text, 30,
               "ReDoc did not draw every section")
    shoot(browser, "docs-redoc")
    # ReDoc's "API docs by Redocly" footer tries its logo from cdn.redoc.ly: the page's policy refuses it, ReDoc
    # drops the image, and nothing else asks for another origin.
    outside = [url for url in browser.execute_script("return performance.getEntriesByType('resource')"
                                                     ".map(e => e.name)")
               if not url.startswith((server, "data:", "blob:"))]
    assert all(url.startswith("https://cdn.redoc.ly/redoc/logo-mini") for url in outside), outside
    refused = csp_violations(browser)
    assert all("cdn.redoc.ly" in message for message in refused), refused
    assert len(refused) == len(outside), (refused, outside)
