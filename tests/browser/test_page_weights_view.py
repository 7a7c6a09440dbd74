"""The first layer's weights as pictures: one tile per hidden unit, changing while the network trains."""
from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from test_page import set_setting

PICTURE = "() => document.querySelector('[data-testid=weights-view]').toDataURL()"


def test_the_weights_view_shows_every_unit_and_changes_while_training(ready_page: Any) -> None:
    page = ready_page
    view = page.get_by_test_id("weights-view")
    expect(view).to_have_attribute("data-units", "256")
    assert view.evaluate("c => [c.width, c.height]") == [23 * 29 - 1, 12 * 29 - 1]  # 276 places for 256
    before = page.evaluate(PICTURE)
    page.get_by_test_id("start").click()
    page.wait_for_function(f"before => ({PICTURE})() !== before", arg=before, timeout=60_000, polling=500)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    # Another network, another picture: 32 units.
    set_setting(page, "hidden-size", "32")
    page.get_by_test_id("reset").click()
    expect(view).to_have_attribute("data-units", "32")
    assert view.evaluate("c => [c.width, c.height]") == [8 * 29 - 1, 4 * 29 - 1]
