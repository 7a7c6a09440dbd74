"""Digits as a person draws them on the page: pen strokes, tilted, slanted, squeezed, thin or bold.

Each digit has one or two stroke templates (points in the unit square, y down). `drawn_digits`
varies them the ways hand-drawn digits vary, draws them with a round pen of some width, and
turns each drawing into the network's input with the page's own `preprocess_drawing`.
"""
from __future__ import annotations

import math

import numpy as np

from inkling.data.drawing import preprocess_drawing

Stroke = list[tuple[float, float]]
CANVAS = 112  # pixels a side: the page's tile canvas is about this size


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 32) -> Stroke:
    return [(cx + rx * math.sin(2 * math.pi * k / n), cy - ry * math.cos(2 * math.pi * k / n)) for k in range(n + 1)]


def _arc(cx: float, cy: float, rx: float, ry: float, start_deg: float, end_deg: float, n: int = 16) -> Stroke:
    """Clockwise on screen from ``start_deg`` to ``end_deg``, 0 at the top."""
    return [(cx + rx * math.sin(math.radians(a)), cy - ry * math.cos(math.radians(a)))
            for a in np.linspace(start_deg, end_deg, n)]


TEMPLATES: dict[int, list[list[Stroke]]] = {
    0: [[_ellipse(0.5, 0.5, 0.2, 0.32)], [_ellipse(0.5, 0.5, 0.26, 0.3)]],
    1: [[[(0.5, 0.15), (0.5, 0.85)]], [[(0.36, 0.3), (0.52, 0.15), (0.52, 0.85)]]],
    2: [[_arc(0.5, 0.32, 0.2, 0.16, -70, 120) + [(0.3, 0.85), (0.72, 0.85)]]],
    3: [[_arc(0.48, 0.31, 0.2, 0.16, -60, 180) + _arc(0.48, 0.66, 0.22, 0.19, 0, 240)[1:]]],
    4: [[[(0.58, 0.85), (0.58, 0.15), (0.25, 0.62), (0.76, 0.62)]],
        [[(0.3, 0.15), (0.28, 0.55), (0.72, 0.55)], [(0.62, 0.2), (0.62, 0.86)]]],
    5: [[[(0.7, 0.15), (0.33, 0.15), (0.31, 0.45)] + _arc(0.48, 0.64, 0.22, 0.21, -60, 225)]],
    6: [[_arc(0.5, 0.45, 0.2, 0.33, 45, -90)[:-1] + _arc(0.5, 0.66, 0.2, 0.19, -90, 270)]],
    7: [[[(0.28, 0.18), (0.72, 0.18), (0.45, 0.85)]],
        [[(0.28, 0.18), (0.72, 0.18), (0.45, 0.85)], [(0.4, 0.5), (0.66, 0.5)]]],
    8: [[_ellipse(0.5, 0.3, 0.15, 0.15), _ellipse(0.5, 0.67, 0.19, 0.19)]],
    9: [[_ellipse(0.5, 0.34, 0.18, 0.18), [(0.68, 0.34), (0.62, 0.86)]]],
}


def _render(strokes: list[Stroke], width_px: float) -> np.ndarray:
    """The strokes drawn with a round pen: each pixel's ink from its distance to the nearest segment."""
    ys, xs = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float64) + 0.5
    ink = np.zeros((CANVAS, CANVAS))
    for stroke in strokes:
        pts = np.asarray(stroke) * CANVAS
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
            dist = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
            ink = np.maximum(ink, np.clip(width_px / 2 + 0.5 - dist, 0, 1))  # anti-aliased edge
    return ink


def _vary(strokes: list[Stroke], rng: np.random.Generator) -> list[Stroke]:
    """A tilt, a slant, a squeeze and a shift, as hands differ."""
    tilt = math.radians(rng.uniform(-15, 15))
    slant = rng.uniform(-0.3, 0.3)
    sx, sy = rng.uniform(0.75, 1.15), rng.uniform(0.8, 1.1)
    cx, cy = 0.5 + rng.uniform(-0.08, 0.08), 0.5 + rng.uniform(-0.08, 0.08)
    out = []
    for stroke in strokes:
        moved = []
        for x, y in stroke:
            u, v = (x - 0.5) * sx, (y - 0.5) * sy
            u += slant * -v  # a forward slant leans the top to the right
            moved.append((cx + u * math.cos(tilt) - v * math.sin(tilt), cy + u * math.sin(tilt) + v * math.cos(tilt)))
        out.append(moved)
    return out


