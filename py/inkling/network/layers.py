"""The networks Inkling trains: 784 pixels in, hidden layers, 10 digits out.

One owner for how hidden layers are written and for their limits, shared by the wire, the page, the
CLI and the worker. A network is one text, its layers first to last, comma-separated:

- ``128``: a dense ReLU layer of 128 units;
- ``c16:5``: a convolution of 16 filters of 5x5 pixels, stride 1, no padding ('valid'), then ReLU;
  ``c16:5:same`` pads with zeros so the image keeps its size (odd sizes only);
- ``p2``: 2x2 max-pooling, stride 2.

Convolutions and pooling come before any dense layer (the image is flattened at the first dense
layer): ``c16:5,p2,c32:5,p2,128``. Today's ``256,128`` means what it always did. In Python a
network's hidden layers are a tuple of ints (dense widths) and of the texts of the other layers
(``(\"c16:5\", \"p2\", 128)``), which is also how the wire, links and saved records carry them;
`layer_specs` reads them into `Dense`, `Conv` and `Pool`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from .weight_rules import MAX_WEIGHT_VALUES

N_PIXELS = 784
IMAGE_SIDE = 28
N_CLASSES = 10
MAX_HIDDEN = 4096  # units in one dense layer
MAX_HIDDEN_LAYERS = 8  # deeper plain ReLU networks train badly with these optimizers anyway
MAX_FILTERS = 256
MAX_KERNEL = 9
POOL_SIZES = (2,)
# What one run may hold in memory: weights, gradients and the optimizer's state (Adam keeps two
# more copies), and the activations of a batch with their gradients. The worker's Pyodide grows
# its memory up to 2 GiB, shared with the interpreter, numpy and the sample cache.
MEMORY_BUDGET = 1 << 30

HiddenLayer = Union[int, str]  # a dense layer's width, or a conv or pool layer's text


@dataclass(frozen=True)
class Dense:
    """A fully connected ReLU layer."""

    units: int


@dataclass(frozen=True)
class Conv:
    """A convolution of ``filters`` filters of ``size`` x ``size``, stride 1, then ReLU."""

    filters: int
    size: int
    same: bool = False  # zero padding that keeps the image's size; else 'valid' (none)

    @property
    def pad(self) -> int:
        """Rows (and columns) of zeros added on each side."""
        return self.size // 2 if self.same else 0


@dataclass(frozen=True)
class Pool:
    """Max-pooling over ``size`` x ``size`` windows, stride ``size``."""

    size: int = 2


LayerSpec = Union[Dense, Conv, Pool]

_DENSE = re.compile(r"\d+")
_CONV = re.compile(r"c(\d+):(\d+)(?::(same|valid))?")
_POOL = re.compile(r"p(\d+)")


def layer_spec(layer: HiddenLayer) -> LayerSpec:
    """The layer a width or a text (``c16:5``, ``c16:5:same``, ``p2``) names, its numbers unchecked.

    Raises:
        ValueError: Not a layer's text.
    """
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        return Dense(int(layer))
    if not isinstance(layer, str):
        raise ValueError(f"{layer!r} is not a layer: write a width (128), a convolution (c16:5) or a pooling (p2)")
    text = layer.strip().lower()
    if _DENSE.fullmatch(text):
        return Dense(int(text))
    if match := _CONV.fullmatch(text):
        return Conv(int(match[1]), int(match[2]), match[3] == "same")
    if match := _POOL.fullmatch(text):
        return Pool(int(match[1]))
    raise ValueError(f"'{text}' is not a layer: write a width (128), a convolution (c16:5, or c16:5:same to pad) "
                     "or a 2x2 max-pooling (p2)")


def hidden_layer(spec: LayerSpec) -> HiddenLayer:
    """How a layer is held in a network's hidden layers: a dense layer as its width, others as text."""
    if isinstance(spec, Dense):
        return spec.units
    if isinstance(spec, Conv):
        return f"c{spec.filters}:{spec.size}" + (":same" if spec.same else "")
    return f"p{spec.size}"


def layer_specs(hidden: Sequence[HiddenLayer]) -> tuple[LayerSpec, ...]:
    """The layers of ``hidden`` (see `layer_spec`)."""
    return tuple(layer_spec(layer) for layer in hidden)


def is_dense_only(hidden: Sequence[HiddenLayer]) -> bool:
    """True for a plain MLP: every hidden layer is dense."""
    return all(isinstance(spec, Dense) for spec in layer_specs(hidden))


