"""The dashboard in a real browser: ``solara run sim/app.py`` driven in Debian's Chromium.

Playwright's Python API drives ``/usr/bin/chromium`` (``scripts/ensure_chromium.sh``
installs it; no browser is ever downloaded). The test moves the quota slider, rebuilds
the model with Reset, presses Step a few times and checks that the day, the policy in
force, the verdict and the pictures changed; it saves a screenshot in its ``tmp_path``.

Without Chromium, Playwright or the dashboard's packages the test fails when ``CI`` is
set, and is skipped otherwise.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 30_000
RENDER_INTERVAL = 7  # days per Step press (sim/app.py)


def _require(ok: bool, message: str) -> None:
    """Fail under CI (a missing requirement must not pass silently), skip elsewhere."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End the server we started (its own process group: solara may start workers)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _check_requirements() -> None:
    _require(CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
             f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (apt-get install chromium)")
    _require(importlib.util.find_spec("playwright") is not None,
             "playwright is not installed: pip install -e '.[dev,viz]'")
    _require(importlib.util.find_spec("solara") is not None,
             "solara is not installed (the viz extra): pip install -e '.[viz]'")
    _require(_installed("solara-assets"),
             "solara-assets is not installed (the viz extra): without it the page's scripts come from a CDN")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``solara run sim/app.py`` on a free localhost port; yields its URL, always stopped."""
    _check_requirements()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "solara.log"
    env = {**os.environ, "MPLBACKEND": "Agg", "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
           "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "solara", "run", str(ROOT / "sim" / "app.py"), "--port", str(port),
           "--host", "127.0.0.1", "--no-open", "--production"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"solara exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}", pytrace=False)
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"solara did not answer on {url} within {SERVER_START_TIMEOUT_S} s:\n"
                            f"{log_path.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.25)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser():
    _check_requirements()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()

def _snapshot(page, picture, attempts: int = 8) -> bytes:
    """A picture's pixels. The app re-renders its images while it updates, so an image
    can be replaced between being found and being captured: wait and try again."""
    from playwright.sync_api import Error as PlaywrightError

    for k in range(attempts):
        try:
            return picture.screenshot(timeout=UI_TIMEOUT_MS)
        except PlaywrightError:
            if k == attempts - 1:
                raise
            page.wait_for_timeout(250)
    raise AssertionError("unreachable")



def test_dashboard_in_chromium(request, tmp_path):
    _check_requirements()  # in the test itself, so that a missing browser is a failed test under CI
    server = request.getfixturevalue("server")
    browser = request.getfixturevalue("browser")
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1500, "height": 1150})
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    t0 = time.monotonic()
    page.goto(server, wait_until="domcontentloaded")

    # the page: the sidebar's inputs, the verdict panel, the coast and four charts
    quota = page.get_by_role("slider", name="Returns quota /week")
    expect(quota).to_have_attribute("aria-valuemax", "1000")
    expect(quota).to_have_attribute("aria-valuenow", "50")
    for name, top in (("Returns start (days after 1 Jan)", "364"), ("Legal places/week (fixed)", "1000"),
                      ("UK payment (GBP m/yr)", "1000"), ("Illegal-work enforcement", "1")):
        expect(page.get_by_text(name, exact=True)).to_be_visible()
        expect(page.get_by_role("slider", name=name)).to_have_attribute("aria-valuemax", top)
    for name in ("At-sea interception", "Random seed", "Legal route (matched: one per return)"):
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    expect(page.locator("#cs-day")).to_have_text(re.compile(r"Day 0\b"))
    pictures = page.locator(".vue-grid-item img")
    expect(pictures).to_have_count(5)
    for i in range(5):
        expect(pictures.nth(i)).to_be_visible()
    before = [_snapshot(page, pictures.nth(i)) for i in range(5)]

    # move the quota slider to 200 (step 10) with the keyboard, as a person could
    quota.focus()
    for _ in range(40):
        value = int(float(quota.get_attribute("aria-valuenow")))
        if value == 200:
            break
        quota.press("ArrowRight" if value < 200 else "ArrowLeft")
    expect(quota).to_have_attribute("aria-valuenow", "200")
    page.wait_for_timeout(500)  # let the new value reach the server before the model is rebuilt
    page.get_by_role("button", name="Reset").click()
    expect(page.locator("#cs-policy")).to_contain_text("returns quota 200/week")

    for k in range(1, 4):
        page.get_by_role("button", name="Step").click()
        expect(page.locator("#cs-day")).to_have_text(re.compile(rf"Day {k * RENDER_INTERVAL} —"))
    expect(page.locator("#cs-verdict")).to_contain_text("market profit margin")
    expect(page.locator("#cs-verdict")).to_contain_text(re.compile(r"business model (NOT )?BROKEN"))
    expect(page.locator("#cs-totals")).to_contain_text("arrivals in the UK")

    after = [_snapshot(page, pictures.nth(i)) for i in range(5)]
    unchanged = [i for i in range(5) if before[i] == after[i]]
    assert not unchanged, f"pictures {unchanged} did not change after stepping"
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert not errors, f"errors in the page: {errors}"
    elapsed = time.monotonic() - t0
    print(f"browser test: {elapsed:.1f} s in the page; screenshot {shot}")
    page.close()
