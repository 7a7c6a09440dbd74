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


def _palette() -> np.ndarray:
    """256 colours from -1 (index 0) through white (127 and 128, where 0 lands) to +1 (255)."""
    strength = ((np.abs(np.arange(256, dtype=np.float32) - 127.5) - 0.5) / 127)[:, None]
    colour = np.where(np.arange(256)[:, None] >= 128, POSITIVE, NEGATIVE)
    return np.round(WHITE + (colour - WHITE) * strength).astype(np.uint8)


PALETTE = _palette()


def weights_picture(w1: np.ndarray, side: int = 28, columns: int | None = None) -> np.ndarray:
    """RGBA pixels ``(height, width, 4)`` uint8 of every unit of ``w1`` (``(side*side, units)``).

    Each tile is scaled by its own largest weight, so a unit's pattern shows whatever its size:
    white is 0, the accent colour positive, red negative. Drawn once a second on the page's main
    thread, so it is a few whole-array steps: a palette lookup and one reshuffle into the grid.
    """
    inputs, units = w1.shape
    if inputs != side * side:
        raise ValueError(f"the first layer takes {inputs} inputs, not {side}x{side} pixels")
    columns = columns or tile_columns(units)
    rows = math.ceil(units / columns)
    scale = np.abs(w1).max(axis=0)
    scale[scale == 0] = 1
    index = np.rint((w1 / scale + 1) * np.float32(127.5)).astype(np.uint8)  # (inputs, units)
    step = side + GAP
    # Tiles of step x step whose last row and column are the gap; empty places are background.
    tiles = np.empty((rows * columns, step, step, 4), np.uint8)
    tiles[...] = (*BACKGROUND, 255)
    tiles[:units, :side, :side, :3] = PALETTE[index.T.reshape(units, side, side)]
    grid = tiles.reshape(rows, columns, step, step, 4).transpose(0, 2, 1, 3, 4).reshape(rows * step, columns * step, 4)
    return np.ascontiguousarray(grid[:-GAP, :-GAP])
