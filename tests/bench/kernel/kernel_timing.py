"""Times each product of a training step on every engine, in the browser worker; returns JSON.

GFLOPS counts 2*m*n*k per product for every engine, sparse ones included, so the
sparse path's number is what the dense product would need to match it.
"""
from __future__ import annotations

import json
import time

import numpy as np

from inkling.network.engine import use_engine
from inkling.network.engine.select import load_engine
from inkling.network.mlp import MLP
from inkling.network.optim import make_optimizer

DENSITY = 0.19  # MNIST's share of non-zero pixels (shared/RUNTIME.md)


def _seconds(fn, budget_s: float) -> float:
    """Median seconds of one call over repeated batches of calls (the worker's clock is coarse)."""
    fn()
    reps, samples = 1, []
    while True:  # enough calls per sample that the clock's 0.1 ms steps do not matter
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = time.perf_counter() - t
        if dt >= 0.02:
            break
        reps *= 2
    end = time.perf_counter() + budget_s
    while time.perf_counter() < end or len(samples) < 3:
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - t) / reps)
    return sorted(samples)[len(samples) // 2]


def run(quick: bool) -> str:
    budget = 0.1 if quick else 0.5
    rng = np.random.default_rng(0)
    results: dict = {}
    for choice in ("wasm relaxed-simd", "wasm simd128", "numpy"):
        started = time.perf_counter()  # the first load of each build: compile + self-test, as at start-up
        engine, notes = load_engine(choice)
        load_ms = (time.perf_counter() - started) * 1000
        if engine.name != choice:
            results[choice] = {"unavailable": notes}
            continue
        use_engine(engine)
        timings: dict = {}
        for batch, hidden in ((64, 128), (256, 128), (64, 512)):
            x = rng.random((batch, 784), dtype=np.float32)
            x[rng.random((batch, 784)) >= DENSITY] = 0
            w1 = rng.standard_normal((784, hidden)).astype(np.float32)
            w2 = rng.standard_normal((hidden, 10)).astype(np.float32)
            h = np.maximum(x @ w1, 0)
            d1 = rng.standard_normal((batch, hidden)).astype(np.float32)
            d2 = rng.standard_normal((batch, 10)).astype(np.float32)
            dense_x = rng.random((batch, 784), dtype=np.float32)

            def backward_first_layer():
                engine.matmul(x, w1)  # the forward product lists x; the backward one reuses it
                engine.matmul(x.T, d1)

            forward_s = _seconds(lambda: engine.matmul(x, w1), budget)
            products = {
                "X @ W1 (pixels)": (forward_s, batch, hidden, 784),
                "X.T @ dH (pixels)": (_seconds(backward_first_layer, budget) - forward_s, 784, hidden, batch),
                "X @ W1 (dense input)": (_seconds(lambda: engine.matmul(dense_x, w1), budget), batch, hidden, 784),
                "H @ W2": (_seconds(lambda: engine.matmul(h, w2), budget), batch, 10, hidden),
                "H.T @ d2": (_seconds(lambda: engine.matmul(h.T, d2), budget), hidden, 10, batch),
                "d2 @ W2.T": (_seconds(lambda: engine.matmul(d2, w2.T), budget), batch, hidden, 10),
            }
            model, opt = MLP((784, hidden, 10), 0), make_optimizer("momentum", 0.05)
            y = rng.integers(0, 10, batch)

            def step():
                opt.step(model.params, model.loss_and_grads(x, y).grads)

            step_s = _seconds(step, budget)
            timings[f"784-{hidden}-10/b{batch}"] = {
                **{name: {"us": s * 1e6, "gflops": 2 * m * n * k / s / 1e9 if s > 0 else None}
                   for name, (s, m, n, k) in products.items()},
                "step (loss_and_grads + momentum)": {"us": step_s * 1e6, "samples_per_s": batch / step_s},
            }
        results[choice] = {"load_ms": load_ms, "timings": timings}
    use_engine(None)
    return json.dumps(results)
