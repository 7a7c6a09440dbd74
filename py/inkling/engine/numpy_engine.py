"""The engine of last resort: numpy's own products, picked per runtime by what measured fastest."""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

# Pyodide's numpy has no BLAS; there `np.einsum` ran X @ W1 (64x784 by 784x128) in 4.5 ms against
# 14.4 ms for `@` (shared/RUNTIME.md). Natively `@` calls BLAS and wins by far.
IN_PYODIDE = sys.platform == "emscripten"


class NumpyEngine:
    """``a @ b`` with numpy: BLAS where numpy has it, ``einsum`` in Pyodide where it does not."""

    name = "numpy"

    def __init__(self, use_einsum: bool = IN_PYODIDE) -> None:
        self.use_einsum = use_einsum

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` as a new array."""
        if self.use_einsum and a.ndim == 2 and b.ndim == 2:
            return np.einsum("ij,jk->ik", a, b)
        return np.matmul(a, b)

    def fused_update(self, rule: str, p: np.ndarray, g: np.ndarray, state: Sequence[np.ndarray],
                     coeffs: Sequence[float]) -> bool:
        """Never: the optimizer's own numpy code is this engine's update."""
        return False
