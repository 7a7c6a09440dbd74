"""The page for everyone: axe-core finds nothing serious in light or dark (loading, ready, training, a refused
value), the theme follows the system and the toggle remembers, charts and pictures redraw in the theme, nothing
is cut at 360 px wide, every control is reached and operated by keyboard with a visible focus, and a tile's
prediction is said to screen readers once a person finishes something on it, not at every update."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from test_page import DIGITS, draw, wait_stat
from test_page_views import _photo_of_a_seven, _trained_mlp_file

WAIT_MS = 30_000
# Every element whose text is cut (clipped by its box, or past the window's right edge where no box around
# it scrolls sideways, as the confusion matrix's does), as "testid: text".
CUT_TEXT = """() => {
    const scrolls = el => { for (let up = el.parentElement; up; up = up.parentElement)
        if (/auto|scroll/.test(getComputedStyle(up).overflowX) && up !== document.documentElement) return true;
        return false; };
    const cut = [];
    for (const el of document.querySelectorAll('button, select, dt, dd, label, p, span, h1, h2, td, th')) {
        if (!el.getClientRects().length || el.closest('.visually-hidden, .u-legend')) continue;
        const style = getComputedStyle(el);
        const clips = style.overflow !== 'visible' || /paint|strict|content/.test(style.contain);
        const past = el.getBoundingClientRect().right > innerWidth + 0.5 && !scrolls(el);
        if ((clips && el.scrollWidth > el.clientWidth + 1) || past)
            cut.push(`${el.dataset.testid || el.id || el.className || el.tagName}: ${el.textContent.trim().slice(0, 40)}`);
    }
    if (document.documentElement.scrollWidth > innerWidth) cut.push(`the page: ${document.documentElement.scrollWidth} px wide`);
    return cut;
}"""
# The element with keyboard focus: its testid (or id), and whether a focus ring shows (its own outline, or
# for a file input, which is invisible, its label's).
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const ring = e => { const s = getComputedStyle(e); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; };
    const shown = el.type === 'file' ? ring(el.closest('label')) : ring(el);
    return {id: el.dataset.testid || el.id, ring: shown};
}"""
# Every control a keyboard must reach: enabled and on screen (a file input's label is what shows).
CONTROLS = """() => [...document.querySelectorAll('button, input, select')]
    .filter(el => !el.disabled && (el.type === 'file' ? el.closest('label') : el).getClientRects().length)
    .filter(el => !el.closest('[hidden]'))
    .map(el => el.dataset.testid || el.id)"""


def _theme(page: Any) -> str:
    return page.evaluate("document.documentElement.dataset.theme")


def _toggle_theme(page: Any) -> None:
    """Press the theme toggle and wait for the colours' transitions (hover, buttons) to end."""
    page.get_by_test_id("theme-toggle").click()
    page.wait_for_function("!document.getAnimations().some(a => a instanceof CSSTransition)", timeout=WAIT_MS)


def test_axe_finds_nothing_serious_in_light_and_dark_and_nothing_is_cut_at_360_px(
        page_factory: Callable[..., contextlib.AbstractContextManager], site_url: str,
        page_ready: Callable[..., None], axe: Callable[[Any], list[str]]) -> None:
    """Loading, ready, training with a confusion matrix, a refused value: no serious or critical axe
    violation (contrast included) in light, then in dark from the toggle, which redraws the charts and
    pictures, is remembered over a reload and otherwise follows the system; at 360 px nothing is cut."""
    with page_factory(color_scheme="light", viewport={"width": 1280, "height": 900}) as (page, log):
        page.goto(site_url)
        assert _theme(page) == "light"
        expect(page.get_by_test_id("loading")).to_be_visible()
        assert axe(page) == [], "while loading"
        page_ready(page, log)
        assert axe(page) == [], "ready"

        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("train-state")).to_have_text("training", timeout=WAIT_MS)
        wait_stat(page, "stat-iteration", "v >= 200")
        page.get_by_test_id("evaluate").click()
        expect(page.get_by_test_id("confusion-matrix").locator("button").first).to_be_visible(timeout=60_000)
        lrate = page.get_by_test_id("learning-rate")
        lrate.fill("fast")
        lrate.press("Enter")
        expect(lrate).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_test_id("message")).to_have_class("message error")
        assert axe(page) == [], "training, with a matrix and a refused value, light"
        assert page.evaluate(CUT_TEXT) == []

        light_picture = page.get_by_test_id("weights-view").screenshot()
        _toggle_theme(page)
        assert _theme(page) == "dark"
        expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "true")
        for testid in ("chart-loss", "chart-acc", "weights-view"):
            expect(page.get_by_test_id(testid)).to_have_attribute("data-theme", "dark", timeout=WAIT_MS)
        assert page.get_by_test_id("weights-view").screenshot() != light_picture
        corner = page.evaluate("""() => [...document.querySelector('[data-testid=weights-view]')
            .getContext('2d').getImageData(0, 0, 1, 1).data].slice(0, 3)""")
        assert sum(corner) < 3 * 100, f"the dark weights picture's first pixel is light: {corner}"
        assert axe(page) == [], "training, dark"

        page.set_viewport_size({"width": 360, "height": 740})
        assert page.evaluate(CUT_TEXT) == [], "dark, 360 px"
        assert axe(page) == [], "dark, 360 px"
        _toggle_theme(page)
        assert _theme(page) == "light"
        assert axe(page) == [], "light, 360 px"
        assert page.evaluate(CUT_TEXT) == [], "light, 360 px"
        page.get_by_test_id("stop").click()

        _toggle_theme(page)  # dark again: remembered over a reload
        page.reload()
        assert _theme(page) == "dark"
        expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "true")

    with page_factory(color_scheme="dark") as (page, _log):
        page.goto(site_url)  # nothing chosen yet: the system's scheme, before the page's Python runs
        assert _theme(page) == "dark"
        expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "true")


