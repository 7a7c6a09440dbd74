"""Predictions on the main thread with the newest weights the worker sent."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..errors import InklingError
from ..messages.tunables import DEFAULTS
from ..network.layers import HiddenLayer
from ..network.models import Model, fresh_network, network_from_weights
from ..network.responses import first_layer_response
from ..network.weights_io import NetworkWeights


class Predictor:
    """Classifies cells' inputs with the newest weights.

    ``version`` grows with every new set of weights, so cells know when their
    prediction is stale.
    """

    def __init__(self) -> None:
        self._model: Model | None = None
        self.version = 0

    @property
    def ready(self) -> bool:
        """True once weights have arrived."""
        return self._model is not None

    @property
    def hidden(self) -> tuple[HiddenLayer, ...] | None:
        """The hidden layers of the current weights, if any."""
        return None if self._model is None else self._model.hidden

    def set_weights(self, weights: Mapping[str, np.ndarray], hidden: tuple[HiddenLayer, ...] | None = None) -> None:
        """Use these weights (of layers ``hidden``; an MLP's may leave them out) from now on.

        Raises:
            WeightsError: They do not make a network; the old weights stay.
        """
        self._model = network_from_weights(weights, hidden)
        self.version += 1

    def start_with(self, saved: NetworkWeights | None) -> None:
        """Weights to predict with before the worker sends any: the ones saved in this browser, else (or
        if they do not make a network: the worker will say so) the default network's first weights,
        which are the worker's own first weights."""
        if saved is not None:
            try:
                self.set_weights(*saved)
                return
            except InklingError:
                pass
        self._model = fresh_network(DEFAULTS["hidden"], DEFAULTS["seed"])
        self.version += 1

    def use_signal_weights(self, weights: Mapping[str, np.ndarray], hidden: tuple[HiddenLayer, ...]) -> None:
        """Use weights that `decode_signal` already checked (float32, finite, W1 b1 W2 b2 ...) of the
        network ``hidden`` the same signal reports.

        Called up to 2.5 times a second while training, so it skips what `set_weights`
        would repeat: same shapes replace the arrays as they are, no copy, no new model.
        """
        model = self._model
        if model is not None and model.hidden == tuple(hidden) and list(weights) == model.names and all(
                weights[name].shape == p.shape and weights[name].dtype == p.dtype
                for name, p in zip(model.names, model.params)):
            model.params = [weights[name] for name in model.names]
            self.version += 1
        else:
            self.set_weights(weights, hidden)

    def first_layer(self) -> tuple[np.ndarray, int] | None:
        """The first layer's weights as pictures: ``(side * side, units)`` and the side, or None before
        any arrived. A dense layer's units see the whole image (28x28, or 14x14 after a pooling); a
        convolution's filters are k x k (the image has one channel, so each filter is one picture)."""
        if self._model is None:
            return None
        w1 = self._model.params[0]
        if w1.ndim == 4:
            return w1.reshape(w1.shape[0], -1).T, w1.shape[-1]
        return w1, math.isqrt(w1.shape[0])

    def first_response(self, x: np.ndarray) -> tuple[np.ndarray, int] | None:
        """What the first layer makes of one input ``x`` (784,) as pictures (see
        `inkling.network.responses`), or None before any weights arrived."""
        return None if self._model is None else first_layer_response(self._model, x)

    def weights(self) -> NetworkWeights | None:
        """A copy of the current weights with their layers (for export and autosave), or None before
        any arrived."""
        return None if self._model is None else NetworkWeights(self._model.get_weights(), self._model.hidden)

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch ``(n, 784)`` of inputs in [0, 1]: shape ``(n, 10)``.

        Raises:
            RuntimeError: No weights yet.
        """
        if self._model is None:
            raise RuntimeError("no weights yet")
        return self._model.predict_proba(np.asarray(x, dtype=np.float32))


def top_k(probs: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    """The ``k`` most likely digits of one probability row, most likely first."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(digit), float(probs[digit])) for digit in order]
