"""The network being trained and how: its settings, its optimizer, one step, a new run, weights
from outside, and the last good weights a bad step goes back to.

The `Trainer` feeds it batches and commands and says what happens; this is where each setting of
the table (`inkling.messages.tunables`) gets its meaning.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Mapping

import numpy as np

from .augment import Augmenter
from ..errors import ProtocolError
from ..messages.confusion import Confusion
from ..messages.tunables import DEFAULTS, RUN, TUNABLES
from ..network.layers import HiddenLayer, hidden_problem
from ..network.mlp import StepResult
from ..network.models import Model, fresh_network, network_from_weights
from ..network.optim import make_optimizer
from .safeguard import DIVERGED_LOSS, GoodWeights, teach

MIN_LRATE = 1e-6  # per-epoch decay stops here, so the rate never reaches 0


class Learner:
    """A network (an MLP or a convnet), the settings it trains with and where its run stands.

    Args:
        settings: Settings of the table by field (``batch_size=64``, ``hidden=(128,)``, ``seed=3``,
            ...); the others take the table's defaults.

    Raises:
        TypeError: A setting the table does not have.
        ProtocolError: A setting's value breaks its rule, or the network would not fit in memory
            at the batch size.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"settings the table does not have: {', '.join(unknown)}")
        # Every setting as last chosen (the reset's seed, the base rate before decay, ...).
        self.settings = SimpleNamespace(**{t.field: t.check(t.field, settings.get(t.field, t.default))
                                           for t in TUNABLES})
        self.run_seed: int | None = self.settings.seed  # what made the weights in use: None for weights from outside
        _check_fits(self.settings.hidden, self.settings.batch_size, "hidden")
        self.model = self._new_model(self.settings.seed)
        self.optimizer = make_optimizer(self.settings.optimizer, self.settings.lrate)
        self._augmenter = Augmenter(self.settings.seed)
        self._good = GoodWeights(self.model)
        self.iteration = 0
        self.samples_seen = 0
        self.loss: float | None = None
        self.acc: float | None = None
        self.confusion: Confusion | None = None  # of the last evaluation of these weights
        self.test_acc: float | None = None
        # How a step gets its loss and gradients: the model itself, or a group of workers
        # (`inkling.training.data_parallel`) whose result is the same up to float summation order.
        self.gradients: Callable[[Model, np.ndarray, np.ndarray], StepResult] = _own_gradients

    def set(self, field: str, value: Any) -> None:
        """Apply a live setting at once, keeping it (the cache's size is the Trainer's to apply).

        Raises:
            ProtocolError: A batch size at which the network would not fit in memory; nothing changes.
        """
        if field == "batch_size":
            _check_fits(self.model.hidden, value, field)
        if field == "lrate":
            self.optimizer.lr = value  # and per-epoch decay starts again from it
        elif field == "optimizer":
            self.optimizer = make_optimizer(value, self.optimizer.lr)  # its state starts fresh
        setattr(self.settings, field, value)

    def reset(self, changes: Mapping[str, Any]) -> int:
        """A new run from the run settings (`tunables.RUN`) with ``changes``: new weights from its seed,
        the distortions from it too, the rate back to the one chosen. Returns the seed.

        Raises:
            ProtocolError: The network would not fit in memory at the batch size; nothing changes.
        """
        if changes.get("hidden") is not None:
            _check_fits(changes["hidden"], self.settings.batch_size, "hidden")
        for setting in RUN:
            if changes.get(setting.field) is not None:
                setattr(self.settings, setting.field, changes[setting.field])
        seed = self.run_seed = self.settings.seed
        self._use_model(self._new_model(seed))
        self._augmenter = Augmenter(seed)
        self.optimizer.lr = self.settings.lrate
        self.iteration = self.samples_seen = 0
        self.loss = self.acc = None
        return seed

    def use_weights(self, weights: dict[str, np.ndarray], seed: int | None,
                    hidden: tuple[HiddenLayer, ...] | None = None) -> None:
        """Train these weights from now on (``seed``: of the run that made them, if known; ``hidden``:
        their layers, which an MLP's weights may leave out).

        Raises:
            WeightsError: They do not fit their layers, or the layers break the limits.
            ProtocolError: Their network would not fit in memory at the batch size.
        """
        model = network_from_weights(weights, hidden)
        _check_fits(model.hidden, self.settings.batch_size, "weights")
        self._use_model(model)
        self.settings.hidden = model.hidden
        self.run_seed = seed

    def step(self, x: np.ndarray, y: np.ndarray, epoch_size: int, remember: bool) -> float | None:
        """One optimizer step on a batch (distorted first if augmentation is on); the rate decays
        when an epoch of ``epoch_size`` samples ends. With ``remember``, the weights before it are
        the good ones a later divergence goes back to.

        Returns:
            None, or the loss that diverged: then no step was taken, the last good weights are back
            and the optimizer's state starts fresh.
        """
        if self.settings.augment:
            x = self._augmenter(x)
        result = self.gradients(self.model, x, y)
        if not result.loss <= DIVERGED_LOSS:  # also catches NaN
            self._good.restore()
            self.optimizer = make_optimizer(self.optimizer.name, self.optimizer.lr)  # its state is poisoned
            return result.loss
        if remember:
            self._good.remember()
        if self.settings.weight_decay:
            # L2 on the weight matrices (not the biases), added to their gradients: every optimizer
            # then pulls the weights towards 0. The loss reported stays the data's own.
            for w, g in zip(self.model.params[::2], result.grads[::2]):
                g += self.settings.weight_decay * w
        self.optimizer.step(self.model.params, result.grads)
        epoch_before = self.samples_seen // epoch_size
        self.iteration += 1
        self.samples_seen += len(y)
        self.loss, self.acc = result.loss, result.acc
        if self.samples_seen // epoch_size > epoch_before:
            lr = self.optimizer.lr
            self.optimizer.lr = max(lr * self.settings.lr_decay, min(lr, MIN_LRATE))
        return None

    def teach(self, pixels: np.ndarray, label: int) -> None:
        """A few small steps on one labelled drawing (`safeguard.teach`)."""
        teach(self._good, pixels, label)

    def evaluated(self, confusion: Confusion) -> None:
        """Keep the result of an evaluation of the weights in use."""
        self.confusion = confusion
        self.test_acc = confusion.accuracy()

    def settings_now(self) -> dict[str, Any]:
        """Every setting as it is in use now: the rate after decay, the network's layers, the seed
        of the weights in use (None when they came from outside)."""
        return {**vars(self.settings), "lrate": self.optimizer.lr, "optimizer": self.optimizer.name,
                "hidden": self.model.hidden, "seed": self.run_seed}

    def _new_model(self, seed: int) -> Model:
        """Fresh weights from ``seed`` for the hidden layers the settings name."""
        return fresh_network(self.settings.hidden, seed)

    def _use_model(self, model: Model) -> None:
        """Swap in a new model: fresh optimizer state, no test accuracy yet."""
        self.model = model
        self.optimizer = make_optimizer(self.optimizer.name, self.optimizer.lr)
        self.test_acc = None
        self.confusion = None
        self._good = GoodWeights(model)


def _own_gradients(model: Model, x: np.ndarray, y: np.ndarray) -> StepResult:
    """One worker's step: the model's own loss and gradients over the whole batch."""
    return model.loss_and_grads(x, y)


def _check_fits(hidden: tuple[HiddenLayer, ...], batch_size: int, field: str) -> None:
    """Refuse, naming ``field``, a network that would not fit in memory at ``batch_size``."""
    problem = hidden_problem(hidden, batch_size)
    if problem is not None:
        raise ProtocolError(field, problem)
