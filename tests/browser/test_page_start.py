"""Start-up: the grid draws and predicts as soon as the page's own runtime is up, while the training
worker still loads; Start waits for the worker, which starts from the very network the page showed."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from test_page import DIGITS, ONE_DIGIT, draw, predictions

BOOT_MS = 120_000  # hang guard: two runtimes on two busy cores


def test_the_grid_draws_and_predicts_while_the_worker_still_loads(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str) -> None:
    with page_factory() as (page, log):
        page.set_viewport_size({"width": 1400, "height": 1000})  # every tile in view, as test_page's
        held: list[Any] = []
        released = False

        def hold(route: Any) -> None:
            if released:
                route.continue_()
            else:
                held.append(route)

        # The worker's training blocks are held back, so the worker stays loading at its first one;
        # the page's test digits come from test blocks, which pass.
        page.context.route("**/data/train-*", hold)
        page.goto(site_url)
        expect(page.get_by_test_id("loading")).to_be_hidden(timeout=BOOT_MS)
        expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^grid ready · worker: "))
        for i in range(8):
            expect(page.get_by_test_id(f"prediction-{i}")).to_have_text(ONE_DIGIT)
        draw(page, 9, DIGITS["7"])
        expect(page.get_by_test_id("prediction-9")).to_have_text(ONE_DIGIT)
        expect(page.get_by_test_id("start")).to_be_disabled()
        expect(page.get_by_test_id("batch-size")).to_be_disabled()
        # The grid can be done before the worker (started once the page's runtime is up) asks for data.
        for _ in range(BOOT_MS // 100):
            if held:
                break
            page.wait_for_timeout(100)  # Playwright hands the held requests to `hold` while it waits
        assert held, "the worker never asked for its first block"
        expect(page.get_by_test_id("start")).to_be_disabled()  # still loading, at its first block
        shown = predictions(page)

        released = True
        for route in held:
            route.continue_()
        page_ready(page, log)
        expect(page.get_by_test_id("start")).to_be_enabled()
        # Nothing was saved in this browser: the page predicted with the untrained network the worker
        # starts from, so the worker's first weights change no prediction.
        page.wait_for_timeout(500)
        assert predictions(page) == shown
        assert log.console_errors == [], log.summary()
