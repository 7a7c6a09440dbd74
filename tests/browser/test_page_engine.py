"""The engine in Chromium: training and predictions run on the WebAssembly kernel, or on numpy when told.

No speed is asserted (machines are shared); only which engine runs, and that training on it learns.
"""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote

from test_page import number, wait_stat

TRAIN_TIMEOUT_MS = 240_000


def _evaluate(page: Any) -> float:
    """Press Evaluate and wait for the new test accuracy (percent)."""
    shown = page.get_by_test_id("stat-test-acc").text_content()
    page.get_by_test_id("evaluate").click()
    page.wait_for_function(
        "shown => document.querySelector('[data-testid=\"stat-test-acc\"]').textContent !== shown",
        arg=shown, timeout=TRAIN_TIMEOUT_MS)
    return number(page, "stat-test-acc")


def _train_and_watch_it_learn(page: Any) -> None:
    """Evaluate the fresh network, train until the batch accuracy passes 90%, stop, evaluate again."""
    before = _evaluate(page)
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 300", timeout=TRAIN_TIMEOUT_MS)
    wait_stat(page, "stat-acc", "v >= 90", timeout=TRAIN_TIMEOUT_MS)
    page.get_by_test_id("stop").click()
    page.wait_for_function("() => document.querySelector('[data-testid=train-state]').textContent === 'idle'")
    after = _evaluate(page)
    # A fresh network guesses (about 10% right, loss near ln 10 = 2.3); a trained one reads the test digits.
    assert before < 30 < 85 < after, (before, after)
    assert number(page, "stat-loss") < 1.0


def _open(page: Any, site_url: str, query: str, page_ready: Callable[..., None], log: Any) -> None:
    page.goto(site_url + query)
    page_ready(page, log)


def _assert_learns_on(page: Any, engine: str, log: Any) -> None:
    """The worker and the grid run ``engine``; training on it learns, and the grid's predictions follow."""
    assert page.get_by_test_id("stat-engine").text_content() == engine  # the worker's, from its signals
    assert page.get_by_test_id("stat-page-engine").text_content() == engine  # the grid's predictions
    _train_and_watch_it_learn(page)
    assert page.get_by_test_id("stat-engine").text_content() == engine
    # The page predicted the grid's test digits with the new weights on its own kernel: mostly right now.
    page.wait_for_function("() => document.querySelectorAll('[data-testid^=card-].right').length >= 8",
                           timeout=30_000)
    assert not log.console_errors, log.summary()


def test_training_and_predictions_run_on_the_simd128_kernel_when_asked(
        page: Any, page_log: Any, site_url: str, page_ready: Callable[..., None]) -> None:
    _open(page, site_url, f"?engine={quote('wasm simd128')}", page_ready, page_log)
    assert page.get_by_test_id("message").text_content() == ""  # nothing was passed over
    _assert_learns_on(page, "wasm simd128", page_log)


def test_the_numpy_fallback_still_trains_and_says_so(page: Any, page_log: Any, site_url: str,
                                                     page_ready: Callable[..., None]) -> None:
    _open(page, site_url, "?engine=numpy", page_ready, page_log)
    assert page.get_by_test_id("stat-engine").text_content() == "numpy"
    assert page.get_by_test_id("stat-page-engine").text_content() == "numpy"
    _train_and_watch_it_learn(page)
    assert not page_log.console_errors, page_log.summary()


def test_an_unknown_engine_in_the_url_is_named_and_the_fastest_is_used(page: Any, page_log: Any, site_url: str,
                                                                       page_ready: Callable[..., None]) -> None:
    """The fastest here is the relaxed-SIMD kernel: what a page without ?engine= runs, which test_page.py
    trains to 95% on the test set (and checks it says nothing). Here: the worker and the grid run it."""
    _open(page, site_url, "?engine=gpu", page_ready, page_log)
    assert "unknown engine 'gpu'" in page.get_by_test_id("message").text_content()
    assert page.get_by_test_id("stat-engine").text_content() == "wasm relaxed-simd"
    assert page.get_by_test_id("stat-page-engine").text_content() == "wasm relaxed-simd"
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 100", timeout=TRAIN_TIMEOUT_MS)
    page.get_by_test_id("stop").click()
    assert page.get_by_test_id("stat-engine").text_content() == "wasm relaxed-simd"
    assert not page_log.console_errors, page_log.summary()
