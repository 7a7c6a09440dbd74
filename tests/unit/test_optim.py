"""Optimizers: each update rule against a hand computation, and each one learns."""

from __future__ import annotations

import numpy as np
import pytest

from inkling.network.mlp import MLP
from inkling.network.optim import OPTIMIZERS, SGD, Adam, Momentum, make_optimizer


def test_sgd_steps_down_the_gradient() -> None:
    p = [np.array([1.0, -2.0], np.float32)]
    SGD(0.5).step(p, [np.array([2.0, 4.0], np.float32)])
    np.testing.assert_allclose(p[0], [0.0, -4.0])


def test_momentum_accumulates_velocity() -> None:
    p = [np.zeros(1, np.float32)]
    opt = Momentum(0.1, momentum=0.9)
    opt.step(p, [np.ones(1, np.float32)])  # v = 1
    opt.step(p, [np.ones(1, np.float32)])  # v = 0.9 + 1
    np.testing.assert_allclose(p[0], [-(0.1 * 1 + 0.1 * 1.9)], rtol=1e-6)


def test_adam_matches_the_textbook_rule() -> None:
    rng = np.random.default_rng(0)
    p = [rng.normal(size=5)]
    mine = [p[0].copy()]
    m = v = np.zeros(5)
    opt = Adam(0.01)
    for t in range(1, 6):
        g = rng.normal(size=5)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p[0] -= 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        opt.step(mine, [g.copy()])
    np.testing.assert_allclose(mine[0], p[0], rtol=1e-10)


@pytest.mark.parametrize("name, lr", [("sgd", 0.5), ("momentum", 0.1), ("adam", 0.01)])
def test_each_optimizer_lowers_the_loss_and_keeps_float32(name: str, lr: float) -> None:
    rng = np.random.default_rng(1)
    x = rng.random((64, 30), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    x[np.arange(64), y] += 1
    model, opt = MLP((30, 16, 3), seed=0), make_optimizer(name, lr)
    start = model.loss_and_grads(x, y).loss
    for _ in range(50):
        opt.step(model.params, model.loss_and_grads(x, y).grads)
    assert model.loss_and_grads(x, y).loss < start / 3
    assert opt.name == name and all(q.dtype == np.float32 for q in model.params)


def test_make_optimizer_names_the_choices() -> None:
    assert OPTIMIZERS == ("sgd", "momentum", "adam")
    with pytest.raises(ValueError, match="sgd, momentum, adam"):
        make_optimizer("rmsprop", 0.1)
