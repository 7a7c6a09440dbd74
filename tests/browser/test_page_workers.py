"""Training on several workers: with ``workers`` at 2 the page trains through a helper that computes
half of every batch in shared memory, to the same weights as one worker (up to float summation
order), bit for bit the same twice from one seed; a helper killed mid-training costs nothing."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import expect

from test_faults_persistence import exported_weights
from test_faults_worker import wait_recovered
from test_page import number, wait_stat

WAIT_MS = 90_000
# Large enough a step to share (234 MFLOP: two shares of 100+), quick enough that an epoch (79 steps) runs
# three times.
RUN = "hidden-size=64&batch-size=768&lr-decay=1"
SEED = "11"


def _leader(page: Any) -> Any:
    """The training worker (the page's own; its helpers carry role=helper)."""
    return next(w for w in page.workers if "worker.js" in w.url and "role=helper" not in w.url)


def _helper_joined(page: Any) -> None:
    """Train until a helper computes shares of the steps, then stop."""
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("stat-workers-training")).to_have_text("2", timeout=WAIT_MS)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=WAIT_MS)


def _epoch_from_seed(page: Any, tmp_path: Path) -> dict[str, np.ndarray]:
    page.get_by_test_id("seed").fill(SEED)
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("stat-iteration")).to_have_text("0", timeout=WAIT_MS)
    page.get_by_test_id("train-epoch").click()
    wait_stat(page, "stat-samples-seen", "v >= 60000", timeout=WAIT_MS)
    expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=WAIT_MS)
    return exported_weights(page, tmp_path)


def test_two_workers_train_one_workers_weights_the_same_twice_and_survive_losing_one(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str, tmp_path: Path) -> None:
    with page_factory() as (page, log):
        page.goto(f"{site_url}?workers=2&{RUN}")
        page_ready(page, log)
        assert page.evaluate("crossOriginIsolated") is True  # build.py serve sends COOP/COEP
        expect(page.get_by_test_id("stat-workers")).to_have_text("2", timeout=WAIT_MS)
        _helper_joined(page)
        assert len(page.workers) == 2  # the training worker and its helper

        shared = [_epoch_from_seed(page, tmp_path / f"two-{run}") for run in range(2)]
        expect(page.get_by_test_id("stat-workers-training")).to_have_text("2")  # the helper took part
        assert float(page.get_by_test_id("stat-barrier-ms").text_content()) >= 0
        for name in shared[0]:  # the same seed and worker count: the same bits
            assert np.array_equal(shared[0][name], shared[1][name]), f"{name} differs between two runs"

        page.get_by_test_id("workers").fill("1")
        page.get_by_test_id("workers").press("Enter")
        expect(page.get_by_test_id("stat-workers")).to_have_text("1", timeout=WAIT_MS)
        alone = _epoch_from_seed(page, tmp_path / "one")
        expect(page.get_by_test_id("stat-workers-training")).to_have_text("1")
        for name in alone:  # one worker's weights, up to float summation order
            np.testing.assert_allclose(shared[0][name], alone[name], rtol=1e-3, atol=2e-4, err_msg=name)

        # Two again; a helper killed while training: its shares are computed by the leader meanwhile,
        # nothing is lost, it is said once, and a new helper takes its place.
        page.get_by_test_id("workers").fill("2")
        page.get_by_test_id("workers").press("Enter")
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("stat-workers-training")).to_have_text("2", timeout=WAIT_MS)
        before = number(page, "stat-iteration")
        _leader(page).evaluate("self.inklingHelpers.at(-1).terminate()")
        expect(page.get_by_test_id("stat-workers-note")).to_contain_text(
            "worker 2 stopped", timeout=WAIT_MS)
        expect(page.get_by_test_id("stat-workers-note")).to_contain_text("nothing was lost")
        wait_stat(page, "stat-iteration", f"v >= {before + 200}", timeout=WAIT_MS)
        expect(page.get_by_test_id("train-state")).to_have_text("training")
        expect(page.get_by_test_id("stat-workers-training")).to_have_text("2", timeout=WAIT_MS)  # replaced
        assert number(page, "stat-loss") < 2.0

        # A step too small to share (784-64-10 at batch 32) is one worker's: said, not slower.
        page.get_by_test_id("batch-size").fill("32")
        page.get_by_test_id("batch-size").press("Enter")
        expect(page.get_by_test_id("stat-workers-training")).to_have_text("1", timeout=WAIT_MS)
        expect(page.get_by_test_id("stat-workers-note")).to_contain_text("1 of 2 workers share each step")

        # The training worker itself lost: its successor shares its steps with as many workers as asked
        # (here more than this machine's default), and goes on training.
        page.evaluate("inklingBridge.worker.terminate()")
        wait_recovered(page)
        expect(page.get_by_test_id("stat-workers")).to_have_text("2", timeout=WAIT_MS)
        expect(page.get_by_test_id("train-state")).to_have_text("training", timeout=WAIT_MS)
        page.get_by_test_id("stop").click()
        expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=WAIT_MS)
        assert log.console_errors == [], log.summary()
