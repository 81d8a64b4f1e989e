"""Helpers for the browser tests: Debian's Chromium driven by Playwright, axe-core, screenshots."""

import os
import re

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "screenshots")


def require_browser():
    """Skip with a reason when no browser can run here; in CI (REQUIRE_BROWSER=1) fail instead."""
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = f"Debian's chromium is not installed ({CHROMIUM}); `make test` installs it where it can"
    else:
        try:
            import playwright.sync_api  # noqa: F401 (imported only to learn whether Playwright is installed)
        except ImportError:
            reason = "playwright is not installed (requirements-dev.txt)"
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(
                f"browser tests cannot run: {reason}, and REQUIRE_BROWSER=1 forbids skipping them", pytrace=False
            )
        pytest.skip(reason)


def screenshot(page, name, full_page=True):
    """Save a screenshot (the full page, or what is on screen) as a test artifact; returns its path."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"{name}.png")
    page.screenshot(path=path, full_page=full_page)
    return path


def assert_accessible(page, label):
    """axe-core finds no violation on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"axe on {label}:\n{results.generate_report()}"


def assert_no_sideways_scroll(page, label):
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{label} scrolls sideways: {widths[0]} px of content in {widths[1]} px"


def open_advanced(page):
    """Unfold the form's advanced fields (seed, n, format, user, metadata) if they are folded."""
    if not page.evaluate("() => document.getElementById('advanced').open"):
        page.click("#advanced > summary")


def fill_every_field(page, picture, prompt):
    page.fill("#model", "demo-v1")
    page.fill("#prompt", prompt)
    page.set_input_files("#image_file", picture)
    page.click("[data-preset-width='1280'][data-preset-height='720']")
    page.fill("#width", "640")
    page.fill("#height", "360")
    page.fill("#duration", "2")
    page.fill("#fps", "12")
    open_advanced(page)
    page.click("[data-random-seed]")
    page.fill("#n", "1")
    page.select_option("#response_format", "url")
    page.fill("#user", "ana")
    page.fill("#negative_prompt", "blur")
    page.fill("#style", "watercolour")
    page.fill("#quality_level", "high")
    page.fill("#metadata", '{"cfg_scale": 0.5}')


def assert_error_by_field(page, field, text):
    error = page.locator(f"#{field}-error")
    assert text in error.inner_text()
    assert f"{field}-error" in page.get_attribute(f"#{field}", "aria-describedby")
    assert page.locator(f".error-summary a[href='#{field}']").count() == 1


def small_job(page, model="demo-v1", width=320, height=180, duration=1, fps=8):
    """Fill the model, size and timing: by default a job the demo API renders in a moment."""
    page.fill("#model", model)
    for field, value in (("#width", width), ("#height", height), ("#duration", duration), ("#fps", fps)):
        page.fill(field, str(value))


def compare_seeds(page, prompt, seeds):
    """From the form: a small job sent as a comparison of seeds; waits for the comparison's page."""
    page.goto("/")
    page.fill("#prompt", prompt)
    small_job(page)
    page.click("#compare > summary")
    page.select_option("#compare_mode", "seeds")
    page.fill("#compare_values", seeds)
    page.click("[data-as-compare]")
    page.wait_for_url(re.compile(r"/compare/[0-9a-f]+$"))


def launched_chromium():
    """Debian's Chromium under Playwright, for a fixture to yield from and close after (a generator)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
