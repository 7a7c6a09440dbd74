"""Seeds: Reset starts a run from the seed typed (weights and data order), so two tabs with the
same seed and settings train the very same weights; with no seed typed, Reset draws one and shows it."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import expect
from test_faults_persistence import exported_weights
from test_page import wait_stat

SEED = "20261130"
# A small network at a large batch: an epoch takes a second or two, and what a seed fixes is the same.
RUN = "?hidden-size=32&batch-size=250"


def _one_epoch_from_seed(page: Any, tmp_path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The weights right after Reset to `SEED`, and after one epoch from there."""
    page.get_by_test_id("seed").fill(SEED)
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("stat-seed")).to_have_text(SEED)
    expect(page.get_by_test_id("stat-iteration")).to_have_text("0")
    first = exported_weights(page, tmp_path / "first")
    page.get_by_test_id("train-epoch").click()
    wait_stat(page, "stat-samples-seen", "v >= 60000", timeout=180_000)
    expect(page.get_by_test_id("train-state")).to_have_text("idle")  # it stopped by itself
    return first, exported_weights(page, tmp_path / "trained")


def test_two_tabs_with_the_same_seed_train_the_same_weights_no_seed_draws_one_and_a_bad_one_is_refused(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str, tmp_path: Path) -> None:
    runs = []
    for tab in range(2):  # one after the other: two at once would only share the two cores
        with page_factory() as (page, log):
            page.goto(site_url + RUN)
            page_ready(page, log)
            expect(page.get_by_test_id("stat-hidden")).to_have_text("32")
            if tab == 1:  # this tab trains a while on its start-up seed before it resets
                page.get_by_test_id("start").click()
                wait_stat(page, "stat-iteration", "v >= 300")
                page.get_by_test_id("stop").click()
                expect(page.get_by_test_id("train-state")).to_have_text("idle")
            runs.append(_one_epoch_from_seed(page, tmp_path / str(tab)))
            samples = page.get_by_test_id("stat-samples-seen").text_content()
            assert int(samples) == 60_000 + (-60_000 % int(page.get_by_test_id("stat-batch-size").text_content()))

            # Reset with the seed field emptied: a random seed, shown, and other weights.
            page.get_by_test_id("seed").fill("")
            page.get_by_test_id("reset").click()
            expect(page.get_by_test_id("message")).to_contain_text("drawn at random")
            drawn = re.search(r"seed (\d+)", page.get_by_test_id("message").text_content()).group(1)
            expect(page.get_by_test_id("stat-seed")).to_have_text(drawn)
            assert drawn != SEED
            if tab == 1:  # a bad seed is refused by name, and nothing is reset
                _a_bad_seed_is_refused_and_nothing_is_reset(page)
    (start, first), (start_again, second) = runs
    for name in start:
        assert np.array_equal(start[name], start_again[name]), f"{name}: seed {SEED} starts from other weights"
        assert np.array_equal(first[name], second[name]), f"{name} differs between two epochs from seed {SEED}"
        assert not np.array_equal(start[name], first[name]), f"{name}: the epoch did not train"


def _a_bad_seed_is_refused_and_nothing_is_reset(page: Any) -> None:
    before = page.get_by_test_id("stat-seed").text_content()
    page.get_by_test_id("seed").fill("-4")
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("seed")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("message")).to_contain_text("Seed")
    expect(page.get_by_test_id("stat-seed")).to_have_text(before)
