"""Data augmentation: each training image slightly shifted, rotated and scaled, differently every time.

A network that has only seen MNIST's centred, upright digits misreads the ones a person draws a
little off-centre, tilted or small. Showing it each training image under a small random affine
transform teaches it that those are the same digit, and lets a wider network train longer before
it overfits. The transforms come from their own generator, seeded by the run's seed, so a run
with augmentation is as reproducible as one without.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_PAD = 2  # zero border, so every bilinear neighbour of a clipped coordinate is a real index


@dataclass(frozen=True)
class Distortion:
    """How far an image may move: each bound is the largest change, drawn uniformly in ±bound.

    Attributes:
        shift: Pixels, along each axis.
        degrees: Rotation about the image's centre.
        scale: Relative change of size (0.1: from 90% to 110%).
    """

    shift: float = 2.0
    degrees: float = 12.0
    scale: float = 0.12


DEFAULT_DISTORTION = Distortion()


class Augmenter:
    """Distorts batches of square images (rows of ``side * side`` values in [0, 1])."""

    def __init__(self, seed: int, side: int = 28, distortion: Distortion = DEFAULT_DISTORTION) -> None:
        """Create an augmenter whose sequence of transforms depends only on ``seed``."""
        self.side = side
        self.distortion = distortion
        self._rng = np.random.default_rng(seed)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """A new float32 array: each row of ``images`` under its own random transform."""
        n, d, rng = images.shape[0], self.distortion, self._rng
        degrees = rng.uniform(-d.degrees, d.degrees, n)
        scales = rng.uniform(1.0 - d.scale, 1.0 + d.scale, n)
        shifts = rng.uniform(-d.shift, d.shift, (n, 2))
        return distort(images, degrees, scales, shifts, self.side)


def distort(images: np.ndarray, degrees: np.ndarray, scales: np.ndarray, shifts: np.ndarray,
            side: int = 28) -> np.ndarray:
    """Each row of ``images`` rotated by its ``degrees`` (counter-clockwise as seen), scaled by its
    ``scales`` about the centre, then moved by its ``shifts`` (pixels right, pixels down).

    Sampling is bilinear; what comes from outside the image reads as background (0).

    Returns:
        A new float32 array of the shape of ``images``.
    """
    n = images.shape[0]
    centre = np.float32((side - 1) / 2)
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float32)
    u, v = (cols - centre).ravel(), (rows - centre).ravel()  # each output pixel about the centre
    # Each output pixel reads the source at the inverse transform of its own position. Rows grow
    # downwards, so a counter-clockwise turn on screen is a clockwise one in (column, row).
    angle = np.radians(degrees)
    cos = (np.cos(angle) / scales).astype(np.float32)[:, None]
    sin = (np.sin(angle) / scales).astype(np.float32)[:, None]
    du = u - shifts[:, :1].astype(np.float32)
    dv = v - shifts[:, 1:].astype(np.float32)
    sx = cos * du - sin * dv + centre
    sy = sin * du + cos * dv + centre
    # Clip into the zero border: a coordinate off the image then blends only zeros.
    np.clip(sx, -_PAD, side + _PAD - 1.001, out=sx)
    np.clip(sy, -_PAD, side + _PAD - 1.001, out=sy)
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    p = side + 2 * _PAD
    top_left = (np.arange(n, dtype=np.int32)[:, None] * (p * p)
                + (y0.astype(np.int32) + _PAD) * p + (x0.astype(np.int32) + _PAD))
    padded = np.zeros((n, p, p), np.float32)
    padded[:, _PAD:_PAD + side, _PAD:_PAD + side] = images.reshape(n, side, side)
    flat = padded.reshape(-1)
    top = flat[top_left] * (1 - fx) + flat[top_left + 1] * fx
    bottom = flat[top_left + p] * (1 - fx) + flat[top_left + p + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32, copy=False)
