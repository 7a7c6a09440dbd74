"""A photo or scan of a written digit as ink: what a drawing on the page is (ink bright, background 0),
so `inkling.data.drawing.preprocess_drawing` can do the rest as it does for a drawing.

A photo of paper is not a drawing: the ink is dark on light paper, the light falls unevenly (one corner
brighter, a shadow across), and paper and sensor add grain. So the paper's own brightness is estimated
everywhere (the bright end of each tile of the picture, smoothed across tiles), the ink is the share of
its paper's light a pixel lacks, and what is faint against the darkest stroke (grain, the paper's
texture) is dropped unless it lies beside a stroke. A picture with transparency is read as the page reads its canvas: its alpha is
the ink, whatever the colour. The page (a dropped, picked or pasted image) and ``python -m inkling
predict`` (image files) both read pictures with this one function.
"""

from __future__ import annotations

import numpy as np

TILES = 6  # the paper's brightness is estimated on a grid of this many tiles a side
PAPER = 75  # percentile of a tile's grey levels taken as its paper (most of a tile is paper) ...
# ... unless its neighbours' median is brighter: a tile a stroke fills shows no paper, and a median of
# the tiles around one is not moved by light that changes evenly across the page.
FAINT = 0.2  # ink fainter than this share of the darkest stroke is paper texture, not ink
STROKE = 0.5  # ink this dark (against the darkest) is a stroke for sure; fainter ink must be beside one
MAX_SIDE = 560  # a larger picture is read at this size (twice the page's canvas): plenty for one digit


def ink_of_picture(rgba: np.ndarray) -> np.ndarray:
    """The ink of an RGBA picture ``(h, w, 4)`` (uint8, or floats in [0, 255]) as ``(h, w)`` float32 in
    [0, 1], ink bright and paper 0; all 0 if there is no ink to see.

    Raises:
        ValueError: Not an ``(h, w, 4)`` picture with pixels.
    """
    cut_out = cut_out_ink(rgba)
    if cut_out is not None:
        return cut_out
    grey = grey_of_picture(rgba)
    if np.median(grey) < 0.5:  # light ink on a dark ground (a blackboard, MNIST itself): already ink-bright
        grey = 1 - grey
    # Light multiplies: what a stroke absorbs is its share of its own paper's light, in the shadow too.
    ink = np.clip(1 - grey / np.maximum(_paper(grey), 1e-3), 0, None)
    darkest = float(ink.max())
    if darkest <= 0.05:  # no stroke stands out from its paper: a blank page
        return np.zeros(grey.shape, np.float32)
    ink /= darkest
    # Faint ink counts only beside a stroke (its soft edge); away from one it is grain.
    ink[(ink < FAINT) | (_near(ink >= STROKE, 2) == 0)] = 0
    return ink.astype(np.float32)


def cut_out_ink(rgba: np.ndarray) -> np.ndarray | None:
    """A picture's alpha as ink ``(h, w)`` float32 in [0, 1] if it is strokes on a transparent background
    (the page's own canvas, or a cut-out: some pixels wholly transparent), else None.

    Raises:
        ValueError: Not an ``(h, w, 4)`` picture with pixels.
    """
    picture = np.asarray(rgba)
    if picture.ndim != 3 or picture.shape[2] != 4 or 0 in picture.shape[:2]:
        raise ValueError(f"expected an RGBA picture (h, w, 4), got shape {picture.shape}")
    alpha = picture[..., 3].astype(np.float32) / 255
    return alpha if alpha.min() == 0 else None


def grey_of_picture(rgba: np.ndarray) -> np.ndarray:
    """A picture's grey levels ``(h, w)`` float32 in [0, 1] (luma), composited over white paper where it
    is partly transparent."""
    picture = np.asarray(rgba, np.float32)
    alpha = picture[..., 3] / 255
    grey = picture[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    return grey * alpha + (1 - alpha)


def _near(mask: np.ndarray, reach: int) -> np.ndarray:
    """How many set pixels each pixel has within ``reach`` pixels (a square), itself included."""
    side = 2 * reach + 1
    padded = np.pad(mask.astype(np.int16), reach)
    h, w = mask.shape
    return sum(padded[dy:dy + h, dx:dx + w] for dy in range(side) for dx in range(side))


def _paper(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness at every pixel: the `PAPER` percentile of each of `TILES` x `TILES` tiles,
    or its neighbourhood's median if brighter, interpolated between the tiles' centres (uneven light
    changes slowly across a page; a stroke is thin)."""
    h, w = grey.shape
    rows = np.linspace(0, h, min(TILES, h) + 1).astype(int)
    cols = np.linspace(0, w, min(TILES, w) + 1).astype(int)
    tiles = np.array([[np.percentile(grey[r0:r1, c0:c1], PAPER) for c0, c1 in zip(cols[:-1], cols[1:])]
                      for r0, r1 in zip(rows[:-1], rows[1:])], np.float32)
    edged = np.pad(tiles, 1, mode="edge")
    around = np.median([edged[dy:dy + len(tiles), dx:dx + tiles.shape[1]] for dy in range(3) for dx in range(3)],
                       axis=0)
    levels = np.maximum(tiles, around)
    # Bilinear between the tiles' centres, one axis at a time: (h, tiles) @ levels @ (tiles, w).
    return (_spread(h, rows) @ levels @ _spread(w, cols).T).astype(np.float32)


def _spread(n: int, edges: np.ndarray) -> np.ndarray:
    """``(n, tiles)``: how much of each tile's level (at its centre, between ``edges``) each of ``n``
    pixels takes by linear interpolation, flat beyond the outer centres."""
    centres = (edges[:-1] + edges[1:] - 1) / 2
    unit = np.eye(len(centres))
    return np.stack([np.interp(np.arange(n), centres, unit[k]) for k in range(len(centres))], axis=1)


def reading_size(width: int, height: int) -> tuple[int, int]:
    """The size a picture of ``width`` x ``height`` is read at: the same, or scaled down (keeping its
    shape) so its longer side is `MAX_SIDE`."""
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
