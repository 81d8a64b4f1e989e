"""The studio for demos, used in Chromium as a person demoing it would: one page with the form and its
results, model options, examples, remix, the request as code run in a shell, and the history's filters.
Against the app under gunicorn and the demo API (fixtures in conftest.py)."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import requests

from support.browser import (
    assert_accessible,
    assert_error_by_field,
    assert_no_sideways_scroll,
    screenshot,
    small_job,
)
from support.waiting import wait_for

pytestmark = pytest.mark.browser

JOB_URL = re.compile(r"/jobs/video_[0-9a-f]+$")


def within_reach(page, selector):
    """Is the element entirely on screen without scrolling?"""
    return page.evaluate(
        """s => { const r = document.querySelector(s).getBoundingClientRect();
                                    return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }""",
        selector,
    )


def jobs_in_history(stack):
    page = requests.get(f"{stack.base_url}/jobs", timeout=10).text
    found = re.search(r'class="result-count"[^>]*>\s*(\d+) job', page)
    return int(found.group(1)) if found else 0


def wait_for_video(page, timeout=60):
    deadline = time.monotonic() + timeout
    while page.locator("[data-job-card] video[data-video]").count() == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert page.locator("[data-job-card] video[data-video]").count() >= 1, "the card never reached its video"


def test_after_create_the_card_appears_beside_the_form_and_follows_its_job(page, browser, stack):
    page.goto("/")
    assert within_reach(page, "[data-submit]"), "Create is not on screen without scrolling"
    prompt = "A red kite over green dunes, one page"
    page.fill("#prompt", prompt)
    small_job(page)
    page.click("[data-submit]")
    page.wait_for_url(JOB_URL)
    page.evaluate("window.__sameDocument = true")
    form, card = page.locator(".studio-form").bounding_box(), page.locator("[data-job-card]").bounding_box()
    assert card["x"] >= form["x"] + form["width"], "the card is not beside the form"
    assert card["y"] < 400, "the card is not at the top of the page"
    assert page.input_value("#prompt") == prompt, "the form lost what was typed"
    assert within_reach(page, "[data-submit]")
    wait_for_video(page)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded while following"
    assert_accessible(page, "the form beside a finished job")
    screenshot(page, "one-page-1440", full_page=False)

    first = page.url
    page.fill("#prompt", prompt + ", at dusk")  # the next variation is one change away
    page.click("[data-submit]")
    page.wait_for_url(lambda url: JOB_URL.search(url) and url != first)
    assert page.input_value("#prompt") == prompt + ", at dusk"

    phone = browser.new_context(viewport={"width": 375, "height": 740}, base_url=stack.base_url).new_page()
    phone.goto(first)
    card, form = phone.locator("[data-job-card]").bounding_box(), phone.locator(".studio-form").bounding_box()
    assert card["y"] < form["y"], "on a phone the card should come first"
    assert within_reach(phone, "[data-submit]")
    assert_no_sideways_scroll(phone, "a job on a phone")
    screenshot(phone, "one-page-375", full_page=False)
    phone.context.close()


def test_advanced_fields_start_folded_and_open_for_a_value_or_an_error(page):
    page.goto("/")
    assert not page.is_visible("#seed") and not page.is_visible("#metadata")
    page.click("#advanced > summary")
    page.fill("#prompt", "An owl blinking")
    page.fill("#seed", "-3")
    page.click("#advanced > summary")  # folded again before sending
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-summary]")
    assert page.is_visible("#seed"), "the field with an error stayed folded"
    assert_error_by_field(page, "seed", "between 0 and")


def test_kling_options_are_offered_checked_at_the_field_and_sent_under_the_providers_names(page, stack):
    page.goto("/")
    page.fill("#model", "kling-v1")
    assert page.is_visible("#x-kling-mode") and not page.is_visible("#x-veo-resolution")
    page.fill("#model", "veo-3.0-generate-001")
    assert page.is_visible("#x-veo-resolution") and not page.is_visible("#x-kling-mode")
    page.fill("#model", "some-relay-model")
    assert page.locator("fieldset[data-extras-for]:visible").count() == 0

    jobs_before = jobs_in_history(stack)
    page.fill("#prompt", "A paper lantern rising over a lake")
    small_job(page, "kling-v1", width=512, height=512, duration=5, fps=6)
    page.select_option("#x-kling-mode", "pro")
    page.fill("#x-kling-cfg_scale", "1.5")
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-summary]")
    assert_error_by_field(page, "x-kling-cfg_scale", "must be a number from 0 to 1")
    assert page.input_value("#x-kling-mode") == "pro", "the chosen option was lost"
    assert jobs_in_history(stack) == jobs_before, "something was sent"
    page.evaluate("() => document.getElementById('x-kling-mode').scrollIntoView({block: 'center'})")
    screenshot(page, "form-kling-options-1440", full_page=False)
    # the options' boxes line up in a row, whatever the length of each hint
    bottoms = page.evaluate(
        """() => ['x-kling-mode', 'x-kling-cfg_scale']
                 .map(id => document.getElementById(id).getBoundingClientRect().bottom)"""
    )
    assert abs(bottoms[0] - bottoms[1]) <= 2, f"the Kling options row is ragged: {bottoms}"

    page.fill("#x-kling-cfg_scale", "0.7")
    page.click("[data-submit]")
    page.wait_for_url(JOB_URL)
    page.click("[data-job-card] .card-details > summary")  # what was sent is under Details
    card = page.locator("[data-job-card]").inner_text()
    assert "mode" in card and "pro" in card and "cfg_scale" in card and "0.7" in card, card
    assert page.input_value("#x-kling-mode") == "pro" and page.input_value("#x-kling-cfg_scale") == "0.7"


def test_an_example_fills_the_whole_form_image_and_options_included(page):
    page.goto("/")
    page.click(".example:has-text('harbour')")
    assert "Filled in from the example" in page.inner_text("main")
    assert page.input_value("#prompt").startswith("The harbour wakes up")
    page.wait_for_selector("[data-kept-image]", state="visible", timeout=60_000)  # the picture loads: wait for it
    page.wait_for_selector("[data-preview-img]", state="visible", timeout=60_000)
    wait_for(
        lambda: page.evaluate("() => document.querySelector('[data-preview-img]').naturalWidth") > 0,
        timeout=60,
        what="the example's picture shown",
    )
    screenshot(page, "example-filled-1440", full_page=False)
    page.goto("/")
    page.click(".example:has-text('paper boat')")
    assert page.input_value("#model") == "kling-v1"
    assert page.input_value("#x-kling-mode") == "pro" and page.input_value("#x-kling-cfg_scale") == "0.6"
    assert page.is_visible("#negative_prompt") and page.input_value("#negative_prompt") == "blur, text, watermark"
    assert_accessible(page, "the form filled from an example")


def test_a_finished_job_is_remixed_and_the_remix_links_back(page):
    page.goto("/")
    page.fill("#prompt", "A teapot on a table")
    small_job(page)
    page.click("[data-submit]")
    page.wait_for_url(JOB_URL)
    source = page.url.rsplit("/", 1)[1]
    wait_for_video(page)
    page.fill(".remix input[name=prompt]", "A teapot on a table, now made of glass")
    page.click(".remix button[type=submit]")
    page.wait_for_url(lambda url: JOB_URL.search(url) and not url.endswith(source))
    assert page.locator(f"[data-job-card] a[href$='/jobs/{source}']").count() == 1, "no link back to the source"
    wait_for_video(page)
    assert (
        "now made of glass" in page.inner_text("[data-job-card]")
        or page.input_value("#prompt") == "A teapot on a table, now made of glass"
    )
    screenshot(page, "remix-1440")


def test_the_forms_request_as_curl_runs_in_a_shell_and_makes_a_job(page, stack, tmp_path):
    assert shutil.which("curl"), "curl is needed to run the snippet as a person would"
    page.goto("/")
    page.fill("#prompt", "A lighthouse, sent by hand")
    small_job(page)
    page.click("[data-as-code]")
    page.wait_for_selector("#code-curl")
    curl = page.inner_text("#code-curl")
    assert "$VIDEO_API_KEY" in curl and stack.demo.base_url in curl
    screenshot(page, "code-1440")
    out = subprocess.run(
        ["bash", "-c", curl],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "VIDEO_API_KEY": stack.demo.key},
    )
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert job["id"].startswith("video_") and job["prompt"] == "A lighthouse, sent by hand"
    check = requests.get(
        f"{stack.demo.base_url}/v1/videos/{job['id']}",
        timeout=10,
        headers={"Authorization": f"Bearer {stack.demo.key}"},
    )
    assert check.status_code == 200 and check.json()["size"] == "320x180"


def test_the_history_filters_by_model_status_and_person_and_searches_prompts(page):
    for model, user, prompt in (("demo-v1", "ana", "Filter test: a fox"), ("demo-v2", "bo", "Filter test: a bear")):
        page.goto("/")
        page.fill("#prompt", prompt)
        small_job(page, model)
        page.click("#advanced > summary")
        page.fill("#user", user)
        page.click("[data-submit]")
        page.wait_for_url(JOB_URL)
    wait_for_video(page)
    page.goto("/jobs")
    page.fill("#q", "Filter test")
    page.select_option("#model", "demo-v2")
    page.click(".filters button[type=submit]")
    prompts = page.locator(".history-prompt").all_inner_texts()
    assert prompts == ["Filter test: a bear"], prompts
    page.select_option("#model", "")
    page.select_option("#person", "ana")
    page.click(".filters button[type=submit]")
    assert page.locator(".history-prompt").all_inner_texts() == ["Filter test: a fox"]
    assert page.input_value("#person") == "ana" and page.input_value("#q") == "Filter test"
    page.select_option("#person", "")
    page.select_option("#status", "completed")
    page.click(".filters button[type=submit]")
    texts = page.locator(".history-item").all_inner_texts()
    assert texts and all("Completed" in t for t in texts)
    assert_accessible(page, "the history, filtered")
    screenshot(page, "history-filtered-1440")


def test_on_a_phone_the_historys_first_video_is_in_view_below_the_banner(page):
    page.goto("/")
    page.fill("#prompt", "Phone history: a lantern")
    small_job(page)
    page.click("[data-submit]")
    page.wait_for_url(JOB_URL)
    wait_for_video(page)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/jobs")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".demo-banner").is_visible()
    assert within_reach(page, ".history-item .history-thumb"), "the first video is below the fold on a phone"
    page.click(".filters-fold > summary")  # the filters are one tap away
    page.fill("#q", "lantern")
    page.click(".filters button[type=submit]")
    assert page.locator(".filters #q").is_visible(), "a search in use keeps the filters open"
    screenshot(page, "history-phone-375", full_page=False)


def test_the_form_shows_what_a_job_and_a_comparison_would_cost(page):
    page.goto("/")
    small_job(page, "demo-v1", width=1280, height=720, duration=5)
    page.locator("#duration").dispatch_event("input")
    wait_for(lambda: "CN¥2.50" in page.inner_text("[data-estimate]"), timeout=10, what="the estimate")
    assert page.inner_text("[data-estimate]") == "About CN¥2.50 for 5 s at 1280x720"
    page.click("[data-preset-width='1920'][data-preset-height='1080']")  # a size with its own price
    wait_for(lambda: "CN¥4.00" in page.inner_text("[data-estimate]"), timeout=10, what="the size's price")
    page.click("#compare > summary")
    page.select_option("#compare_mode", "seeds")
    page.fill("#compare_values", "1, 2, 3")
    wait_for(
        lambda: page.inner_text("[data-compare-estimate]") == "3 jobs: about CN¥12.00 in all",
        timeout=10,
        what="the comparison's total",
    )
    page.fill("#model", "kling-v1")  # no price is shipped for Kling: unknown, never zero
    page.locator("#model").dispatch_event("input")
    wait_for(lambda: page.inner_text("[data-estimate]") == "Price unknown for this model", timeout=10, what="unknown")
    assert page.inner_text("[data-compare-estimate]") == "3 jobs: price unknown"


NOTIFICATION_SPY = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push({title: title, body: (options || {}).body}); }
  static get permission() { return window.__granted ? "granted" : "default"; }
  static requestPermission() { window.__granted = true; return Promise.resolve("granted"); }
};
document.hasFocus = () => false;  // the person is in another tab or window
"""


def test_a_person_who_asked_is_told_when_the_video_is_ready_and_the_tab_says_so(browser, stack):
    """The notification is recorded by a stand-in for the browser's Notification API: whether the operating
    system shows it is not ours to test; that the page asks for it, at the right moment, is."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=stack.base_url)
    context.add_init_script(NOTIFICATION_SPY)
    page = context.new_page()
    try:
        page.goto("/")
        page.fill("#prompt", "Nudge: a kettle coming to the boil")
        small_job(page)
        page.click("[data-submit]")
        page.wait_for_url(JOB_URL)
        button = page.locator("[data-notify]")
        button.click()
        wait_for(lambda: "You will be told" in button.inner_text(), timeout=10, what="the opt-in")
        wait_for_video(page)
        wait_for(lambda: page.evaluate("() => window.__notes.length") == 1, timeout=30, what="the notification")
        note = page.evaluate("() => window.__notes[0]")
        assert note == {"title": "Your video is ready", "body": "Nudge: a kettle coming to the boil"}
        assert "favicon-done" in page.get_attribute("link[rel=icon]", "href")
        assert page.title().startswith("Completed")
    finally:
        context.close()
