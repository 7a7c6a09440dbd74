"""Data augmentation: each training image shifted, rotated, stretched, slanted and redrawn with a
thicker or thinner pen, differently every time.

A network that has only seen MNIST's writers misreads digits written in other styles: narrower or
wider, slanted, drawn with a thick marker or a fine pen. Showing it each training image under a
random affine transform (rotation, a stretch along each axis, a shear, a shift) and, one time in
three each, a thicker or a thinner stroke teaches it that those are the same digit. Measured
offline (shared/RUNTIME.md): on digits by 13 writers outside MNIST, a 784-256-10 MLP read 82% with
shift/rotate/scale alone and 89% with these; the recipe's convnet 93-96%. The transforms come from
their own generator, seeded by the run's seed, so a run with augmentation is as reproducible as
one without. The resampling runs on the engine (the kernel's `ink_warp` and `ink_pen`, else numpy's
`inkling.network.warp`): in numpy it took a sixth of a convnet's step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network.engine import current_engine
from ..network.warp import PEN_THICKER, PEN_THINNER


@dataclass(frozen=True)
class Distortion:
    """How far an image may change: each bound is the largest change, drawn uniformly in ±bound.

    Attributes:
        shift: Pixels, along each axis.
        degrees: Rotation about the image's centre.
        scale_x, scale_y: Relative change of width and of height, each its own (0.25: 75% to 125%).
        shear: Horizontal slant: a row moves by this times its height above the centre.
        pens: The share of images redrawn with a thicker pen, and again with a thinner one.
    """

    shift: float = 2.0
    degrees: float = 12.0
    scale_x: float = 0.25
    scale_y: float = 0.15
    shear: float = 0.3
    pens: float = 1 / 3


DEFAULT_DISTORTION = Distortion()


class Augmenter:
    """Distorts batches of square images (rows of ``side * side`` values in [0, 1])."""

    def __init__(self, seed: int, side: int = 28, distortion: Distortion = DEFAULT_DISTORTION) -> None:
        """Create an augmenter whose sequence of transforms depends only on ``seed``."""
        self.side = side
        self.distortion = distortion
        self._rng = np.random.default_rng(seed)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """A new float32 array: each row of ``images`` under its own random transform and pen."""
        n, d, rng = images.shape[0], self.distortion, self._rng
        degrees = rng.uniform(-d.degrees, d.degrees, n)
        scales = np.stack([rng.uniform(1.0 - d.scale_x, 1.0 + d.scale_x, n),
                           rng.uniform(1.0 - d.scale_y, 1.0 + d.scale_y, n)], axis=1)
        shear = rng.uniform(-d.shear, d.shear, n)
        shifts = rng.uniform(-d.shift, d.shift, (n, 2))
        pen = rng.random(n)
        out = distort(images, degrees, scales, shifts, self.side, shear)
        return redraw(out, thicker=pen < d.pens, thinner=(pen >= d.pens) & (pen < 2 * d.pens), side=self.side)


def affine_coeffs(degrees: np.ndarray, scales: np.ndarray, shifts: np.ndarray, side: int = 28,
                  shear: np.ndarray | None = None) -> np.ndarray:
    """The six coefficients per image (`inkling.network.warp.warp`'s) of this transform: scaled about
    the centre by ``scales`` (one factor, or a column ``(x, y)`` pair per image), slanted by ``shear``
    (a row moves right by shear times its height above the centre), rotated by ``degrees``
    (counter-clockwise as seen), then moved by ``shifts`` (pixels right, pixels down).

    Each output pixel reads the source at the inverse map of its own position, so these are the
    inverse's: ``(n, 6)`` float32.
    """
    n = len(degrees)
    centre = (side - 1) / 2
    scales = np.asarray(scales, np.float64).reshape(n, -1)
    scale_x, scale_y = scales[:, 0], scales[:, -1]
    slant = np.zeros(n) if shear is None else np.asarray(shear, np.float64)
    # The forward map in (column, row), rows growing downwards: scale, then slant (up is -row, so
    # a row above the centre moves right), then turn (counter-clockwise on screen is clockwise here).
    angle = np.radians(degrees)
    cos, sin = np.cos(angle), np.sin(angle)
    # forward = [[cos, sin], [-sin, cos]] @ [[1, -slant], [0, 1]] @ diag(scale_x, scale_y)
    f11, f12 = cos * scale_x, (-cos * slant + sin) * scale_y
    f21, f22 = -sin * scale_x, (sin * slant + cos) * scale_y
    det = f11 * f22 - f12 * f21
    i11, i12, i21, i22 = f22 / det, -f12 / det, -f21 / det, f11 / det
    # source = inverse @ (output - centre - shift) + centre, written as c0*x + c1*y + c2 (and c3..c5)
    ox = centre + np.asarray(shifts, np.float64)[:, 0]
    oy = centre + np.asarray(shifts, np.float64)[:, 1]
    return np.stack([i11, i12, centre - i11 * ox - i12 * oy, i21, i22, centre - i21 * ox - i22 * oy],
                    axis=1).astype(np.float32)


def distort(images: np.ndarray, degrees: np.ndarray, scales: np.ndarray, shifts: np.ndarray,
            side: int = 28, shear: np.ndarray | None = None) -> np.ndarray:
    """Each row of ``images`` under the transform `affine_coeffs` describes, sampled bilinearly on the
    current engine; what comes from outside the image reads as background (0).

    Returns:
        A new float32 array of the shape of ``images``.
    """
    images = np.ascontiguousarray(images, np.float32)
    return current_engine().warp(images, affine_coeffs(degrees, scales, shifts, side, shear), side)


def redraw(images: np.ndarray, thicker: np.ndarray, thinner: np.ndarray, side: int = 28) -> np.ndarray:
    """``images`` with the rows marked ``thicker`` drawn with a thicker pen (halfway to their 3x3
    maximum), and those marked ``thinner`` with a thinner one (halfway to their 3x3 minimum). In place."""
    modes = np.where(thicker, PEN_THICKER, np.where(thinner, PEN_THINNER, 0)).astype(np.uint8)
    current_engine().pen(images, modes, side)
    return images
