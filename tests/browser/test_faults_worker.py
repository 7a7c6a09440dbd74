"""The training worker dies (terminated from the page, or an uncaught throw inside it): the page says so,
a new worker takes over with the newest weights and settings, training goes on, drawing never stops.

One page (module fixture `lab`) survives three deaths in order; the crash-loop guard gets a page of
its own. Detection times are measured and printed (run with -s to see them), never asserted.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from test_page import ONE_DIGIT, draw, number, predictions, set_setting, wait_predictions_settle, wait_stat

RECOVER_MS = 120_000  # a new worker boots Pyodide and numpy again: seconds, more on busy cores
RESTARTING = re.compile(r"^restarting the training worker")

# Resolves with the ms from now until the message area first says the worker stopped.
WATCH_MESSAGE = """() => {
  const message = document.querySelector('[data-testid=message]');
  const status = document.querySelector('[data-testid=status]');
  const t0 = performance.now();
  window.__stopped = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (message.textContent.includes('training worker stopped')) {
        observer.disconnect();
        resolve({ ms: performance.now() - t0, status: status.textContent, text: message.textContent });
      }
    });
    observer.observe(message, { childList: true, characterData: true, subtree: true });
  });
}"""


def training_worker(page: Any) -> Any:
    """Playwright's handle on the page's training worker (the real one, not a copy)."""
    workers = [w for w in page.workers if "workers/worker.js" in w.url]
    assert len(workers) == 1, [w.url for w in page.workers]
    return workers[0]


def kill(page: Any, how: str) -> dict[str, Any]:
    """Inject a worker death; returns when the page said so: {ms, status, text}."""
    page.evaluate(WATCH_MESSAGE)
    if how == "terminate":
        page.evaluate("inklingBridge.worker.terminate()")
    elif how == "throw":
        training_worker(page).evaluate("setTimeout(() => { throw new Error('injected by the test') })")
    else:  # Pyodide's own fatal-error path: the runtime is unusable from then on
        training_worker(page).evaluate(
            "setTimeout(() => inklingPyodide._api.fatal_error(new Error('injected fatal error')))")
    return page.evaluate("window.__stopped")


def wait_recovered(page: Any) -> None:
    """The new worker took over: status ready, the message says so."""
    expect(page.get_by_test_id("message")).to_contain_text("A new training worker took over", timeout=RECOVER_MS)
    expect(page.get_by_test_id("status")).to_have_text("ready")


def losses_after(page: Any, count: int = 3) -> list[float]:
    """The next ``count`` losses the page shows."""
    page.evaluate("""() => {
      const node = document.querySelector('[data-testid=stat-loss]');
      window.__losses = [];
      new MutationObserver(() => window.__losses.push(parseFloat(node.textContent)))
        .observe(node, { childList: true, characterData: true, subtree: true });
    }""")
    page.wait_for_function(f"window.__losses.length >= {count}", timeout=RECOVER_MS)
    return page.evaluate("window.__losses")


def ink(page: Any, cell: int) -> int:
    """Pixels with ink on a cell's canvas."""
    return page.evaluate("""(cell) => {
      const canvas = document.querySelector(`[data-testid=cell-${cell}]`);
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
      return inked;
    }""", cell)


@pytest.fixture(scope="module")
def lab(page_factory: Callable[[], contextlib.AbstractContextManager], site_url: str,
        page_ready: Callable[..., None]) -> Iterator[tuple[Any, Any]]:
    """A ready page, trained a little with settings of its own."""
    with page_factory() as (page, log):
        page.goto(site_url)
        page_ready(page, log)
        # The optimizer first: choosing one sets its suggested rate, which 0.07 then replaces.
        page.get_by_test_id("optimizer").select_option("momentum")
        set_setting(page, "batch-size", "48")
        set_setting(page, "learning-rate", "0.07")
        wait_stat(page, "stat-batch-size", "v === 48")
        wait_stat(page, "stat-lrate", "v === 0.07")
        page.get_by_test_id("start").click()
        wait_stat(page, "stat-iteration", "v >= 400", timeout=RECOVER_MS)
        wait_stat(page, "stat-loss", "v < 0.8", timeout=RECOVER_MS)
        yield page, log


def assert_settings_kept(page: Any) -> None:
    expect(page.get_by_test_id("stat-batch-size")).to_have_text("48")
    expect(page.get_by_test_id("stat-optimizer")).to_have_text("momentum")
    expect(page.get_by_test_id("batch-size")).to_have_value("48")
    expect(page.get_by_test_id("optimizer")).to_have_value("momentum")
    assert abs(number(page, "stat-lrate") - 0.07) < 1e-9


