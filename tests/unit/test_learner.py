"""The Learner: the network, its settings and one step; here, what a setting from the table means."""
from __future__ import annotations

import numpy as np
import pytest

from inkling.errors import ProtocolError, WeightsError
from inkling.network.mlp import MLP
from inkling.training.learner import Learner

RNG = np.random.default_rng(0)
X = RNG.random((64, 784), dtype=np.float32)
Y = RNG.integers(0, 10, 64)


def _train(learner: Learner, steps: int = 40) -> None:
    for _ in range(steps):
        assert learner.step(X, Y, epoch_size=10_000, remember=True) is None


def test_weight_decay_keeps_the_weights_smaller_and_still_learns() -> None:
    plain, decayed = Learner({"hidden": (32,), "lrate": 0.1}), Learner({"hidden": (32,), "lrate": 0.1})
    decayed.set("weight_decay", 0.05)
    _train(plain)
    _train(decayed)
    norm = [sum(float(np.square(w).sum()) for w in l.model.params[::2]) for l in (plain, decayed)]
    assert norm[1] < 0.95 * norm[0]
    assert decayed.loss is not None and decayed.loss < 1.0  # it still fits the batch
    assert decayed.settings_now()["weight_decay"] == 0.05


def test_no_weight_decay_is_exactly_the_plain_step() -> None:
    a, b = Learner({"hidden": (16,)}), Learner({"hidden": (16,), "weight_decay": 0.0})
    _train(a, 5)
    _train(b, 5)
    assert all(np.array_equal(x, y) for x, y in zip(a.model.params, b.model.params))


def test_settings_are_held_to_the_tables_rules() -> None:
    with pytest.raises(TypeError, match="momentum_beta"):
        Learner({"momentum_beta": 0.9})
    with pytest.raises(ProtocolError, match="weight_decay"):
        Learner({"weight_decay": 0.5})


def test_a_reset_starts_a_new_run_from_the_chosen_rate_and_seed() -> None:
    learner = Learner({"hidden": (16,), "lr_decay": 0.5})
    learner.step(X, Y, epoch_size=64, remember=True)  # one epoch: the rate halves
    assert learner.optimizer.lr == pytest.approx(0.025)
    assert learner.reset({"hidden": (8, 8), "seed": 3}) == 3
    assert (learner.optimizer.lr, learner.iteration, learner.model.sizes) == (0.05, 0, (784, 8, 8, 10))
    assert np.array_equal(learner.model.params[0], MLP((784, 8, 8, 10), seed=3).params[0])


def test_weights_for_other_data_are_refused_and_the_model_kept() -> None:
    learner = Learner({"hidden": (16,)})
    before = learner.model
    with pytest.raises(WeightsError, match="784 inputs"):
        learner.use_weights(MLP((100, 16, 10)).get_weights(), seed=None)
    assert learner.model is before
