"""Turn a user's drawing into MNIST-like input, the way MNIST itself was made.

MNIST digits were cropped to their ink, scaled with anti-aliasing to fit a 20x20
box keeping their aspect ratio, and placed in a 28x28 field so that their centre
of mass sits at the centre. A drawn digit that skips these steps (drawn small, or
in a corner) looks unlike anything the network was trained on.
"""

from __future__ import annotations

import math

import numpy as np

SIDE = 28  # MNIST images are 28x28 ...
BOX = 20  # ... with the digit scaled to fit 20x20 inside
INK = 0.05  # fraction of the darkest stroke below which a pixel counts as background


def preprocess_drawing(drawing: np.ndarray) -> np.ndarray:
    """MNIST-like input from a grayscale drawing.

    Args:
        drawing: 2-D array of any size and scale (0..1, 0..255, ...), ink high and
            background 0, like MNIST (white ink on black). A canvas's alpha channel
            is exactly this.

    Returns:
        ``(784,)`` float32 in [0, 1]: the ink cropped, fitted into 20x20 keeping its
        aspect ratio, and centred by its centre of mass in 28x28. A drawing without
        ink gives all zeros.

    Raises:
        ValueError: ``drawing`` is not a non-empty 2-D array of finite real numbers.
    """
    image = np.asarray(drawing)
    if image.ndim != 2 or image.size == 0 or image.dtype.kind not in "biuf":
        raise ValueError(f"expected a non-empty 2-D grayscale array, got shape {image.shape} of {image.dtype}")
    image = np.clip(image.astype(np.float64), 0, None)
    if not np.isfinite(image).all():
        raise ValueError("the drawing holds NaN or infinite values")
    out = np.zeros((SIDE, SIDE), np.float32)
    peak = image.max()
    if peak <= 0:
        return out.ravel()
    image /= peak

    # Crop to the bounding box of the ink.
    rows = np.flatnonzero((image > INK).any(axis=1))
    cols = np.flatnonzero((image > INK).any(axis=0))
    image = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    # Fit the longer side to 20 pixels, averaging the area each new pixel covers.
    h, w = image.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    digit = _area_matrix(h, nh) @ image @ _area_matrix(w, nw).T
    digit /= digit.max()  # MNIST strokes reach full intensity; thin scaled strokes would not

    # Place it so its centre of mass lands on the centre pixel (as in MNIST, index 14).
    mass = digit.sum()
    com_y = (digit.sum(axis=1) @ np.arange(nh)) / mass
    com_x = (digit.sum(axis=0) @ np.arange(nw)) / mass
    top = min(max(int(round(SIDE / 2 - com_y)), 0), SIDE - nh)  # clamped so no ink is cut off
    left = min(max(int(round(SIDE / 2 - com_x)), 0), SIDE - nw)
    out[top : top + nh, left : left + nw] = digit
    return out.ravel()


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights that resample a line of pixels by averaging covered area.

    Output pixel ``j`` covers source interval ``[j, j+1) * n_in / n_out``; its weight
    on source pixel ``i`` is the overlap of the two intervals, so rows sum to 1.
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)
    src = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], src + 1) - np.maximum(edges[:-1, None], src)
    return np.clip(overlap, 0, None) * (n_out / n_in)


Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)


def grow_ink_box(box: Box | None, points: list[tuple[float, float]], reach: float, size: int) -> Box:
    """The area of a ``size``-pixel square canvas that holds ink: ``box`` grown by discs of radius
    ``reach`` at ``points`` (the segments between them lie inside), clipped to the canvas, never empty."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    grown = (min(xs) - reach, min(ys) - reach, max(xs) + reach, max(ys) + reach)
    if box is not None:
        grown = (min(grown[0], box[0]), min(grown[1], box[1]), max(grown[2], box[2]), max(grown[3], box[3]))
    left, top = min(max(0, math.floor(grown[0])), size - 1), min(max(0, math.floor(grown[1])), size - 1)
    right, bottom = min(size, math.ceil(grown[2])), min(size, math.ceil(grown[3]))
    return left, top, max(right, left + 1), max(bottom, top + 1)