@pytest.mark.parametrize("how", ["terminate", "throw"])
def test_a_worker_that_dies_while_training_is_replaced_and_training_goes_on(lab: tuple[Any, Any], how: str) -> None:
    page, log = lab
    errors_before = len(log.console_errors)
    expect(page.get_by_test_id("train-state")).to_have_text("training")
    iteration = number(page, "stat-iteration")
    seen = kill(page, how)
    print(f"\n[{how} while training] the page said so after {seen['ms']:.0f} ms")
    assert seen["status"].startswith("restarting the training worker")
    assert "at most the last 10 s" in seen["text"]
    if how == "throw":
        assert "injected by the test" in seen["text"]
    expect(page.get_by_test_id("start")).to_be_disabled()
    expect(page.get_by_test_id("batch-size")).to_be_disabled()

    wait_recovered(page)
    expect(page.get_by_test_id("message")).to_contain_text("Training goes on")
    expect(page.get_by_test_id("train-state")).to_have_text("training")
    # The new worker trains the page's weights, not new random ones (their loss would be ~2.3).
    assert max(losses_after(page)) < 1.0
    # Counts go on from where the lost worker was.
    assert number(page, "stat-iteration") > iteration
    assert_settings_kept(page)
    assert log.console_errors[errors_before:] == []


def test_drawing_while_the_worker_restarts_keeps_ink_and_predictions(lab: tuple[Any, Any]) -> None:
    page, log = lab
    errors_before = len(log.console_errors)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    page.get_by_test_id("clear-1").click()
    before = wait_predictions_settle(page)

    seen = kill(page, "terminate")
    print(f"\n[terminate while idle] the page said so after {seen['ms']:.0f} ms")
    # Draw a 7 while no worker runs: the page's own Python predicts it with the newest weights.
    expect(page.get_by_test_id("status")).to_have_text(RESTARTING)
    draw(page, 1, [[(0.28, 0.22), (0.72, 0.22), (0.45, 0.82)]])
    expect(page.get_by_test_id("prediction-1")).to_have_text(ONE_DIGIT)
    expect(page.get_by_test_id("status")).to_have_text(RESTARTING)  # still no worker
    assert ink(page, 1) > 100
    drawn = predictions(page)[1]

    wait_recovered(page)
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    assert "Training goes on" not in page.get_by_test_id("message").text_content()
    after = wait_predictions_settle(page)
    # Identical weights: every test digit reads exactly as before, the drawing as while drawn.
    assert [p for i, p in enumerate(after) if i != 1] == [p for i, p in enumerate(before) if i != 1]
    assert after[1] == drawn
    assert ink(page, 1) > 100
    assert_settings_kept(page)
    expect(page.get_by_test_id("start")).to_be_enabled()
    assert log.console_errors[errors_before:] == []


def test_a_crash_loop_is_stopped_with_a_message_to_reload(
        page_factory: Callable[[], contextlib.AbstractContextManager], site_url: str,
        page_ready: Callable[..., None]) -> None:
    with page_factory() as (page, log):
        page.goto(site_url)
        page_ready(page, log)
        times = []
        for restart, how in enumerate(["terminate", "fatal", "throw"]):
            seen = kill(page, how)
            times.append(seen["ms"])
            if how == "fatal":
                assert "injected fatal error" in seen["text"]
            wait_recovered(page)
            expect(page.get_by_test_id("message")).to_contain_text(f"restart {restart + 1} of this page")
        last = kill(page, "terminate")
        times.append(last["ms"])
        shown = ", ".join(f"{t:.0f}" for t in times)
        print(f"\n[terminate, fatal, throw, terminate while idle] the page said so after {shown} ms")
        expect(page.get_by_test_id("message")).to_contain_text("reload the page")
        expect(page.get_by_test_id("status")).to_have_text("error: the training worker keeps stopping")
        page.wait_for_timeout(3000)
        assert page.evaluate("inklingBridge.worker") is None  # no fourth restart
        expect(page.get_by_test_id("start")).to_be_disabled()
        # The page itself still works: a drawing is read with the weights it holds.
        page.get_by_test_id("clear-2").click()
        draw(page, 2, [[(0.52, 0.18), (0.50, 0.82)]])
        expect(page.get_by_test_id("prediction-2")).not_to_have_text("")


def test_a_new_worker_that_cannot_start_is_retried(
        page_factory: Callable[[], contextlib.AbstractContextManager], site_url: str,
        page_ready: Callable[..., None]) -> None:
    with page_factory() as (page, log):
        page.goto(site_url)
        page_ready(page, log)
        before = wait_predictions_settle(page)
        failed: list[str] = []

        def wheel_missing_once(route: Any) -> None:
            if failed:
                route.continue_()
            else:
                failed.append(route.request.url)
                route.fulfill(status=404, body="gone")

        page.context.route("**/wheels/*.whl", wheel_missing_once)
        kill(page, "terminate")
        # The first new worker fails at its 'package' stage; the page says so and tries again.
        expect(page.get_by_test_id("message")).to_contain_text("a new one could not start", timeout=RECOVER_MS)
        expect(page.get_by_test_id("message")).to_contain_text("stage 'package'")
        wait_recovered(page)
        expect(page.get_by_test_id("message")).to_contain_text("restart 2 of this page")
        assert len(failed) == 1
        assert wait_predictions_settle(page) == before  # the weights the page held, nothing lost
        expect(page.get_by_test_id("start")).to_be_enabled()
