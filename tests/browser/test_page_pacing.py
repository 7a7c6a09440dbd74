"""The page's main thread while training: it shows the worker's progress at the pace people read it,
and is not woken in every animation frame in between.

No speed is asserted. The counts below can only be lower on a slower machine, never higher: they
bound how often the page's Python runs, which is what keeps the main thread free for drawing.
"""
from __future__ import annotations

from typing import Any

from test_page import number, wait_stat

WINDOW_MS = 3000
FRAMES_PER_S = 60  # a display's animation frames; the page's Python used to run in every one


def _python_frames(page: Any) -> int:
    return page.evaluate("() => window.inklingBridge.frameStats.frames")


def test_while_training_the_page_runs_a_few_times_a_second_and_still_shows_everything(ready_page: Any) -> None:
    page = ready_page
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 50", timeout=120_000)
    iteration, frames = number(page, "stat-iteration"), _python_frames(page)
    predictions = page.evaluate("() => [...document.querySelectorAll('[data-testid^=probs-]')].map(e => e.textContent)")
    page.wait_for_timeout(WINDOW_MS)
    woken = (_python_frames(page) - frames) / (WINDOW_MS / 1000)
    # Progress comes five times a second, weights and chart redraws in every other of those frames.
    assert woken < FRAMES_PER_S / 3, f"the page's Python ran {woken:.0f} times a second while training"
    assert number(page, "stat-iteration") > iteration  # the numbers still move ...
    # ... and the predictions follow the new weights (the grid's percentages change as the network learns).
    page.wait_for_function(
        "before => [...document.querySelectorAll('[data-testid^=probs-]')].map(e => e.textContent).join()"
        " !== before.join()", arg=predictions, timeout=60_000)
    page.get_by_test_id("stop").click()
    page.wait_for_function("() => document.querySelector('[data-testid=train-state]').textContent === 'idle'")
    # Once idle, the last progress is drawn, and the page stops waking.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-loss]').dataset.lastIteration === "
        "document.querySelector('[data-testid=stat-iteration]').textContent.replace(/,/g, '')", timeout=10_000)
    page.wait_for_timeout(500)
    frames = _python_frames(page)
    page.wait_for_timeout(1000)
    assert _python_frames(page) - frames <= 2, "the idle page's Python kept running"
