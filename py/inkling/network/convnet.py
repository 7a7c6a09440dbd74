"""A convolutional network in numpy: convolutions and max-pooling, then dense ReLU layers, then
softmax cross-entropy, float32.

It has the `MLP`'s face (``params``, ``names``, ``loss_and_grads``, ``predict_proba``, weights in and
out), so the learner, the optimizers and the page use either without asking which. Its layers are
written as in `inkling.network.layers` (``c16:5,p2,c32:5,p2,128``); its parameters are ``W1, b1, ...``
in layer order, a convolution's ``W`` shaped ``(out, in, k, k)``.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import WeightsError
from .engine import current_engine
from .layers import (IMAGE_SIDE, Conv, Dense, HiddenLayer, Pool, describe_network, layer_specs, memory_needed,
                     parameter_shapes)
from .mlp import StepResult, matmul, softmax_loss
from .weight_rules import check_outputs, checked_array, param_names


PREDICT_MEMORY = 64 << 20  # bytes of activations and patches a prediction may hold at once
NARROW_PATCHES = 64  # patches narrower than this take their filters' gradient the other way round


class ConvCache(NamedTuple):
    """What a convolution's backward pass needs from its forward pass."""

    cols: np.ndarray  # the input's patches, (n * oh * ow, k * k * c)
    filters: np.ndarray  # W as the patches' rows are ordered: (out, k * k * c), (ky, kx, ch)
    input_shape: tuple[int, ...]
    pad: int


def conv_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, pad: int) -> tuple[np.ndarray, ConvCache]:
    """``x`` (NHWC) convolved with filters ``W`` ``(out, in, k, k)`` plus ``b``, before any ReLU.

    Returns:
        The output ``(n, oh, ow, out)`` and what `conv_backward` needs.
    """
    engine = current_engine()
    out_c, _, k, _ = W.shape
    cols = engine.patches(x, k, pad)
    filters = np.ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(out_c, -1)  # small: a copy per step
    z = engine.matmul(cols, filters.T)
    z += b
    n, h, w, _ = x.shape
    return z.reshape(n, h + 2 * pad - k + 1, w + 2 * pad - k + 1, out_c), ConvCache(cols, filters, x.shape, pad)


