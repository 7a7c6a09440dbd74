"""Served over plain http under a name other than localhost (as on a LAN), the page is not a secure
context: no Web Locks (and no WebCrypto). A worker that dies must still be noticed and replaced.

The browser maps the test host name to the site's 127.0.0.1 server (conftest's CHROMIUM_ARGS).
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from test_faults_worker import RECOVER_MS, training_worker, wait_recovered
from test_page import number, wait_stat


def _train_then_kill(page: Any, log: Any, url: str, page_ready: Callable[..., None],
                     how: str) -> tuple[float, float]:
    """Open the page without Web Locks, train a little, stop, and kill its worker ``how``; the iteration
    shown and when the worker was killed."""
    page.goto(url + ("?workers=2" if how == "terminate" else ""))
    page_ready(page, log)
    assert page.evaluate("[isSecureContext, typeof navigator.locks]") == [False, "undefined"]
    if how == "terminate":  # not isolated either: workers cannot share memory, one trains and says why
        assert page.evaluate("crossOriginIsolated") is False
        expect(page.get_by_test_id("stat-workers")).to_have_text("2")
        expect(page.get_by_test_id("stat-workers-note")).to_contain_text("not cross-origin isolated")
    expect(page.get_by_test_id("message")).to_contain_text(
        "noticed only when it leaves a status request unanswered for 20 s")
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 100", timeout=RECOVER_MS)
    expect(page.get_by_test_id("stat-workers-training")).to_have_text("1")
    assert len(page.workers) == 1
    page.get_by_test_id("stop").click()  # idle: no signals flow, so only the status request can tell
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    iteration = number(page, "stat-iteration")
    started = time.monotonic()
    if how == "terminate":
        page.evaluate("inklingBridge.worker.terminate()")
    else:
        training_worker(page).evaluate("setTimeout(() => { throw new Error('injected by the test') })")
    return iteration, started


def _noticed_and_replaced(page: Any, log: Any, how: str, iteration: float, started: float) -> None:
    expect(page.get_by_test_id("message")).to_contain_text("The training worker stopped", timeout=RECOVER_MS)
    noticed_s = time.monotonic() - started
    print(f"\n[{how}, no Web Locks] the page said so after {noticed_s:.1f} s")  # measured, not asserted
    shown = page.get_by_test_id("message").text_content()
    assert ("it stopped answering" if how == "terminate" else "injected by the test") in shown, shown
    wait_recovered(page)
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", f"v >= {iteration + 100}", timeout=RECOVER_MS)  # counts go on
    assert log.console_errors == []


def test_without_web_locks_a_dead_worker_is_still_noticed_and_replaced(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        insecure_site_url: str) -> None:
    """Served over plain http under a name other than localhost (as on a LAN), the page has no Web
    Locks: a worker that dies with an error is caught by its error event, one killed silently by a
    status request it leaves unanswered (20 s later; a second tab checks the first case meanwhile)."""
    with page_factory() as (silent, silent_log), page_factory() as (loud, loud_log):
        killed = _train_then_kill(silent, silent_log, insecure_site_url, page_ready, "terminate")
        _noticed_and_replaced(loud, loud_log, "throw", *_train_then_kill(loud, loud_log, insecure_site_url,
                                                                        page_ready, "throw"))
        loud.close()
        _noticed_and_replaced(silent, silent_log, "terminate", *killed)