def shapes(hidden: Sequence[HiddenLayer]) -> list[tuple[int, ...]]:
    """The shape of one sample after each layer, the input first: ``(28, 28, 1)`` while it is an image,
    ``(units,)`` from the first dense layer on; the 10 outputs last. Unchecked (see `hidden_problem`)."""
    shape: tuple[int, ...] = (IMAGE_SIDE, IMAGE_SIDE, 1)
    out = [shape]
    for spec in (*layer_specs(hidden), Dense(N_CLASSES)):
        if isinstance(spec, Conv):
            h, w, _ = shape
            lost = 0 if spec.same else spec.size - 1
            shape = (h - lost, w - lost, spec.filters)
        elif isinstance(spec, Pool):
            h, w, c = shape
            shape = (h // spec.size, w // spec.size, c)
        else:
            shape = (spec.units,)
        out.append(shape)
    return out


def parameter_shapes(hidden: Sequence[HiddenLayer]) -> list[tuple[int, ...]]:
    """The shapes of ``W1, b1, W2, b2, ...``: filters ``(out, in, k, k)`` for a convolution,
    ``(inputs, units)`` for a dense layer."""
    found: list[tuple[int, ...]] = []
    sizes = shapes(hidden)
    for spec, before in zip((*layer_specs(hidden), Dense(N_CLASSES)), sizes):
        if isinstance(spec, Conv):
            found += [(spec.filters, before[-1], spec.size, spec.size), (spec.filters,)]
        elif isinstance(spec, Dense):
            found += [(int(np.prod(before)), spec.units), (spec.units,)]
    return found


def parameter_count(hidden: Sequence[HiddenLayer]) -> int:
    """How many numbers the network's weights and biases hold."""
    return sum(int(np.prod(shape)) for shape in parameter_shapes(hidden))


def memory_needed(hidden: Sequence[HiddenLayer], batch_size: int) -> int:
    """Bytes a training step at ``batch_size`` holds at its peak, estimated: the parameters four
    times (weights, gradients, Adam's two moments), and per sample every layer's output and its
    gradient, plus each convolution's patches and their gradient."""
    values = 4 * parameter_count(hidden)
    per_sample = 0
    sizes = shapes(hidden)
    for spec, before, after in zip((*layer_specs(hidden), Dense(N_CLASSES)), sizes, sizes[1:]):
        per_sample += 2 * int(np.prod(after))
        if isinstance(spec, Conv):
            per_sample += 2 * int(np.prod(after[:2])) * before[-1] * spec.size * spec.size
    return 4 * (values + batch_size * per_sample)


def step_flops_per_sample(hidden: Sequence[HiddenLayer]) -> int:
    """Floating-point operations a training step spends per sample, estimated: each product twice
    (multiply and add) forward and twice more backward (the gradients of the weights and of the
    inputs); pooling, activations and the loss are left out."""
    flops = 0
    sizes = shapes(hidden)
    for spec, before, after in zip((*layer_specs(hidden), Dense(N_CLASSES)), sizes, sizes[1:]):
        if isinstance(spec, Conv):
            flops += 6 * int(np.prod(after)) * before[-1] * spec.size * spec.size
        elif isinstance(spec, Dense):
            flops += 6 * int(np.prod(before)) * spec.units
    return flops


def describe_network(hidden: Sequence[HiddenLayer]) -> str:
    """A network as people write it out, inputs to outputs: ``784-256-10``, ``784-c16:5-p2-128-10``."""
    return "-".join([str(N_PIXELS), *(str(hidden_layer(s)) for s in layer_specs(hidden)), str(N_CLASSES)])


def hidden_problem(hidden: Sequence[HiddenLayer], batch_size: int | None = None) -> str | None:
    """Why these hidden layers cannot be trained (at ``batch_size``, when given), or None."""
    if not 1 <= len(hidden) <= MAX_HIDDEN_LAYERS:
        return f"must list 1 to {MAX_HIDDEN_LAYERS} hidden layers, got {len(hidden)}"
    try:
        specs = layer_specs(hidden)
    except ValueError as error:
        return str(error)
    flat = False
    for spec in specs:
        if isinstance(spec, Dense):
            flat = True
            if not 1 <= spec.units <= MAX_HIDDEN:
                return f"each hidden layer must have 1 to {MAX_HIDDEN} units, got {spec.units}"
            continue
        if flat:
            return f"{hidden_layer(spec)} comes after a dense layer: convolutions and pooling come first"
        if isinstance(spec, Conv):
            if not 1 <= spec.filters <= MAX_FILTERS:
                return f"a convolution has 1 to {MAX_FILTERS} filters, got {spec.filters}"
            if not 1 <= spec.size <= MAX_KERNEL:
                return f"a convolution's filters are 1x1 to {MAX_KERNEL}x{MAX_KERNEL}, got {spec.size}x{spec.size}"
            if spec.same and spec.size % 2 == 0:
                return f"{hidden_layer(spec)}: 'same' padding needs an odd filter size"
        elif spec.size not in POOL_SIZES:
            return f"pooling is 2x2 (p2), got p{spec.size}"
    for spec, after in zip(specs, shapes(hidden)[1:]):
        if min(after) < 1:
            return f"{hidden_layer(spec)} leaves no image: the layers before it shrink 28x28 pixels to nothing"
    count = parameter_count(hidden)
    if count > MAX_WEIGHT_VALUES:
        return (f"{describe_network(hidden)} has {count:,} weights; the page holds at most "
                f"{MAX_WEIGHT_VALUES:,}")
    if batch_size is not None:
        need = memory_needed(hidden, batch_size)
        if need > MEMORY_BUDGET:
            return (f"{describe_network(hidden)} at batch size {batch_size} needs about {need / (1 << 20):,.0f} MiB "
                    f"to train; at most {MEMORY_BUDGET >> 20} MiB: choose a smaller network or batch")
    return None


def parse_hidden(text: str) -> tuple[HiddenLayer, ...]:
    """Read hidden layers written as ``"256"``, ``"256,128"`` or ``"c16:5,p2,128"`` (blanks allowed).

    Raises:
        ValueError: Not a comma-separated list of layers, or out of range; says why.
    """
    parts = text.split(",")
    if not parts[-1].strip():
        parts.pop()  # a trailing comma is fine
    if not parts or not all(part.strip() for part in parts):
        raise ValueError(f"'{text.strip()}' is not a list of layer widths such as 256,128, or of layers such as "
                         "c16:5,p2,c32:5,p2,128")
    hidden = tuple(hidden_layer(layer_spec(part)) for part in parts[:MAX_HIDDEN_LAYERS + 1])
    problem = hidden_problem(hidden if len(parts) <= MAX_HIDDEN_LAYERS else parts)
    if problem is not None:
        raise ValueError(problem)
    return hidden


def format_hidden(hidden: Sequence[HiddenLayer]) -> str:
    """The text `parse_hidden` reads back: ``"256,128"``, ``"c16:5,p2,128"``."""
    return ",".join(str(hidden_layer(layer_spec(layer))) for layer in hidden)