def conv_backward(dz: np.ndarray, W: np.ndarray, cache: ConvCache,
                  need_input: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The gradients of a convolution from the gradient ``dz`` of its output ``(n, oh, ow, out)``.

    Returns:
        ``(dW, db, dx)``; ``dx`` (NHWC) is None unless ``need_input`` (the first layer's input is
        the image: nothing upstream needs its gradient).
    """
    engine = current_engine()
    out_c, in_c, k, _ = W.shape
    rows = dz.reshape(-1, out_c)
    if cache.cols.shape[1] < NARROW_PATCHES:
        # Measured in Chromium (relaxed SIMD, batch 32): the first layer's 16 x 18432 @ 18432 x 25 took
        # 6.0 ms as rows.T @ cols and 4.2 ms as (cols.T @ rows).T; the second's (400-wide patches) 3.2
        # against 4.9 ms the other way round.
        flat = engine.matmul(cache.cols.T, rows).T
    else:
        flat = engine.matmul(rows.T, cache.cols)
    dW = np.ascontiguousarray(flat.reshape(out_c, k, k, in_c).transpose(0, 3, 1, 2))
    db = rows.sum(axis=0)
    if not need_input:
        return dW, db, None
    return dW, db, engine.unpatch(engine.matmul(rows, cache.filters), cache.input_shape, k, cache.pad)


class ConvNet:
    """Hidden layers ``hidden`` (a tuple as `inkling.network.layers.parse_hidden` gives) on 28x28
    images, 10 classes out."""

    def __init__(self, hidden: Sequence[HiddenLayer], seed: int = 0, dtype: type[np.floating] = np.float32) -> None:
        """Build the network with He-initialised weights and zero biases from ``seed``.

        ``dtype`` is float32 for training; float64 only for checking gradients.
        """
        rng = np.random.default_rng(seed)
        params: list[np.ndarray] = []
        for w_shape, b_shape in zip(*[iter(parameter_shapes(hidden))] * 2):
            fan_in = int(np.prod(w_shape[1:])) if len(w_shape) == 4 else w_shape[0]
            W = rng.standard_normal(w_shape) * np.sqrt(2.0 / fan_in)
            params += [W.astype(dtype), np.zeros(b_shape, dtype)]
        self._take(hidden, np.dtype(dtype), params)

    def _take(self, hidden: Sequence[HiddenLayer], dtype: np.dtype, params: list[np.ndarray]) -> None:
        """Become the network of layers ``hidden`` with parameters ``params`` (checked by the caller)."""
        self.hidden = tuple(hidden)
        self.dtype = dtype
        self.params = params
        self._specs = (*layer_specs(hidden), Dense(0))  # the output layer's width comes from its shape
        # How many digits a prediction runs at once (see `_logits`): worked out once, as the page
        # predicts a drawing many times a second.
        per_sample = max(1, memory_needed(hidden, 1) - memory_needed(hidden, 0))
        self._chunk = max(1, PREDICT_MEMORY // per_sample)

    @property
    def names(self) -> list[str]:
        """The parameter names, in the order of ``params``: ``W1, b1, W2, b2, ...``."""
        return param_names(len(self.params) // 2)

    def describe(self) -> str:
        """The network as people write it out: ``784-c16:5-p2-128-10``."""
        return describe_network(self.hidden)

    # ---- forward ---------------------------------------------------------------------

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
        """The logits of a batch ``(n, 784)`` and, per layer, what its backward pass needs."""
        h: np.ndarray = x.reshape(len(x), IMAGE_SIDE, IMAGE_SIDE, 1)
        tape: list[tuple[Any, ...]] = []
        p = 0
        last = len(self._specs) - 1
        for i, spec in enumerate(self._specs):
            if isinstance(spec, Conv):
                z, cache = conv_forward(h, self.params[p], self.params[p + 1], spec.pad)
                np.maximum(z, 0, out=z)
                tape.append((spec, p, cache, z))
                h, p = z, p + 2
            elif isinstance(spec, Pool):
                out, where = current_engine().pool_forward(h)
                tape.append((spec, p, where, h.shape))
                h = out
            else:
                flat = h.reshape(len(h), -1)
                z = matmul(flat, self.params[p])
                z += self.params[p + 1]
                if i < last:
                    np.maximum(z, 0, out=z)
                tape.append((spec, p, flat, z))
                h, p = z, p + 2
        return h, tape

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of one sample ``(784,)`` or a batch ``(n, 784)``: shape ``(n, 10)``."""
        logits = self._logits(self._as_batch(x))
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most likely class of each sample: shape ``(n,)``."""
        return self._logits(self._as_batch(x)).argmax(axis=1)

    def _logits(self, x: np.ndarray) -> np.ndarray:
        """The logits of a batch of any size, run in chunks whose patches and activations stay within
        `PREDICT_MEMORY` (an evaluation reads blocks of 1,000 digits; a wide 'same' convnet's patches
        for all of them would take gigabytes)."""
        chunk = self._chunk
        if len(x) <= chunk:
            return self._forward(x)[0]
        return np.concatenate([self._forward(x[i:i + chunk])[0] for i in range(0, len(x), chunk)])

    # ---- loss and backward -------------------------------------------------------------

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> StepResult:
        """Mean softmax cross-entropy of a batch ``(n, 784)`` with labels ``y`` and its gradient for
        every parameter (fresh arrays an optimizer may overwrite)."""
        logits, tape = self._forward(np.asarray(x, self.dtype))
        loss, acc, delta = softmax_loss(logits, y)
        grads: list[np.ndarray] = [None] * len(self.params)  # type: ignore[list-item]
        for step, (spec, p, saved, out) in enumerate(reversed(tape)):
            first = step == len(tape) - 1
            if isinstance(spec, Dense):
                if step:  # not the output layer: ReLU lets the gradient through where it was active
                    current_engine().relu_mask(delta, out)
                grads[p] = matmul(saved.T, delta)
                grads[p + 1] = delta.sum(axis=0)
                if not first:
                    delta = matmul(delta, self.params[p].T)
            elif isinstance(spec, Pool):
                delta = current_engine().pool_backward(delta.reshape(out[0], *_pooled(out, spec.size)), saved, out)
            else:
                delta = np.ascontiguousarray(delta.reshape(out.shape))
                current_engine().relu_mask(delta, out)
                grads[p], grads[p + 1], delta = conv_backward(delta, self.params[p], saved, need_input=not first)
        return StepResult(loss, acc, grads)

    # ---- weights in and out -----------------------------------------------------------

    def get_weights(self) -> dict[str, np.ndarray]:
        """A copy of every parameter by name (``W1``, ``b1``, ...)."""
        return {name: p.copy() for name, p in zip(self.names, self.params)}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Replace every parameter, keeping the current ones if anything is wrong.

        Raises:
            WeightsError: Names, shapes or values do not fit this network; it is unchanged.
        """
        arrays = checked_convnet_weights(weights, self.hidden, self.dtype)
        for p, new in zip(self.params, arrays):
            p[...] = new

    @classmethod
    def from_weights(cls, weights: Mapping[str, np.ndarray], hidden: Sequence[HiddenLayer]) -> ConvNet:
        """A network of layers ``hidden`` with these weights.

        Raises:
            WeightsError: They do not fit the layers (see `checked_convnet_weights`).
        """
        model = cls.__new__(cls)
        model._take(hidden, np.dtype(np.float32), checked_convnet_weights(weights, hidden, np.dtype(np.float32)))
        return model

    def _as_batch(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != IMAGE_SIDE * IMAGE_SIDE:
            raise ValueError(f"expected input of shape (784,) or (n, 784), got {x.shape}")
        return x


def _pooled(shape: tuple[int, ...], size: int) -> tuple[int, int, int]:
    """The shape of one pooled sample of input ``shape`` (NHWC)."""
    return shape[1] // size, shape[2] // size, shape[3]


def checked_convnet_weights(weights: Mapping[str, np.ndarray], hidden: Sequence[HiddenLayer],
                            dtype: np.dtype, probe: bool = True) -> list[np.ndarray]:
    """Validate weights ``W1, b1, ...`` against the layers ``hidden`` and return copies in order.

    Raises:
        WeightsError: A name missing or extra, a shape that is not the layer's, a value that is not
            finite, or outputs that overflow on test images.
    """
    if not isinstance(weights, Mapping):
        raise WeightsError(f"weights must be a mapping of name to array, got {type(weights).__name__}")
    shapes = parameter_shapes(hidden)
    names = param_names(len(shapes) // 2)
    extra = sorted(set(weights) - set(names), key=str)
    if extra:
        raise WeightsError(f"unexpected array {extra[0]!r}: a {describe_network(hidden)} network has "
                           f"{', '.join(names)}", str(extra[0]))
    arrays = []
    for name, shape in zip(names, shapes):
        if name not in weights:
            raise WeightsError(f"{name} is missing: a {describe_network(hidden)} network has {', '.join(names)}",
                               name)
        value = checked_array(name, weights[name], dtype, len(shape))
        if value.shape != shape:
            raise WeightsError(f"{name} has shape {value.shape} but the {describe_network(hidden)} network's "
                               f"is {shape}: these weights are for other layers", name)
        arrays.append(value)
    if probe:
        model = ConvNet.__new__(ConvNet)
        model._take(hidden, dtype, arrays)
        check_outputs(lambda probe_x: model._forward(probe_x)[0], IMAGE_SIDE * IMAGE_SIDE, dtype)
    return arrays
