"""The dashboard in a real browser: ``solara run sim/app.py`` driven in Debian's Chromium.

Playwright's Python API drives ``/usr/bin/chromium`` (``scripts/ensure_chromium.sh``
installs it; no browser is ever downloaded). The test reads every slider's value on
screen and the tab's name, moves the quota slider and reads the value shown, rebuilds the
model with Reset, presses Step a few times and checks that the day, the policy in force,
the verdict and the pictures changed; it saves a screenshot in its ``tmp_path``.

Without Chromium, Playwright or the dashboard's packages the test fails under CI
(``CI=true``, as GitHub Actions and most CI services set it) and is skipped otherwise, with
the reason in pytest's summary (``-ra``); ``scripts/ensure_chromium.sh`` (run by ``make
test``) follows the same rule. ``CHANNEL_SIM_CHROMIUM`` overrides the browser's path.
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
CHROMIUM = Path(os.environ.get("CHANNEL_SIM_CHROMIUM", "/usr/bin/chromium"))
ENSURE_CHROMIUM = ROOT / "scripts" / "ensure_chromium.sh"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 30_000
RENDER_INTERVAL = 7  # days per Step press (sim/app.py)
TAB_NAME = "Policy and market"  # sim.dashboard.page.TAB_NAME
#: slider label -> value shown on its thumb when the page opens (SolaraViz's own two sliders included)
SLIDER_VALUES = {
    "Play Interval (ms)": "151",
    "Render Interval (steps)": "7",
    "Returns quota (people/week)": "50",
    "Returns start (days after 1 Jan 2025)": "31",
    "Legal route places (people/week, if fixed)": "50",
    "UK payment to France (GBP m/year)": "160",
    "Illegal-work enforcement (index 0-1)": "0",
}


def _under_ci() -> bool:
    """``CI`` set to anything but empty, 0, false or no (the rule of scripts/ensure_chromium.sh)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require(ok: bool, message: str) -> None:
    """Fail under CI (a missing requirement must not pass silently), skip elsewhere."""
    if ok:
        return
    if _under_ci():
        pytest.fail(f"{message} (CI={os.environ.get('CI')}: the browser test must run under CI)", pytrace=False)
    pytest.skip(f"browser test skipped: {message} (under CI, CI=true, this is a failure)")


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
             f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (as root: apt-get install chromium)")
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
    quota = page.get_by_role("slider", name="Returns quota (people/week)")
    expect(quota).to_have_attribute("aria-valuemax", "1000")
    expect(quota).to_have_attribute("aria-valuenow", "50")
    # every slider shows its value on its thumb without being touched, the unit in its label
    expect(page.locator(".v-slider__thumb-label:visible")).to_have_count(len(SLIDER_VALUES))
    for name, value in SLIDER_VALUES.items():
        expect(page.get_by_role("slider", name=name).locator(".v-slider__thumb-label")).to_have_text(value)
    # the panels' tab has a name
    expect(page.get_by_role("tab", name=TAB_NAME)).to_be_visible()
    expect(page.get_by_role("tab", name=re.compile(r"^page \d+$", re.I))).to_have_count(0)
    for name, top in (("Returns start (days after 1 Jan 2025)", "364"), ("Legal route places (people/week, if fixed)", "1000"),
                      ("UK payment to France (GBP m/year)", "1000"), ("Illegal-work enforcement (index 0-1)", "1")):
        expect(page.get_by_text(name, exact=True)).to_be_visible()
        expect(page.get_by_role("slider", name=name)).to_have_attribute("aria-valuemax", top)
    for name in ("At-sea interception (on/off)", "Random seed", "Legal route (matched: one per return)"):
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
    # the value the person chose is on screen before anything is rebuilt (read as a person would)
    shown = quota.locator(".v-slider__thumb-label")
    expect(shown).to_be_visible()
    expect(shown).to_have_text("200")
    page.locator("#cs-day").click()   # focus elsewhere: the value stays shown
    expect(shown).to_be_visible()
    assert shown.inner_text().strip() == "200"
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


# --- the rule "skip without a browser, fail under CI", for the test and for scripts/ensure_chromium.sh


@pytest.mark.parametrize(("ci", "fails"), [(None, False), ("", False), ("false", False), ("true", True),
                                           ("1", True)])
def test_require_skips_or_fails_by_ci(monkeypatch, ci, fails):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if fails else pytest.skip.Exception
    with pytest.raises(expected, match="chromium is missing"):
        _require(False, "/nowhere/chromium is missing")
    _require(True, "never raised")


def _run_ensure_chromium(tmp_path, ci: str | None) -> subprocess.CompletedProcess:
    """The script where it cannot install: a missing browser path and no apt-get, sudo or root."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake_id = bin_dir / "id"  # not root, whoever runs the test
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "CHANNEL_SIM_CHROMIUM": str(tmp_path / "no-chromium")}
    if ci is not None:
        env["CI"] = ci
    bash = "/bin/bash" if Path("/bin/bash").exists() else "/usr/bin/bash"
    return subprocess.run([bash, str(ENSURE_CHROMIUM)], env=env, capture_output=True, text=True, timeout=60)


def test_ensure_chromium_without_root_explains_and_continues(tmp_path):
    r = _run_ensure_chromium(tmp_path, ci=None)
    assert r.returncode == 0, r.stderr
    assert "no-chromium is missing" in r.stderr and "needs root" in r.stderr
    assert "will be SKIPPED" in r.stderr


def test_ensure_chromium_without_root_fails_under_ci(tmp_path):
    r = _run_ensure_chromium(tmp_path, ci="true")
    assert r.returncode == 1, r.stderr
    assert "no-chromium is missing" in r.stderr and "error" in r.stderr
    assert "SKIPPED" not in r.stderr


def test_ensure_chromium_is_quiet_when_the_browser_is_there(tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    r = subprocess.run(["bash", str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "CHANNEL_SIM_CHROMIUM": str(browser), "CI": "true"})
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
