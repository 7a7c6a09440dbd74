"""While training, the test accuracy, its curve and the confusion matrix refresh by themselves
(nobody presses Evaluate), and training goes on meanwhile."""
from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from test_page import number
from test_page_confusion import READ_MATRIX

WAIT_MS = 120_000
PERCENT = re.compile(r"\d+\.\d\d%")


def test_the_test_accuracy_and_matrix_refresh_while_training(ready_page: Any) -> None:
    page = ready_page
    expect(page.get_by_test_id("stat-test-acc")).to_have_text("–")
    page.get_by_test_id("start").click()
    expect(page.locator("#confusion")).not_to_have_attribute("data-empty", "", timeout=WAIT_MS)
    expect(page.get_by_test_id("stat-test-acc")).to_have_text(PERCENT)
    first, iteration = page.evaluate(READ_MATRIX), number(page, "stat-iteration")
    assert sum(int(n) for row in first for n in row) == 10_000
    # Another refresh, of weights trained further: other counts (the network keeps learning).
    page.wait_for_function(f"before => JSON.stringify(({READ_MATRIX})()) !== JSON.stringify(before)",
                           arg=first, timeout=WAIT_MS)
    assert number(page, "stat-iteration") > iteration
    assert page.get_by_test_id("train-state").text_content() == "training"
    # The accuracy chart's test curve has points: its last series counts values.
    page.wait_for_function(
        "() => Number((document.querySelector('[data-testid=chart-acc]').dataset.values || '0').split(',').pop()) > 0",
        timeout=WAIT_MS)
    page.get_by_test_id("stop").click()
