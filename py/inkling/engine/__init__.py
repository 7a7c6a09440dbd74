"""The engine under the MLP's maths: what computes its matrix products.

`inkling.mlp` sends every product through one `Engine`. By default that is
`NumpyEngine`; in the browser, `load_kernel_engine` swaps in the WebAssembly SIMD
kernel (``kernel.c`` beside this file) when it loads and passes its self-test.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .numpy_engine import NumpyEngine

__all__ = ["ENGINE_NAMES", "Engine", "NumpyEngine"]

# What a user may see as the engine, slowest first (names are part of the protocol).
ENGINE_NAMES = (NumpyEngine.name, "wasm simd128", "wasm relaxed-simd")


class Engine(Protocol):
    """Computes ``a @ b`` for 2-D arrays; ``name`` says which engine a user is running."""

    name: str

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` as a new array; ``a`` and ``b`` may be transposed or sliced views."""
