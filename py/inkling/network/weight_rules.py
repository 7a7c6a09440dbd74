"""The rules every set of weights obeys, whatever network it makes: names ``W1, b1, ...``, how many
values in all, finite real numbers, and outputs that stay small on test images."""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

from ..errors import WeightsError

# Finite weights can still be unusable: 3e38 overflows to inf in the first product, and outputs in
# the thousands make the loss of a wrong answer read as diverged (the Trainer stops at 1000). Trained
# 784-128-10 weights give outputs under 10 on the probe inputs of `check_outputs`.
MAX_PROBE_OUTPUT = 1e4

# Weights are named W1, b1, ..., Wk, bk (k weight layers): here, for the wire, files and saves alike,
# with the most any set of them may hold (a check that runs before anything is allocated).
WEIGHT_NAME = re.compile(r"([Wb])([1-9][0-9]{0,2})")
MAX_WEIGHT_ARRAYS = 64
MAX_WEIGHT_VALUES = 1 << 24


def param_names(layers: int) -> list[str]:
    """``["W1", "b1", ..., "Wk", "bk"]`` for a network of ``layers`` weight layers."""
    return [f"{kind}{i}" for i in range(1, layers + 1) for kind in ("W", "b")]


def checked_array(name: str, raw: Any, dtype: np.dtype, ndim: int) -> np.ndarray:
    """One weight array as a copy in ``dtype``, refused unless it holds ``ndim``-D finite real numbers.

    Raises:
        WeightsError: Says which array and why.
    """
    value = np.asarray(raw)
    if value.dtype.kind not in "fiu":
        raise WeightsError(f"{name} has dtype {value.dtype}; expected real numbers (float32)", name)
    if value.ndim != ndim or 0 in value.shape:
        raise WeightsError(f"{name} has shape {value.shape}; expected a non-empty {ndim}-D array", name)
    with np.errstate(over="ignore"):
        value = value.astype(dtype)  # always a copy: the caller's array is never shared
    if not np.isfinite(value).all():
        raise WeightsError(f"{name} holds NaN or infinite values (or values too large for {dtype})", name)
    return value


def check_outputs(logits_of: Callable[[np.ndarray], np.ndarray], fan_in: int, dtype: np.dtype) -> None:
    """Refuse weights whose outputs (``logits_of`` a batch) on a blank, a full and two random images
    are not small and finite.

    Raises:
        WeightsError: Says how large they are.
    """
    rng = np.random.default_rng(0)
    probe = np.vstack([np.zeros(fan_in), np.ones(fan_in), rng.random((2, fan_in))]).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        h = logits_of(probe)
    worst = float(np.max(np.abs(h))) if np.isfinite(h).all() else math.inf
    if not worst <= MAX_PROBE_OUTPUT:
        what = "overflow to infinity" if math.isinf(worst) else f"reach {worst:.3g}"
        raise WeightsError(
            f"the network's outputs {what} on test images (blank, full and random pixels), more than "
            f"{MAX_PROBE_OUTPUT:g}: the values are finite but far too large to predict or train with")
