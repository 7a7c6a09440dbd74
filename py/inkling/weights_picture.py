"""The first layer's weights as pictures: each hidden unit's incoming weights, one 28x28 tile each.

Pure numpy (the page draws the result onto a canvas), so it runs and is tested in CPython too.
"""

from __future__ import annotations

import math

import numpy as np

GAP = 1  # pixels between tiles (the background shows through)
BACKGROUND = (236, 238, 244)
POSITIVE = np.array([79, 70, 229], np.float32)  # the page's accent: weights that excite the unit
NEGATIVE = np.array([229, 72, 77], np.float32)  # the page's "wrong": weights that inhibit it
WHITE = np.array([255, 255, 255], np.float32)


def tile_columns(units: int) -> int:
    """How many tiles a row holds: about twice as wide as tall (16 x 8 for 128 units)."""
    return max(1, math.ceil(math.sqrt(2 * units)))


def weights_picture(w1: np.ndarray, side: int = 28, columns: int | None = None) -> np.ndarray:
    """RGBA pixels ``(height, width, 4)`` uint8 of every unit of ``w1`` (``(side*side, units)``).

    Each tile is scaled by its own largest weight, so a unit's pattern shows whatever its size:
    white is 0, the accent colour positive, red negative.
    """
    inputs, units = w1.shape
    if inputs != side * side:
        raise ValueError(f"the first layer takes {inputs} inputs, not {side}x{side} pixels")
    columns = columns or tile_columns(units)
    rows = math.ceil(units / columns)
    scale = np.abs(w1).max(axis=0)
    scaled = w1 / np.where(scale > 0, scale, 1)  # (inputs, units) in [-1, 1]
    strength = np.abs(scaled)[..., None]
    colour = np.where(scaled[..., None] >= 0, POSITIVE, NEGATIVE)
    pixels = (WHITE + (colour - WHITE) * strength).astype(np.uint8)  # (inputs, units, 3)
    tiles = pixels.transpose(1, 0, 2).reshape(units, side, side, 3)
    step = side + GAP
    out = np.empty((rows * step - GAP, columns * step - GAP, 4), np.uint8)
    out[..., :3] = BACKGROUND
    out[..., 3] = 255
    for unit in range(units):
        r, c = divmod(unit, columns)
        out[r * step:r * step + side, c * step:c * step + side, :3] = tiles[unit]
    return out