def drawn_digits(per_template: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs (n, 784) float32, labels (n,))``: every template drawn ``per_template`` ways."""
    rng = np.random.default_rng(seed)
    inputs, labels = [], []
    for digit, templates in TEMPLATES.items():
        for template in templates:
            for _ in range(per_template):
                drawing = _render(_vary(template, rng), width_px=rng.uniform(5, 12))
                inputs.append(preprocess_drawing(drawing))
                labels.append(digit)
    return np.stack(inputs).astype(np.float32), np.array(labels)


# Styles MNIST's writers rarely use, each a digit as some people write it, and how it is drawn: its
# strokes, the pen widths (px on the 112 px canvas), how much of the canvas it fills and how far
# off-centre it may sit.
STYLES: dict[str, tuple[int, list[Stroke], tuple[float, float], float, float]] = {
    "1 with a flag and a base": (1, [[(0.36, 0.28), (0.52, 0.14), (0.52, 0.84)], [(0.36, 0.85), (0.68, 0.85)]],
                                 (5, 10), 1.0, 0.05),
    "7 with a bar": (7, [[(0.26, 0.18), (0.72, 0.18), (0.44, 0.85)], [(0.38, 0.5), (0.68, 0.5)]], (5, 10), 1.0, 0.05),
    "open-top 4": (4, [[(0.3, 0.15), (0.28, 0.56), (0.74, 0.56)], [(0.62, 0.22), (0.62, 0.86)]], (5, 10), 1.0, 0.05),
    "closed 4": (4, [[(0.6, 0.86), (0.6, 0.14), (0.24, 0.6), (0.78, 0.6)]], (5, 10), 1.0, 0.05),
    "curly 9": (9, [_ellipse(0.5, 0.33, 0.18, 0.17), _arc(0.5, 0.6, 0.18, 0.27, 90, 200)], (5, 10), 1.0, 0.05),
    "slanted 2": (2, [[(x + 0.3 * (0.5 - y), y) for x, y in
                       _arc(0.5, 0.32, 0.2, 0.16, -70, 120) + [(0.3, 0.85), (0.72, 0.85)]]], (5, 10), 1.0, 0.05),
    "very thick 8": (8, [_ellipse(0.5, 0.3, 0.15, 0.15), _ellipse(0.5, 0.67, 0.19, 0.19)], (16, 22), 1.0, 0.05),
    "very thin 3": (3, [_arc(0.48, 0.31, 0.2, 0.16, -60, 180) + _arc(0.48, 0.66, 0.22, 0.19, 0, 240)[1:]], (1.5, 3),
                    1.0, 0.05),
    "small, off-centre 6": (6, [_arc(0.5, 0.45, 0.2, 0.33, 45, -90)[:-1] + _arc(0.5, 0.66, 0.2, 0.19, -90, 270)],
                            (4, 8), 0.35, 0.3),
    "small, off-centre 0": (0, [_ellipse(0.5, 0.5, 0.2, 0.32)], (4, 8), 0.35, 0.3),
}


def styled_digits(per_style: int = 30, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every style of `STYLES` drawn ``per_style`` ways (varied as `drawn_digits` varies its templates,
    at the style's pen widths, size and placement): ``{style: (inputs (n, 784), labels (n,))}``."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (digit, strokes, widths, size, offset) in STYLES.items():
        inputs = []
        for _ in range(per_style):
            dx, dy = rng.uniform(-offset, offset, 2)
            placed = [[(0.5 + (x - 0.5) * size + dx, 0.5 + (y - 0.5) * size + dy) for x, y in stroke]
                      for stroke in _vary(strokes, rng)]
            inputs.append(preprocess_drawing(_render(placed, width_px=rng.uniform(*widths))))
        out[name] = (np.stack(inputs).astype(np.float32), np.full(per_style, digit))
    return out
