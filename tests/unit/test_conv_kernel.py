"""The kernel's convolution paths (patches, col2im, 2x2 max-pooling and its gradient, ReLU's mask)
against the numpy reference in `inkling.network.conv`, on both wasm builds, over random shapes,
paddings and batches; and a convnet's step on the kernel against the same step on numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import engine, kernel_dir, library  # noqa: F401 - the fixtures, shared

from inkling.network import conv
from inkling.network.convnet import ConvNet
from inkling.network.engine import use_engine
from inkling.network.engine.kernel import KernelEngine
from inkling.network.layers import parse_hidden

SHAPES = dict(n=st.integers(1, 3), h=st.integers(1, 13), w=st.integers(1, 13), c=st.integers(1, 9),
              k=st.integers(1, 6), pad=st.integers(0, 3), seed=st.integers(0, 2**16))
FUNCTION_SCOPED = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(max_examples=60, **FUNCTION_SCOPED)
@given(**SHAPES)
def test_patches_and_their_transpose_equal_numpys(engine: KernelEngine, n: int, h: int, w: int, c: int, k: int,
                                                  pad: int, seed: int) -> None:
    if h + 2 * pad < k or w + 2 * pad < k:
        return  # no window fits: the network's limits refuse such a layer
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    before = engine.counts["conv"]  # the engine lives across hypothesis's examples
    cols = engine.patches(x, k, pad)
    np.testing.assert_array_equal(cols, conv.patches(x, k, pad))  # data movement only: bit for bit
    rows = rng.standard_normal(cols.shape).astype(np.float32)
    # Sums of up to k * k of the same values, maybe in another order: within k * k roundings of the largest.
    np.testing.assert_allclose(engine.unpatch(rows, x.shape, k, pad), conv.unpatch(rows, x.shape, k, pad),
                               rtol=0, atol=k * k * 2.0**-23 * float(np.abs(rows).max()))
    assert engine.counts["conv"] == before + 2  # both on the kernel


@settings(max_examples=60, **FUNCTION_SCOPED)
@given(n=st.integers(1, 3), h=st.integers(2, 13), w=st.integers(2, 13), c=st.integers(1, 9),
       ties=st.booleans(), seed=st.integers(0, 2**16))
def test_pooling_and_its_gradient_equal_numpys(engine: KernelEngine, n: int, h: int, w: int, c: int, ties: bool,
                                              seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    if ties:
        x = np.maximum(x, 0)  # after a ReLU: many windows of equal zeros, the first one takes the gradient
    out, where = engine.pool_forward(x)
    want_out, want_where = conv.pool_forward(x)
    np.testing.assert_array_equal(out, want_out)
    np.testing.assert_array_equal(where, want_where)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_array_equal(engine.pool_backward(dout, where, x.shape), conv.pool_backward(dout, where, x.shape))


def test_relus_mask_equals_numpys(engine: KernelEngine) -> None:
    rng = np.random.default_rng(0)
    z = np.maximum(rng.standard_normal(1001).astype(np.float32), 0)
    d = rng.standard_normal(1001).astype(np.float32)
    want = d.copy()
    conv.relu_mask(want, z)
    engine.relu_mask(d, z)
    np.testing.assert_array_equal(d, want)


def test_views_and_other_dtypes_go_to_numpy(engine: KernelEngine) -> None:
    x = np.random.default_rng(1).standard_normal((2, 6, 8, 3))
    np.testing.assert_array_equal(engine.patches(x, 3, 1), conv.patches(x, 3, 1))  # float64
    view = x.astype(np.float32)[:, :, ::2]
    np.testing.assert_array_equal(engine.pool_forward(view)[0], conv.pool_forward(view)[0])
    assert engine.counts["conv"] == 0


@pytest.mark.parametrize("text", ["c16:5,p2,c32:5,p2,128", "c4:3:same,p2,c8:3:same,16"])
def test_a_convnet_step_on_the_kernel_equals_numpys(engine: KernelEngine, text: str) -> None:
    rng = np.random.default_rng(3)
    x = (rng.random((8, 784)) * (rng.random((8, 784)) < 0.2)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    model = ConvNet(parse_hidden(text), seed=1)
    want = model.loss_and_grads(x, y)
    use_engine(engine)
    try:
        got = model.loss_and_grads(x, y)
    finally:
        use_engine(None)
    assert engine.counts["conv"] > 0 and engine.counts["gemm"] > 0
    assert got.loss == pytest.approx(want.loss, rel=1e-5)
    for name, g, w in zip(model.names, got.grads, want.grads):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-5 * np.abs(w).max(), err_msg=name)
