"""Data-parallel steps: a batch in fixed shares computed by helpers on a shared board gives one
worker's result on the whole batch; the same shares give the same bits whoever computes them; a
helper that stops answering costs its share's time, never the step."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from inkling.network.layers import parse_hidden
from inkling.network.models import fresh_network
from inkling.training import data_parallel as dp
from inkling.network.layers import step_flops_per_sample
from inkling.training.data_parallel import SharedStep, combine, layout_for, serve_steps, share_count, shares
from inkling.training.learner import Learner
from thread_board import ThreadBoard

RNG = np.random.default_rng(3)
X = RNG.random((96, 784), dtype=np.float32)
Y = RNG.integers(0, 10, 96)


def test_shares_cover_the_batch_in_order_larger_first() -> None:
    assert shares(10, 3) == [slice(0, 4), slice(4, 7), slice(7, 10)]
    assert shares(2, 3) == [slice(0, 1), slice(1, 2), slice(2, 2)]
    for n in (1, 7, 64, 4096):
        for parts in (1, 2, 5, 16):
            cut = shares(n, parts)
            assert cut[0].start == 0 and cut[-1].stop == n and len(cut) == parts
            assert all(a.stop == b.start for a, b in zip(cut, cut[1:]))


@pytest.mark.parametrize("hidden", ["64", "c4:5,p2,32"])
def test_combined_shares_equal_the_whole_batch(hidden: str) -> None:
    model = fresh_network(parse_hidden(hidden), 1)
    whole = model.loss_and_grads(X, Y)
    cut = shares(len(Y), 3)
    parts = combine([model.loss_and_grads(X[c], Y[c]) for c in cut], [c.stop - c.start for c in cut])
    assert parts.loss == pytest.approx(whole.loss, rel=1e-5)
    assert parts.acc == pytest.approx(whole.acc)
    for a, b in zip(parts.grads, whole.grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


class _Group:
    """A leader's step and ``helpers`` threads on one board."""

    def __init__(self, hidden: str, helpers: int, batch: int = len(Y)) -> None:
        self.model = fresh_network(parse_hidden(hidden), 1)
        self.layout = layout_for(self.model, batch, helpers)
        self.board = ThreadBoard(self.layout)
        self.step = SharedStep(self.board, self.layout)
        self.served = [0] * helpers
        self.threads = [threading.Thread(target=self._serve, args=(slot, hidden), daemon=True)
                        for slot in range(helpers)]
        for thread in self.threads:
            thread.start()

    def _serve(self, slot: int, hidden: str) -> None:
        self.served[slot] = serve_steps(self.board, self.layout, slot, fresh_network(parse_hidden(hidden), 9),
                                        poll_s=0.05)

    def close(self) -> None:
        self.step.quit()
        for thread in self.threads:
            thread.join(5)
            assert not thread.is_alive()


def test_helpers_compute_their_shares_bit_for_bit_as_the_leader_would() -> None:
    group = _Group("64", helpers=2)
    try:
        shared, lost = group.step(group.model, X, Y, parts=3, helpers=[0, 1])
        alone, _ = group.step(group.model, X, Y, parts=3, helpers=[])  # the same shares, all computed here
    finally:
        group.close()
    assert lost == [] and group.served == [1, 1]
    assert shared.loss == alone.loss
    for a, b in zip(shared.grads, alone.grads):
        assert np.array_equal(a, b)
    whole = group.model.loss_and_grads(X, Y)
    for a, b in zip(shared.grads, whole.grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_learner_trains_the_same_weights_through_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    alone, grouped = Learner({"hidden": (32,), "seed": 5}), Learner({"hidden": (32,), "seed": 5})
    group = _Group("32", helpers=1)
    grouped.gradients = lambda model, x, y: group.step(model, x, y, parts=2, helpers=[0])[0]
    try:
        for _ in range(20):
            assert alone.step(X, Y, 10_000, True) is None
            assert grouped.step(X, Y, 10_000, True) is None
    finally:
        group.close()
    assert group.served == [20]
    assert grouped.loss < 1.5
    for a, b in zip(alone.model.params, grouped.model.params):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_a_helper_that_stops_answering_costs_time_not_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dp, "MIN_PATIENCE_S", 0.2)
    group = _Group("64", helpers=2)
    try:
        expected, _ = group.step(group.model, X, Y, parts=3, helpers=[])
        group.step.quit()  # both helpers leave the board, as a dead one would stop answering
        for thread in group.threads:
            thread.join(5)
        group.board.store(dp.QUIT, 0)
        result, lost = group.step(group.model, X, Y, parts=3, helpers=[0, 1])
    finally:
        group.close()
    assert lost == [0, 1]
    assert group.step.wait_s >= 0.2
    for a, b in zip(result.grads, expected.grads):
        assert np.array_equal(a, b)


def test_a_step_is_cut_into_shares_worth_handing_out_the_same_every_time() -> None:
    mlp, convnet = (step_flops_per_sample(parse_hidden(h)) for h in ("128", "c16:5,p2,c32:5,p2,128"))
    assert mlp == 6 * (784 * 128 + 128 * 10)
    assert [share_count(mlp, batch, 2) for batch in (32, 64, 256, 512)] == [1, 1, 1, 2]  # small steps: one worker
    assert share_count(mlp, 4096, 16) == 16
    assert share_count(convnet, 32, 2) == 2 and share_count(convnet, 64, 16) == 4  # no share too small
    assert share_count(convnet, 32, 1) == 1
    assert share_count(10**9, 3, 16) == 3  # never an empty share
