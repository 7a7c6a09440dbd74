"""The engine under the networks' maths: what computes their matrix products, optimizer steps
and a convolution's data movement (patches, pooling).

`inkling.network.mlp` sends every matrix product, and `inkling.network.optim` offers every update,
to the one engine in use. By default that is `NumpyEngine`; in the browser,
`inkling.network.engine.select` swaps in the WebAssembly SIMD kernel (``kernel.c`` beside
this file) when it loads and passes its self-test.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from .numpy_engine import NumpyEngine

__all__ = ["ENGINE_NAMES", "Engine", "NumpyEngine", "current_engine", "engine_name", "use_engine"]

# What a user may see as the engine, slowest first (names are part of the protocol).
ENGINE_NAMES = (NumpyEngine.name, "wasm simd128", "wasm relaxed-simd")


class Engine(Protocol):
    """Computes the heavy parts of a training step; ``name`` says which engine a user is running."""

    name: str

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` as a new array; ``a`` and ``b`` may be transposed or sliced views."""

    def fused_update(self, rule: str, p: np.ndarray, g: np.ndarray, state: Sequence[np.ndarray],
                     coeffs: Sequence[float]) -> bool:
        """Apply optimizer ``rule`` to ``p`` in one pass, exactly as `inkling.network.optim` would.

        Returns False, changing nothing, where this engine cannot: the optimizer then
        does it with numpy.
        """

    # A convolution's data movement, exactly as `inkling.network.conv` (the reference) does it.

    def patches(self, x: np.ndarray, k: int, pad: int) -> np.ndarray:
        """im2col of ``x`` (NHWC): ``(n * oh * ow, k * k * c)``, rows ``(ky, kx, ch)``."""

    def unpatch(self, rows: np.ndarray, shape: tuple[int, ...], k: int, pad: int) -> np.ndarray:
        """col2im: patch ``rows`` summed back onto an image of ``shape`` (NHWC)."""

    def pool_forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """2x2 max-pooling of ``x`` (NHWC) and the uint8 position of each maximum in its window."""

    def pool_backward(self, dout: np.ndarray, where: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The gradient of a pooling's input of ``shape`` from its output's gradient ``dout``."""

    def relu_mask(self, d: np.ndarray, z: np.ndarray) -> None:
        """``d`` kept where ``z`` is positive, else 0, in place."""

    # Augmentation's resampling, as `inkling.network.warp` (the reference) does it.

    def warp(self, images: np.ndarray, coeffs: np.ndarray, side: int) -> np.ndarray:
        """Each row of ``images`` resampled at the affine map of its six ``coeffs``: a new array."""

    def pen(self, images: np.ndarray, modes: np.ndarray, side: int) -> None:
        """The rows of ``images`` of mode 1 redrawn with a thicker pen, of mode 2 a thinner one, in place."""


_current: Engine = NumpyEngine()


def use_engine(engine: Engine | None) -> None:
    """Use ``engine`` from now on (in this runtime); ``None`` restores `NumpyEngine`."""
    global _current
    _current = NumpyEngine() if engine is None else engine


def current_engine() -> Engine:
    """The engine in use."""
    return _current


def engine_name() -> str:
    """The name of the engine in use (``numpy``, ``wasm simd128``, ``wasm relaxed-simd``)."""
    return _current.name
