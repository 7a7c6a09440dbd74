"""The first layer as pictures: one tile per hidden unit or filter (its incoming weights, or what it
made of a drawing: `inkling.network.responses`).

Pure numpy (the page draws the result onto a canvas), so it runs and is tested in CPython too.
"""

from __future__ import annotations

import math

import numpy as np

GAP = 1  # pixels between tiles (the background shows through)
Rgb = tuple[int, int, int]


def tile_columns(units: int) -> int:
    """How many tiles a row holds: about twice as wide as tall (16 x 8 for 128 units)."""
    return max(1, math.ceil(math.sqrt(2 * units)))


def picture_palette(zero: Rgb, positive: Rgb, negative: Rgb, background: Rgb) -> np.ndarray:
    """257 RGBA pixels packed as little-endian uint32: -1 (index 0, ``negative``) through ``zero`` (127
    and 128, where 0 lands) to +1 (255, ``positive``), then the ``background`` between tiles (256)."""
    strength = ((np.abs(np.arange(256, dtype=np.float32) - 127.5) - 0.5) / 127)[:, None]
    colour = np.where(np.arange(256)[:, None] >= 128, np.float32(positive), np.float32(negative))
    rgb = np.round(np.float32(zero) + (colour - np.float32(zero)) * strength).astype(np.uint8)
    rgba = np.full((257, 4), 255, np.uint8)
    rgba[:256, :3] = rgb
    rgba[256, :3] = background
    return rgba.view("<u4").reshape(257)


# The light page's: white is 0, its accent excites, its "wrong" red inhibits (the dark page's is
# inkling.page.theme's).
BACKGROUND = (236, 238, 244)
PALETTE = picture_palette(zero=(255, 255, 255), positive=(79, 70, 229), negative=(229, 72, 77),
                          background=BACKGROUND)
BACKGROUND_INDEX = 256


def weights_picture(w1: np.ndarray, side: int = 28, columns: int | None = None,
                    shared_scale: bool = False, palette: np.ndarray = PALETTE) -> np.ndarray:
    """RGBA pixels ``(height, width, 4)`` uint8 of every unit of ``w1`` (``(side*side, units)``).

    Each tile is scaled by its own largest value, so a unit's pattern shows whatever its size;
    ``shared_scale`` scales all by the largest of all instead, so tiles compare (which filter
    responds most to a drawing). ``palette`` (`picture_palette`) colours 0, +1, -1 and the gaps. Drawn once a second on the page's main
    thread, so it is a few whole-array steps on small types: palette indices are laid out in the
    grid first (2 bytes each), then one lookup writes whole RGBA pixels (4 bytes at once).
    """
    inputs, units = w1.shape
    if inputs != side * side:
        raise ValueError(f"the first layer takes {inputs} inputs, not {side}x{side} pixels")
    columns = columns or tile_columns(units)
    rows = math.ceil(units / columns)
    scale = np.abs(w1).max(axis=0)
    if shared_scale:
        scale[:] = scale.max(initial=0)
    scale[scale == 0] = 1
    index = w1 / scale
    index += 1
    index *= np.float32(127.5)
    np.rint(index, out=index)
    step = side + GAP
    # Tiles of step x step whose last row and column are the gap; empty places are background.
    grid = np.full((rows, step, columns, step), BACKGROUND_INDEX, np.uint16)
    by_unit = np.full((side, side, rows * columns), BACKGROUND_INDEX, np.uint16)
    by_unit[:, :, :units] = index.reshape(side, side, units)
    grid[:, :side, :, :side] = by_unit.reshape(side, side, rows, columns).transpose(2, 0, 3, 1)
    height, width = rows * step - GAP, columns * step - GAP
    pixels = palette[grid.reshape(rows * step, columns * step)[:height, :width]]
    return pixels.view(np.uint8).reshape(height, width, 4)
