"""The networks Inkling trains: 784 pixels in, one or more hidden ReLU layers, 10 digits out.

One owner for their limits and for how hidden layers are written ("256,128": a first hidden
layer of 256 units, then one of 128), shared by the wire, the page, the CLI and the worker.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

from ..errors import WeightsError
from .mlp import MLP, checked_weights, describe_sizes, sizes_of

N_PIXELS = 784
N_CLASSES = 10
MAX_HIDDEN = 4096  # units in one hidden layer
MAX_HIDDEN_LAYERS = 8  # deeper plain ReLU networks train badly with these optimizers anyway

_LAYERS_TEXT = re.compile(r"\s*\d+\s*(,\s*\d+\s*)*,?\s*")


def fresh_network(hidden: Sequence[int], seed: int) -> MLP:
    """A network for MNIST digits with these hidden layers and fresh weights from ``seed``."""
    return MLP((N_PIXELS, *hidden, N_CLASSES), seed)


def hidden_problem(hidden: Sequence[int]) -> str | None:
    """Why these hidden layer widths cannot be trained, or None."""
    if not 1 <= len(hidden) <= MAX_HIDDEN_LAYERS:
        return f"must list 1 to {MAX_HIDDEN_LAYERS} hidden layers, got {len(hidden)}"
    for width in hidden:
        if not 1 <= width <= MAX_HIDDEN:
            return f"each hidden layer must have 1 to {MAX_HIDDEN} units, got {width}"
    return None


def parse_hidden(text: str) -> tuple[int, ...]:
    """Read hidden layer widths written as ``"256"`` or ``"256,128"`` (blanks allowed).

    Raises:
        ValueError: Not a comma-separated list of whole numbers, or out of range; says why.
    """
    if not _LAYERS_TEXT.fullmatch(text):
        raise ValueError(f"'{text.strip()}' is not a list of layer widths such as 256 or 256,128")
    hidden = tuple(int(part) for part in text.split(",") if part.strip())
    problem = hidden_problem(hidden)
    if problem is not None:
        raise ValueError(problem)
    return hidden


def format_hidden(hidden: Sequence[int]) -> str:
    """The text `parse_hidden` reads back: ``"256,128"``."""
    return ",".join(str(width) for width in hidden)


def hidden_of(sizes: Sequence[int]) -> tuple[int, ...]:
    """The hidden layer widths of a network of layer ``sizes`` (inputs first, classes last)."""
    return tuple(sizes[1:-1])


def weights_problem(weights: Mapping[str, np.ndarray]) -> str | None:
    """Why these weights do not make a network the page can use (784 pixels in, 10 digits out,
    1 to `MAX_HIDDEN_LAYERS` hidden layers of at most `MAX_HIDDEN` units), or None."""
    try:
        sizes = sizes_of(checked_weights(weights, np.dtype(np.float32), probe=False))
    except WeightsError as error:
        return str(error)
    if (sizes[0], sizes[-1]) != (N_PIXELS, N_CLASSES):
        return (f"they make a {describe_sizes(sizes)} network; the page needs {N_PIXELS} inputs (28x28 pixels) "
                f"and {N_CLASSES} outputs (the digits)")
    problem = hidden_problem(hidden_of(sizes))
    return None if problem is None else f"the hidden layers {format_hidden(hidden_of(sizes))}: {problem}"
