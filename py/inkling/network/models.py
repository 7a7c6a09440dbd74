"""Which model a network's hidden layers build: an `MLP` for dense layers only, else a `ConvNet`;
fresh from a seed or from weights, with the page's limits checked first."""

from __future__ import annotations

from typing import Mapping, Sequence, Union

import numpy as np

from ..errors import WeightsError
from .convnet import ConvNet
from .layers import (N_CLASSES, N_PIXELS, HiddenLayer, describe_network, format_hidden, hidden_problem,
                     is_dense_only)
from .mlp import MLP, checked_weights, describe_sizes, sizes_of

Model = Union[MLP, ConvNet]


def fresh_network(hidden: Sequence[HiddenLayer], seed: int) -> Model:
    """A network for MNIST digits with these hidden layers and fresh weights from ``seed``."""
    if is_dense_only(hidden):
        return MLP((N_PIXELS, *(int(width) for width in hidden), N_CLASSES), seed)
    return ConvNet(hidden, seed)


def hidden_of(sizes: Sequence[int]) -> tuple[int, ...]:
    """The hidden layer widths of an MLP of layer ``sizes`` (inputs first, classes last)."""
    return tuple(sizes[1:-1])


def network_from_weights(weights: Mapping[str, np.ndarray], hidden: Sequence[HiddenLayer] | None = None) -> Model:
    """The network these weights make, its layers checked against the page's limits.

    ``hidden`` says what the layers are; without it the weights must be an MLP's (2-D ``W``), whose
    widths their shapes tell.

    Raises:
        WeightsError: The weights do not fit the layers, or the layers break the limits; says why.
    """
    if hidden is not None:
        problem = hidden_problem(hidden)
        if problem is not None:
            raise WeightsError(f"the weights' layers ({format_hidden(hidden)}): {problem}")
        if not is_dense_only(hidden):
            return ConvNet.from_weights(weights, hidden)
    elif isinstance(weights, Mapping) and any(np.ndim(w) == 4 for w in weights.values()):
        raise WeightsError("these weights hold convolutions (4-D filters) but do not say their network's "
                           "layers; export them from Inkling, which writes the layers beside them")
    model = MLP.from_weights(weights)  # the one pass that checks and copies them
    problem = _sizes_problem(model.sizes)
    if problem is not None:
        raise WeightsError(problem)
    if hidden is not None and model.hidden != tuple(int(w) for w in hidden):
        raise WeightsError(f"the weights make a {model.describe()} network, not the "
                           f"{describe_network(hidden)} their file names")
    return model


def weights_problem(weights: Mapping[str, np.ndarray]) -> str | None:
    """Why an MLP's weights do not make a network the page can use (784 pixels in, 10 digits out,
    hidden layers within the limits), or None."""
    try:
        sizes = sizes_of(checked_weights(weights, np.dtype(np.float32), probe=False))
    except WeightsError as error:
        return str(error)
    return _sizes_problem(sizes)


def _sizes_problem(sizes: Sequence[int]) -> str | None:
    """Why an MLP of layer ``sizes`` is not one the page can use, or None."""
    if (sizes[0], sizes[-1]) != (N_PIXELS, N_CLASSES):
        return (f"they make a {describe_sizes(sizes)} network; the page needs {N_PIXELS} inputs (28x28 pixels) "
                f"and {N_CLASSES} outputs (the digits)")
    problem = hidden_problem(hidden_of(sizes))
    return None if problem is None else f"the hidden layers {format_hidden(hidden_of(sizes))}: {problem}"