def _tab_to(page: Any, testid: str, seen: list[dict[str, Any]], limit: int = 200) -> None:
    """Press Tab until ``testid`` has focus, noting every stop on the way in ``seen``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is not None:
            seen.append(focused)
            if focused["id"] == testid:
                return
    raise AssertionError(f"{limit} presses of Tab never reached {testid}; they went through "
                         f"{[f['id'] for f in seen[-limit:]]}")


def test_keyboard_alone_trains_tunes_opens_and_exports_and_tiles_speak_once(
        ready_page: Any, tmp_path: Any, dist_dir: Any) -> None:
    """Tab reaches every control with a ring showing; Enter and Space start and stop (focus moving from one
    to the other), change a setting, import weights, open a photo and export. The opened photo and a
    drawn 7 are each announced once, politely, and labelled on their tile; training then leaves the
    announcement alone."""
    page = ready_page
    # A listener for the whole test keeps Playwright's file-chooser interception on: switched on anew for
    # each expect_file_chooser, a key pressed before it took effect opened no chooser on a busy machine.
    page.on("filechooser", lambda _chooser: None)
    seen: list[dict[str, Any]] = []
    controls = page.evaluate(CONTROLS)
    _tab_to(page, controls[-1], seen)
    reached = {stop["id"] for stop in seen}
    assert set(controls) <= reached, f"never reached by Tab: {sorted(set(controls) - reached)}"
    assert [stop["id"] for stop in seen if not stop["ring"]] == [], "focus without a visible ring"

    _tab_to(page, "start", seen)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("train-state")).to_have_text("training", timeout=WAIT_MS)
    page.wait_for_function("document.activeElement.dataset.testid === 'stop'", timeout=WAIT_MS)
    page.keyboard.press("Space")
    expect(page.get_by_test_id("train-state")).not_to_have_text("training", timeout=WAIT_MS)
    page.wait_for_function("document.activeElement.dataset.testid === 'start'", timeout=WAIT_MS)

    _tab_to(page, "learning-rate", seen)
    page.keyboard.press("Control+A")
    page.keyboard.type("0.05")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("stat-lrate")).to_have_text("0.05", timeout=WAIT_MS)

    weights = _trained_mlp_file(dist_dir / "data", tmp_path)
    _tab_to(page, "import-weights", seen)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(weights))
    expect(page.get_by_test_id("message")).to_contain_text(f"Loaded {weights.name}", timeout=WAIT_MS)

    announcer = page.get_by_test_id("announcer")
    photo = tmp_path / "seven.png"
    _photo_of_a_seven(photo, "PNG")
    _tab_to(page, "open-image", seen)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(photo))
    expect(announcer).to_have_text(re.compile(r"^Tile 9: your drawing, read as 7 \(\d+%\)\.$"),
                                   timeout=WAIT_MS)
    expect(page.get_by_test_id("cell-8")).to_have_attribute("aria-label", announcer.text_content())

    draw(page, 9, DIGITS["7"])
    expect(announcer).to_have_text(re.compile(r"^Tile 10: your drawing, read as 7 "), timeout=WAIT_MS)
    expect(page.get_by_test_id("cell-9")).to_have_attribute("aria-label", announcer.text_content())
    expect(page.get_by_test_id("cell-0")).to_have_attribute(
        "aria-label", re.compile(r"^Tile 1: test digit labelled \d, read as \d \(\d+%\), (right|wrong)\.$"))

    _tab_to(page, "sample-11", seen)  # a tile's own Test digit button: its digit is said too
    page.keyboard.press("Enter")
    expect(announcer).to_have_text(re.compile(r"^Tile 12: test digit labelled \d, read as \d \(\d+%\), (right|wrong)\.$"),
                                   timeout=WAIT_MS)

    page.evaluate("""() => { window.announced = 0;
        new MutationObserver(() => window.announced++).observe(
            document.querySelector('[data-testid=announcer]'), {childList: true, characterData: true, subtree: true}); }""")
    _tab_to(page, "start", seen)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("train-state")).to_have_text("training", timeout=WAIT_MS)
    wait_stat(page, "stat-iteration", "v >= 300")
    page.keyboard.press("Enter")  # focus went to Stop
    expect(page.get_by_test_id("train-state")).not_to_have_text("training", timeout=WAIT_MS)
    assert page.evaluate("window.announced") == 0, "training rewrote the announcement"

    _tab_to(page, "export-weights", seen)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.endswith(".npz")
