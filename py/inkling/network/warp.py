"""Resampling images: an affine warp with bilinear sampling, and a thicker or thinner pen. The numpy
reference of the kernel's `ink_warp` and `ink_pen` (`inkling.network.engine`), which augmentation runs
on every training batch (`inkling.training.augment` says what it draws)."""

from __future__ import annotations

import numpy as np

PAD = 2  # coordinates clip into a zero border this wide: a point off the image blends only zeros
CLIP_HIGH = 1.001  # ... up to side + PAD - CLIP_HIGH, so its right and lower neighbours are border too
PEN_THICKER, PEN_THINNER = 1, 2  # `pen` modes; 0 leaves an image as it is


def warp(images: np.ndarray, coeffs: np.ndarray, side: int) -> np.ndarray:
    """Each row of ``images`` (``side * side`` values) resampled: output pixel (column x, row y) reads
    the source at ``(c0*x + c1*y + c2, c3*x + c4*y + c5)``, its image's six ``coeffs``, bilinearly;
    what lies outside the image reads 0.

    Returns:
        A new float32 array of the shape of ``images``.
    """
    n = images.shape[0]
    k = np.asarray(coeffs, np.float32).reshape(n, 6, 1)
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float32)
    x, y = cols.reshape(1, -1), rows.reshape(1, -1)
    sx = k[:, 0] * x + k[:, 1] * y + k[:, 2]
    sy = k[:, 3] * x + k[:, 4] * y + k[:, 5]
    np.clip(sx, -PAD, side + PAD - CLIP_HIGH, out=sx)
    np.clip(sy, -PAD, side + PAD - CLIP_HIGH, out=sy)
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    p = side + 2 * PAD
    top_left = (np.arange(n, dtype=np.int32)[:, None] * (p * p)
                + (y0.astype(np.int32) + PAD) * p + (x0.astype(np.int32) + PAD))
    padded = np.zeros((n, p, p), np.float32)
    padded[:, PAD:PAD + side, PAD:PAD + side] = images.reshape(n, side, side)
    flat = padded.reshape(-1)
    top = flat[top_left] * (1 - fx) + flat[top_left + 1] * fx
    bottom = flat[top_left + p] * (1 - fx) + flat[top_left + p + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32, copy=False)


def pen(images: np.ndarray, modes: np.ndarray, side: int) -> None:
    """Redraw, in place, the rows of ``images`` whose mode is `PEN_THICKER` with a thicker pen (halfway
    to their 3x3 maximum, edges repeated) and those `PEN_THINNER` with a thinner one (halfway to their
    3x3 minimum); rows of mode 0 stay as they are."""
    for rows, pick in ((np.flatnonzero(modes == PEN_THICKER), np.maximum),
                       (np.flatnonzero(modes == PEN_THINNER), np.minimum)):
        if rows.size == 0:
            continue
        square = images[rows].reshape(-1, side, side)
        edge = np.pad(square, ((0, 0), (1, 1), (1, 1)), mode="edge")
        spread = square.copy()
        for dy in range(3):
            for dx in range(3):
                pick(spread, edge[:, dy:dy + side, dx:dx + side], out=spread)
        images[rows] = (0.5 * (square + spread)).reshape(len(rows), -1)
