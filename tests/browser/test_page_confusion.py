"""The confusion matrix: every test digit counted by true and read digit, in agreement with the
accuracy shown; a count, clicked, puts those very digits in the grid."""
from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from test_page import wait_stat

CLASSES, TILES = 10, 12

READ_MATRIX = """() => [...Array(10).keys()].map(r => [...Array(10).keys()].map(c =>
    document.querySelector(`[data-testid=confusion-${r}-${c}]`).textContent))"""


def test_the_matrix_counts_every_test_digit_and_a_click_shows_that_pairs_digits(ready_page: Any) -> None:
    page = ready_page
    card = page.locator("#confusion")
    expect(card).to_have_attribute("data-empty", "")
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 200", timeout=120_000)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    page.get_by_test_id("evaluate").click()
    expect(page.get_by_test_id("message")).to_contain_text("Test accuracy", timeout=120_000)
    expect(card).not_to_have_attribute("data-empty", "")

    counts = [[int(n) for n in row] for row in page.evaluate(READ_MATRIX)]
    assert sum(map(sum, counts)) == 10_000
    right = sum(counts[r][r] for r in range(CLASSES))
    expect(page.get_by_test_id("stat-test-acc")).to_have_text(f"{100 * right / 10_000:.2f}%")
    for r in range(CLASSES):
        expect(page.get_by_test_id(f"class-acc-{r}")).to_have_text(f"{100 * counts[r][r] / sum(counts[r]):.1f}%")

    # The pair the network confuses most: its digits fill the grid, each labelled r and read as c.
    true, read = max(((r, c) for r in range(CLASSES) for c in range(CLASSES) if r != c),
                     key=lambda pair: counts[pair[0]][pair[1]])
    shown = min(TILES, counts[true][read])
    assert shown > 0, counts
    page.get_by_test_id(f"confusion-{true}-{read}").click()
    expect(page.get_by_test_id("message")).to_contain_text(
        f"{shown} of the {counts[true][read]:,} test digits that are {true}, read as {read}")
    for i in range(TILES):
        if i < shown:
            expect(page.get_by_test_id(f"truth-{i}")).to_contain_text(f"label {true}")
            expect(page.get_by_test_id(f"prediction-{i}")).to_have_text(str(read))
            expect(page.get_by_test_id(f"card-{i}")).to_have_class("cell wrong")
        else:
            expect(page.get_by_test_id(f"prediction-{i}")).to_have_text("")
    # A count of zero has nothing to show.
    zero = next(((r, c) for r in range(CLASSES) for c in range(CLASSES) if counts[r][c] == 0), None)
    if zero is not None:
        expect(page.get_by_test_id(f"confusion-{zero[0]}-{zero[1]}")).to_be_disabled()

    # New weights were never evaluated: the matrix goes, until the next Evaluate.
    page.get_by_test_id("reset").click()
    expect(card).to_have_attribute("data-empty", "")
    expect(page.get_by_test_id("stat-test-acc")).to_have_text("–")
