"""The first layer at work on the digit last drawn or shown: a convnet's activation maps (what each
filter finds where), an MLP's units as ink times weight. Redrawn when the drawing changes, at most
every `RESPONSE_VIEW_EVERY_S` while a stroke goes on, and with new weights at the weights view's pace,
so it costs the main thread a fraction of what the drawing itself does."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..network.layers import Conv, layer_specs
from ..network.weights_picture import weights_picture
from ..training.pacing import RESPONSE_VIEW_EVERY_S, WEIGHTS_VIEW_EVERY_S, wait_left
from .cell import GridCell
from .dom import put_pixels, set_text
from .inference import Predictor
from .theme import LIGHT, Theme


# Tiles at most: an MLP's 256 units (or 4,096) as 28x28 pictures would cost the main thread ~10 ms a
# drawing (bench main_thread: +33 ms per clear-and-stroke cycle with all 256); the strongest 32 say as much.
MAX_TILES = 32


class ResponseView:
    """Draws ``predictor``'s first layer applied to the input of ``focus()`` (the tile that changed last)
    onto ``canvas`` (``data-testid="activation-view"``), and says what it shows in ``caption``.

    ``data-units`` (tiles shown; ``data-of``: of how many), ``data-side``, ``data-tile`` and
    ``data-version`` (one more per picture drawn) say what the canvas holds; ``data-empty`` is set while there is nothing to show.
    """

    def __init__(self, canvas: Any, caption: Any, predictor: Predictor,
                 focus: Callable[[], GridCell | None]) -> None:
        self.canvas = canvas
        self.caption = caption
        self.predictor = predictor
        self.focus = focus
        self._shown: tuple[int, int, int] | None = None  # (tile, its input's count, weights version)
        self._shown_at = -WEIGHTS_VIEW_EVERY_S
        self._pictures = 0
        self._theme = LIGHT

    def set_theme(self, theme: Theme) -> None:
        """Draw in ``theme``'s colours, the picture on display too (at the next refresh)."""
        if theme.name != self._theme.name:
            self._theme = theme
            self._shown, self._shown_at = None, -WEIGHTS_VIEW_EVERY_S

    def refresh(self, now: float) -> float | None:
        """Redraw if the tile, its input or the weights changed and the last picture is old enough;
        else the seconds until a waiting change may be drawn (None if nothing waits)."""
        cell = self.focus()
        if cell is None or not self.predictor.ready:
            return None
        # Whether its input changed is known without reading it: a stroke going on marks it stale on every
        # move, and reading the canvas back is what the grid paces; this view reads it at its own pace.
        key = (cell.index, cell.input_count, self.predictor.version)
        if key == self._shown and not cell.input_stale:
            return None
        same_input = self._shown is not None and self._shown[:2] == key[:2] and not cell.input_stale
        wait = wait_left(self._shown_at, WEIGHTS_VIEW_EVERY_S if same_input else RESPONSE_VIEW_EVERY_S, now)
        if wait > 0:
            return wait
        x = cell.input()
        self._shown, self._shown_at = (cell.index, cell.input_count, self.predictor.version), now
        if x is None:
            self._show_nothing(cell)
            return None
        response = self.predictor.first_response(x)
        if response is None:
            return None
        maps, side = response
        units = maps.shape[1]
        if units > MAX_TILES:  # the units this drawing moves most, strongest first
            maps = maps[:, np.argsort(-np.abs(maps).sum(axis=0), kind="stable")[:MAX_TILES]]
        put_pixels(self.canvas, weights_picture(maps, side, shared_scale=True, palette=self._theme.picture))
        self._pictures += 1
        data = self.canvas.dataset
        data.units, data.side, data.tile, data.version = str(maps.shape[1]), str(side), str(cell.index), str(self._pictures)
        data.of, data.theme = str(units), self._theme.name
        self.canvas.removeAttribute("data-empty")
        self.canvas.hidden = False
        set_text(self.caption, self._describe(cell, maps.shape[1], units, side))
        return None

    def _show_nothing(self, cell: GridCell) -> None:
        self.canvas.setAttribute("data-empty", "")
        self.canvas.hidden = True
        set_text(self.caption, f"Tile {cell.index + 1} is empty: draw a digit or show a test digit.")

    def _describe(self, cell: GridCell, shown: int, units: int, side: int) -> str:
        what = f"test digit #{cell.sample.index}" if cell.sample is not None else "your drawing"
        hidden = self.predictor.hidden or ()
        conv = next((spec for spec in layer_specs(hidden) if isinstance(spec, Conv)), None)
        if conv is not None:
            return (f"Tile {cell.index + 1} ({what}) through the first layer's {units} filters of "
                    f"{conv.size}×{conv.size}: each map ({side}×{side}) lights up where its filter finds its pattern.")
        which = f"the {shown} of its {units} hidden units this drawing moves most" if shown < units else \
            f"its {units} hidden units"
        return (f"Tile {cell.index + 1} ({what}) through the first layer, {which}: each tile is the unit's weights "
                f"times the ink ({side}×{side}), where the drawing excites or inhibits it.")
