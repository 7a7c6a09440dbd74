"""Times each phase of a convnet training step in the browser worker, on the fastest engine; returns JSON.

Run by the kernel timing page with ``?script=convnet_timing`` (the convnet bench family): where a
step of ``c16:5,p2,c32:5,p2,128`` spends its time, so a kernel path goes where it pays.
"""
from __future__ import annotations

import json

import numpy as np
from kernel_timing import _seconds

from inkling.training.augment import Augmenter
from inkling.network.convnet import ConvNet, conv_forward
from inkling.network.engine import use_engine
from inkling.network.engine.select import load_engine
from inkling.network.layers import parse_hidden
from inkling.network.optim import make_optimizer

NETWORK = "c16:5,p2,c32:5,p2,128"


def run(quick: bool) -> str:
    budget = 0.1 if quick else 0.4
    engine, _ = load_engine("wasm relaxed-simd")
    use_engine(engine)
    rng = np.random.default_rng(0)
    results: dict = {"engine": engine.name}
    for batch in (32, 64):
        x = (rng.random((batch, 28, 28, 1)) * (rng.random((batch, 28, 28, 1)) < 0.19)).astype(np.float32)
        model = ConvNet(parse_hidden(NETWORK), 0)
        W1, b1, W2, b2 = model.params[:4]
        z1, c1 = conv_forward(x, W1, b1, 0)
        np.maximum(z1, 0, out=z1)
        p1, where1 = engine.pool_forward(z1)
        z2, c2 = conv_forward(p1, W2, b2, 0)
        np.maximum(z2, 0, out=z2)
        p2, where2 = engine.pool_forward(z2)
        d_p2 = rng.standard_normal(p2.shape).astype(np.float32)
        d_z2 = rng.standard_normal(z2.shape).astype(np.float32)
        d_p1 = rng.standard_normal(p1.shape).astype(np.float32)
        d_z1 = rng.standard_normal(z1.shape).astype(np.float32)
        rows2 = d_z2.reshape(-1, 32)
        phases = {
            "conv1 patches": lambda: engine.patches(x, 5, 0),
            "conv1 forward (patches + product + bias)": lambda: conv_forward(x, W1, b1, 0),
            "relu1": lambda: np.maximum(z1, 0, out=z1),
            "pool1 forward": lambda: engine.pool_forward(z1),
            "conv2 patches": lambda: engine.patches(p1, 5, 0),
            "conv2 forward (patches + product + bias)": lambda: conv_forward(p1, W2, b2, 0),
            "pool2 forward": lambda: engine.pool_forward(z2),
            "pool2 backward": lambda: engine.pool_backward(d_p2, where2, z2.shape),
            "relu2 mask": lambda: engine.relu_mask(d_z2, z2),
            "conv2 dW product": lambda: engine.matmul(rows2.T, c2.cols),
            "conv2 dpatches product": lambda: engine.matmul(rows2, c2.filters),
            "conv2 unpatch (col2im)": lambda: engine.unpatch(np.zeros((batch * 64, 400), np.float32), p1.shape, 5, 0),
            "pool1 backward": lambda: engine.pool_backward(d_p1, where1, z1.shape),
            "relu1 mask": lambda: engine.relu_mask(d_z1, z1),
            "conv1 dW product": lambda: engine.matmul(d_z1.reshape(-1, 16).T, c1.cols),
            "conv1 dW as (cols.T @ rows).T": lambda: engine.matmul(c1.cols.T, d_z1.reshape(-1, 16)),
            "conv1 forward product": lambda: engine.matmul(c1.cols, c1.filters.T),
            "conv1 forward product, filters.T copied": lambda: engine.matmul(c1.cols, np.ascontiguousarray(c1.filters.T)),
            "conv2 forward product": lambda: engine.matmul(c2.cols, c2.filters.T),
            "conv2 forward product, filters.T copied": lambda: engine.matmul(c2.cols, np.ascontiguousarray(c2.filters.T)),
            "conv2 dW as (cols.T @ rows).T": lambda: engine.matmul(c2.cols.T, rows2),
        }
        augment = Augmenter(0)
        images = (rng.random((batch, 784)) * (rng.random((batch, 784)) < 0.19)).astype(np.float32)
        phases["augmentation (shift, turn, stretch, slant, pens)"] = lambda: augment(images)
        timings = {name: _seconds(fn, budget) * 1e3 for name, fn in phases.items()}
        xs = x.reshape(batch, 784)
        y = rng.integers(0, 10, batch)
        opt = make_optimizer("momentum", 0.05)
        timings["whole step (loss_and_grads + momentum)"] = _seconds(
            lambda: opt.step(model.params, model.loss_and_grads(xs, y).grads), budget) * 1e3
        results[f"b{batch}"] = {name: round(ms, 3) for name, ms in timings.items()}
        results[f"b{batch}"]["samples_per_s"] = round(batch / timings["whole step (loss_and_grads + momentum)"] * 1e3, 1)
    use_engine(None)
    return json.dumps(results)
