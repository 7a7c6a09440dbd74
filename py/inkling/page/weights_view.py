"""The first layer's weights on the page: every hidden unit as a small picture, redrawn while the
network learns, at most once per `WEIGHTS_VIEW_EVERY_S` (a picture costs the main thread a few ms)."""

from __future__ import annotations

from typing import Any

from ..network.weights_picture import weights_picture
from ..training.pacing import WEIGHTS_VIEW_EVERY_S, wait_left
from .dom import put_pixels
from .inference import Predictor
from .theme import LIGHT, Theme


class WeightsView:
    """Draws ``predictor``'s first layer onto ``canvas`` (``data-testid="weights-view"``).

    The canvas has one pixel per weight; CSS scales it up without smoothing. ``data-units``
    and ``data-version`` say what it shows.
    """

    def __init__(self, canvas: Any, predictor: Predictor) -> None:
        self.canvas = canvas
        self.predictor = predictor
        self._shown_version = -1
        self._shown_at = -WEIGHTS_VIEW_EVERY_S
        self._theme = LIGHT

    def set_theme(self, theme: Theme) -> None:
        """Draw in ``theme``'s colours, the picture on display too (at the next refresh)."""
        if theme.name != self._theme.name:
            self._theme = theme
            self._shown_version, self._shown_at = -1, -WEIGHTS_VIEW_EVERY_S

    def refresh(self, now: float) -> float | None:
        """Redraw if the weights changed and the last picture is old enough; else the seconds
        until a waiting change may be drawn (None if nothing waits).

        A picture is drawn in the frame of the signal that brought the weights: at a few ms (784-512
        weights) it needs no frame of its own, and one frame fewer saves a whole render.
        """
        version = self.predictor.version
        if version == self._shown_version or not self.predictor.ready:
            return None
        wait = wait_left(self._shown_at, WEIGHTS_VIEW_EVERY_S, now)
        if wait > 0:
            return wait
        self._draw(version)
        self._shown_at = now
        return None

    def _draw(self, version: int) -> None:
        first = self.predictor.first_layer()
        if first is None:
            return
        w1, side = first
        put_pixels(self.canvas, weights_picture(w1, side, palette=self._theme.picture))
        self.canvas.dataset.theme = self._theme.name
        self.canvas.dataset.units = str(w1.shape[1])
        self.canvas.dataset.version = str(version)
        self._shown_version = version
