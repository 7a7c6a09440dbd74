"""Augmentation's resampling on the kernel (`ink_warp`, `ink_pen`) against the numpy reference in
`inkling.network.warp`, on both wasm builds, over random batches, sizes and transforms (far off the
image included); and a seeded Augmenter gives the same images on either engine."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import engine, kernel_dir, library  # noqa: F401 - the fixtures, shared

from inkling.network import warp
from inkling.network.engine import NumpyEngine, use_engine
from inkling.network.engine.kernel import KernelEngine
from inkling.training.augment import Augmenter

FUNCTION_SCOPED = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(max_examples=60, **FUNCTION_SCOPED)
@given(n=st.integers(1, 4), side=st.integers(1, 30), spread=st.sampled_from([0.1, 1.0, 3.0, 50.0]),
       seed=st.integers(0, 2**16))
def test_the_warp_equals_numpys(engine: KernelEngine, n: int, side: int, spread: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.random((n, side * side), dtype=np.float32)
    coeffs = np.eye(2, 3).reshape(1, 6) + rng.normal(0, spread / 10, (n, 6))
    coeffs[:, [2, 5]] += rng.normal(0, spread, (n, 2))  # shifts: small, or far off the image
    coeffs = coeffs.astype(np.float32)
    before = engine.counts["augment"]
    got = engine.warp(images, coeffs, side)
    # Bilinear sampling is continuous: a coordinate rounded the other way across a pixel changes
    # the result by rounding only.
    np.testing.assert_allclose(got, warp.warp(images, coeffs, side), rtol=0, atol=2e-6)
    assert engine.counts["augment"] == before + 1


def test_no_transform_is_the_image_exactly(engine: KernelEngine) -> None:
    images = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    identity = np.tile(np.array([1, 0, 0, 0, 1, 0], np.float32), (3, 1))
    assert np.array_equal(engine.warp(images, identity, 28), images)


@settings(max_examples=40, **FUNCTION_SCOPED)
@given(n=st.integers(1, 6), side=st.integers(1, 30), seed=st.integers(0, 2**16))
def test_the_pens_equal_numpys(engine: KernelEngine, n: int, side: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.random((n, side * side), dtype=np.float32)
    modes = rng.integers(0, 3, n).astype(np.uint8)
    want = images.copy()
    warp.pen(want, modes, side)
    engine.pen(images, modes, side)
    np.testing.assert_array_equal(images, want)  # maxima, minima and a halving: bit for bit


def test_a_seeded_augmenter_gives_the_same_images_on_either_engine(engine: KernelEngine) -> None:
    images = np.random.default_rng(1).random((32, 784), dtype=np.float32)
    try:
        use_engine(engine)
        on_kernel = Augmenter(5)(images)
        use_engine(NumpyEngine())
        on_numpy = Augmenter(5)(images)
    finally:
        use_engine(None)
    np.testing.assert_allclose(on_kernel, on_numpy, rtol=0, atol=2e-6)
    assert engine.counts["augment"] == 2  # the warp and the pens both ran on the kernel
