"""The engine of last resort: numpy's own products, picked per runtime by what measured fastest."""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

from .. import conv
from .. import warp as resampling

# Pyodide's numpy has no BLAS. Measured there (Chromium, batch 64, 784-128-10): `np.einsum` took
# 2.2 ms for X @ W1 and X.T @ dH against 5.2 and 3.8 ms for `@`, but 70-210 us for the 10-wide
# products against 46-58 us: einsum pays only when both the inner and the outer sizes are wide.
# Natively `@` calls BLAS and wins everywhere.
IN_PYODIDE = sys.platform == "emscripten"
EINSUM_MIN_SIZE = 32


class NumpyEngine:
    """``a @ b`` with numpy: BLAS where numpy has it, ``einsum`` in Pyodide where it does not."""

    name = "numpy"

    def __init__(self, use_einsum: bool = IN_PYODIDE) -> None:
        self.use_einsum = use_einsum

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` as a new array."""
        if self.use_einsum and a.ndim == 2 and b.ndim == 2 and min(a.shape[1], b.shape[1]) >= EINSUM_MIN_SIZE:
            return np.einsum("ij,jk->ik", a, b)
        return np.matmul(a, b)

    def fused_update(self, rule: str, p: np.ndarray, g: np.ndarray, state: Sequence[np.ndarray],
                     coeffs: Sequence[float]) -> bool:
        """Never: the optimizer's own numpy code is this engine's update."""
        return False

    # A convolution's data movement: the numpy reference itself.
    patches = staticmethod(conv.patches)
    unpatch = staticmethod(conv.unpatch)
    pool_forward = staticmethod(conv.pool_forward)
    pool_backward = staticmethod(conv.pool_backward)
    relu_mask = staticmethod(conv.relu_mask)
    # Augmentation's resampling: the numpy reference too.
    warp = staticmethod(resampling.warp)
    pen = staticmethod(resampling.pen)
