"""Optimizers that update a model's parameters in place: SGD, SGD with momentum, Adam.

Each update is written here in numpy. The engine in use may do the same update in
one fused pass (the WebAssembly kernel does, bit for bit); `_fused` asks it first.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .engine import current_engine

OPTIMIZERS = ("sgd", "momentum", "adam")
# Sensible starting rates when switching optimizer (Adam wants a much smaller one); momentum's is
# the default recipe's.
SUGGESTED_LRATES = {"sgd": 0.2, "momentum": 0.05, "adam": 0.001}


class Optimizer(Protocol):
    """What the trainer needs from an optimizer."""

    name: str
    lr: float

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (which it may overwrite)."""


class SGD:
    """Plain stochastic gradient descent: ``p -= lr * g``."""

    name = "sgd"

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Move every parameter a step of ``lr`` down its gradient."""
        for p, g in zip(params, grads):
            if _fused("sgd", p, g, (), (self.lr,)):
                continue
            g *= p.dtype.type(self.lr)  # in place: gradients are fresh each step, no new arrays
            p -= g


class Momentum:
    """SGD with (heavy-ball) momentum: ``v = momentum * v + g; p -= lr * v``."""

    name = "momentum"

    def __init__(self, lr: float, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self._velocity: list[np.ndarray] = []

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Add the gradient to a decaying running sum and step along that sum."""
        if not self._velocity:
            self._velocity = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self._velocity):
            if _fused("momentum", p, g, (v,), (self.lr, self.momentum)):
                continue
            v *= p.dtype.type(self.momentum)
            v += g
            g[...] = v
            g *= p.dtype.type(self.lr)
            p -= g


class Adam:
    """Adam (Kingma & Ba, 2015): per-parameter steps scaled by running gradient moments."""

    name = "adam"

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr = lr
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._t = 0
        self._m: list[np.ndarray] = []
        self._v: list[np.ndarray] = []

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with bias-corrected moments."""
        if not self._m:
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
        self._t += 1
        b1, b2 = self.beta1, self.beta2
        # Fold both bias corrections into one step size instead of correcting m and v.
        step = self.lr * np.sqrt(1 - b2**self._t) / (1 - b1**self._t)
        eps = self.eps * np.sqrt(1 - b2**self._t)
        for p, g, m, v in zip(params, grads, self._m, self._v):
            f = p.dtype.type
            if _fused("adam", p, g, (m, v), (f(b1), f(1 - b1), f(b2), f(1 - b2), f(step), f(eps))):
                continue
            m *= f(b1)
            m += f(1 - b1) * g
            g *= g
            v *= f(b2)
            v += f(1 - b2) * g
            np.sqrt(v, out=g)
            g += f(eps)
            np.divide(m, g, out=g)
            g *= f(step)
            p -= g


def _fused(rule: str, p: np.ndarray, g: np.ndarray, state: tuple[np.ndarray, ...],
           coeffs: tuple[float, ...]) -> bool:
    """Let the engine do this update in one pass if it can (see `inkling.network.engine.Engine.fused_update`)."""
    return current_engine().fused_update(rule, p, g, state, coeffs)


def make_optimizer(name: str, lr: float) -> Optimizer:
    """The optimizer called ``name`` (``"sgd"``, ``"momentum"`` or ``"adam"``) with rate ``lr``.

    Raises:
        ValueError: ``name`` is not one of `OPTIMIZERS`.
    """
    if name == "sgd":
        return SGD(lr)
    if name == "momentum":
        return Momentum(lr)
    if name == "adam":
        return Adam(lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
