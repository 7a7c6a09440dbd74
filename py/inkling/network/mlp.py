"""A multi-layer perceptron in numpy: ReLU hidden layers, softmax cross-entropy, float32.

Read it top to bottom: the one `matmul` (and the engine under it), the initialisation, the forward pass, the
loss and its gradients (the backward pass), then loading and saving weights.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import WeightsError
from .engine import current_engine
from .weight_rules import WEIGHT_NAME, check_outputs, checked_array, param_names

DEFAULT_SIZES = (784, 128, 10)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the matrix product ``a @ b``.

    Every matrix product of the forward and backward passes goes through here:
    they are nearly all of a training step's time in Pyodide, whose numpy has no
    BLAS, so the engine under them (numpy, or the WebAssembly SIMD kernel) is
    chosen once with `inkling.network.engine.use_engine`, without touching the maths.
    Arguments may be transposed views; an engine takes them as they are.
    """
    return current_engine().matmul(a, b)


def forward(params: Sequence[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """The activations ``[x, h1, ..., logits]`` of parameters ``[W1, b1, ..., Wk, bk]`` on a batch ``x``."""
    acts = [x]
    last = len(params) // 2 - 1
    for layer in range(last + 1):
        W, b = params[2 * layer], params[2 * layer + 1]
        z = matmul(acts[-1], W)
        z += b
        if layer < last:
            np.maximum(z, 0, out=z)  # ReLU
        acts.append(z)
    return acts


def softmax_loss(logits: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Mean softmax cross-entropy of ``logits`` ``(n, classes)`` for labels ``y``, the accuracy,
    and the loss's gradient with respect to the logits."""
    n = len(y)
    rows = np.arange(n)
    # Subtracting each row's max keeps exp() from overflowing; it cancels out.
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1)
    loss = float(np.mean(np.log(sums) - shifted[rows, y]))
    acc = float(np.mean(logits.argmax(axis=1) == y))
    # d(loss)/d(logits) = (softmax - one_hot(y)) / n
    delta = exp / sums[:, None]
    delta[rows, y] -= 1
    delta /= n
    return loss, acc, delta


class StepResult(NamedTuple):
    """What one batch tells us: its mean loss, its accuracy and the gradients."""

    loss: float
    acc: float
    grads: list[np.ndarray]  # in the order of MLP.params: dW1, db1, dW2, db2, ...


class MLP:
    """A fully connected network: ``sizes[0]`` inputs, ReLU hidden layers, ``sizes[-1]`` classes.

    The parameters live in ``self.params`` as ``[W1, b1, W2, b2, ...]``, each ``W``
    of shape ``(fan_in, fan_out)`` so that a layer is ``h @ W + b`` on a batch of
    rows. Optimizers update these arrays in place.
    """

    def __init__(
        self,
        sizes: Sequence[int] = DEFAULT_SIZES,
        seed: int = 0,
        dtype: type[np.floating] = np.float32,
    ) -> None:
        """Build a network with He-initialised weights and zero biases.

        Args:
            sizes: Layer widths, input first, classes last (at least two).
            seed: Seed of the initial weights; the same seed gives the same weights.
            dtype: float32 for training; float64 only for checking gradients.
        """
        self.sizes = _checked_sizes(sizes)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            # He initialisation keeps the variance of ReLU activations steady layer to layer.
            W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
            self.params += [W.astype(self.dtype), np.zeros(fan_out, self.dtype)]

    @property
    def names(self) -> list[str]:
        """The parameter names, in the order of ``params``: ``W1, b1, W2, b2, ...``."""
        return param_names(len(self.sizes) - 1)

    @property
    def hidden(self) -> tuple[int, ...]:
        """The hidden layers' widths, as `inkling.network.layers` writes a network."""
        return self.sizes[1:-1]

    def describe(self) -> str:
        """The network as people write it out: ``784-256-10``."""
        return describe_sizes(self.sizes)

    # ---- forward -----------------------------------------------------------------

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Run a batch ``x`` of shape ``(n, sizes[0])`` through the network.

        Returns:
            The activations of every layer: ``[x, h1, ..., logits]``.
        """
        return forward(self.params, x)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of one sample ``(784,)`` or a batch ``(n, 784)``: shape ``(n, 10)``."""
        x = self._as_batch(x)
        logits = self.forward(x)[-1]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most likely class of each sample: shape ``(n,)``."""
        return self.forward(self._as_batch(x))[-1].argmax(axis=1)

    # ---- loss and backward ---------------------------------------------------------

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> StepResult:
        """Mean softmax cross-entropy of a batch and its gradient for every parameter.

        Args:
            x: Inputs, shape ``(n, sizes[0])``, in the model's dtype.
            y: Integer labels, shape ``(n,)``.

        Returns:
            The loss, the accuracy and the gradients (fresh arrays an optimizer may
            overwrite). A non-finite loss means the weights have diverged.
        """
        acts = self.forward(x)
        loss, acc, delta = softmax_loss(acts[-1], y)

        grads: list[np.ndarray] = [None] * len(self.params)  # type: ignore[list-item]
        for layer in reversed(range(len(self.params) // 2)):
            h = acts[layer]
            grads[2 * layer] = matmul(h.T, delta)
            grads[2 * layer + 1] = delta.sum(axis=0)
            if layer > 0:
                delta = matmul(delta, self.params[2 * layer].T)
                delta *= h > 0  # ReLU lets the gradient through only where it was active
        return StepResult(loss, acc, grads)

    # ---- weights in and out ----------------------------------------------------------

    def get_weights(self) -> dict[str, np.ndarray]:
        """A copy of every parameter by name (``W1``, ``b1``, ...)."""
        return {name: p.copy() for name, p in zip(self.names, self.params)}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Replace every parameter, keeping the current ones if anything is wrong.

        Raises:
            WeightsError: Names, shapes or dtypes do not fit this model, or a value
                is not finite. The model is unchanged.
        """
        arrays = checked_weights(weights, self.dtype)
        sizes = sizes_of(arrays)
        if sizes != self.sizes:
            raise WeightsError(
                f"the weights are for a {describe_sizes(sizes)} network but this model is "
                f"{describe_sizes(self.sizes)}; build a new model with MLP.from_weights"
            )
        for p, new in zip(self.params, arrays):
            p[...] = new

    @classmethod
    def from_weights(cls, weights: Mapping[str, np.ndarray]) -> MLP:
        """A new model whose layer sizes are read from the shapes of ``weights``.

        Raises:
            WeightsError: The arrays do not make a network (see `set_weights`).
        """
        arrays = checked_weights(weights, np.dtype(np.float32))
        model = cls(sizes_of(arrays))
        model.params = arrays
        return model

    def _as_batch(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"expected input of shape ({self.sizes[0]},) or (n, {self.sizes[0]}), "
                f"got {x.shape}"
            )
        return x


def _checked_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least two positive layer widths, got {sizes}")
    return sizes


def checked_weights(weights: Mapping[str, np.ndarray], dtype: np.dtype, probe: bool = True) -> list[np.ndarray]:
    """Validate a mapping ``W1, b1, ..., Wk, bk`` and return copies of its arrays in that order.

    ``probe=False`` skips running the network (`_check_outputs`): for weights going
    out, which were probed when they came in.

    Raises:
        WeightsError: Wrong names, dtype, shape or chaining of layers, non-finite values, or
            outputs that overflow (see `_check_outputs`).
    """
    if not isinstance(weights, Mapping):
        raise WeightsError(f"weights must be a mapping of name to array, got {type(weights).__name__}")
    for name in weights:
        if not isinstance(name, str) or not WEIGHT_NAME.fullmatch(name):
            raise WeightsError(f"unexpected array {name!r}: expected names W1, b1, W2, b2, ...", name)
    depth = len({name[1:] for name in weights})  # layers W1..Wk need k distinct indices, none skipped
    expected = param_names(depth)
    missing = [name for name in expected if name not in weights]
    if depth == 0 or missing:
        raise WeightsError(
            f"weights must hold W1, b1, ..., Wk, bk; {missing[0] if missing else 'W1'} is missing "
            f"(got {', '.join(sorted(weights)) or 'nothing'})",
            missing[0] if missing else "W1",
        )
    arrays = []
    for name in expected:
        value = checked_array(name, weights[name], dtype, 2 if name[0] == "W" else 1)
        arrays.append(value)
    for i in range(depth):
        W, b = arrays[2 * i], arrays[2 * i + 1]
        if b.shape[0] != W.shape[1]:
            raise WeightsError(f"b{i + 1} has {b.shape[0]} values but W{i + 1} has {W.shape[1]} columns", f"b{i + 1}")
        if i > 0 and W.shape[0] != arrays[2 * i - 2].shape[1]:
            raise WeightsError(
                f"W{i + 1} has {W.shape[0]} rows but W{i} has {arrays[2 * i - 2].shape[1]} columns",
                f"W{i + 1}",
            )
    if probe:
        _check_outputs(arrays)
    return arrays


def _check_outputs(arrays: list[np.ndarray]) -> None:
    check_outputs(lambda probe: forward(arrays, probe)[-1], arrays[0].shape[0], arrays[0].dtype)


def sizes_of(arrays: Sequence[np.ndarray]) -> tuple[int, ...]:
    """The layer sizes (inputs first, classes last) of parameters ``[W1, b1, ..., Wk, bk]``."""
    return (arrays[0].shape[0],) + tuple(W.shape[1] for W in arrays[0::2])


def describe_sizes(sizes: Sequence[int]) -> str:
    """Layer sizes as people write them: ``784-256-128-10``."""
    return "-".join(str(s) for s in sizes)
