"""Live loss and accuracy charts, drawn by uPlot (vendored with the site)."""

from __future__ import annotations

import time
from typing import Any, Callable

from ..messages.curve import Curve
from ..messages.protocol import ResponseSignal
from ..training.pacing import CHART_EVERY_S, on_the_beat, wait_left
from .dom import js_object
from .history import History, Smoother
from .theme import Theme

HEIGHT = 210
POINTS = 1500  # per chart at most (older points are thinned): enough for a 1000-pixel-wide plot


def _axes(y_label: str, theme: Theme) -> list[dict[str, Any]]:
    axis = {"stroke": theme.axis, "grid": {"stroke": theme.grid, "width": 1}, "ticks": {"stroke": theme.grid, "width": 1}}
    return [{**axis, "label": "iteration"}, {**axis, "label": y_label, "size": 55}]


def _options(width: int, y_label: str, series: list[dict[str, Any]], theme: Theme) -> dict[str, Any]:
    return {
        "width": width,
        "height": HEIGHT,
        "scales": {"x": {"time": False}},
        "axes": _axes(y_label, theme),
        "series": [{"label": "iteration"}, *series],
        "legend": {"live": True},
        "cursor": {"drag": {"x": True, "y": False}},
    }


def _loss_series(theme: Theme) -> list[dict[str, Any]]:
    return [{"label": "batch loss", "stroke": theme.loss_each, "width": 1},
            {"label": "smoothed", "stroke": theme.loss, "width": 2}]


def _acc_series(theme: Theme) -> list[dict[str, Any]]:
    return [{"label": "batch (smoothed)", "stroke": theme.batch_acc, "width": 2},
            {"label": "test set", "stroke": theme.test_acc, "width": 2, "points": {"show": False}}]


class Chart:
    """One uPlot chart fed from a `History`."""

    def __init__(self, container: Any, y_label: str, series: Callable[[Theme], list[dict[str, Any]]],
                 theme: Theme) -> None:
        from js import ResizeObserver

        self.container = container
        self._y_label = y_label
        self._series = series
        self.history = History(len(series(theme)), POINTS)
        self._plot = self._new_plot(theme)
        self.container.dataset.theme = theme.name
        self._observer = ResizeObserver.new(self._resize_proxy())
        self._observer.observe(container)

    def _new_plot(self, theme: Theme) -> Any:
        from js import uPlot

        options = _options(self._width(), self._y_label, self._series(theme), theme)
        return uPlot.new(js_object(options), js_object(self.history.series), self.container)

    def set_theme(self, theme: Theme) -> None:
        """Draw again in ``theme``'s colours (uPlot takes colours only when a chart is made), with the
        same points."""
        self._plot.destroy()
        self._plot = self._new_plot(theme)
        self.container.dataset.theme = theme.name

    def _width(self) -> int:
        return max(int(self.container.clientWidth), 240)

    def _resize_proxy(self) -> Any:
        from pyodide.ffi import create_proxy

        # Lives as long as the chart, which lives as long as the page.
        self._on_resize = create_proxy(lambda *_: self._plot.setSize(js_object({"width": self._width(), "height": HEIGHT})))
        return self._on_resize

    def redraw(self) -> None:
        """Show the history's current points (and say how many, up to which iteration, and how many
        values each curve has, on the container)."""
        self._plot.setData(js_object(self.history.series))
        self.container.dataset.points = str(len(self.history))
        self.container.dataset.values = ",".join(map(str, self.history.present))
        self.container.dataset.lastIteration = str(self.history.series[0][-1]) if len(self.history) else ""


class Charts:
    """The loss chart (each batch's loss and a smoothed curve) and the accuracy chart
    (smoothed batch accuracy and the test accuracy of the last evaluation), in percent."""

    def __init__(self, card: Any, loss_container: Any, acc_container: Any, theme: Theme) -> None:
        self.card = card  # carries data-empty (a hint to press Start) until the first point
        self.theme = theme
        self.loss = Chart(loss_container, "loss", _loss_series, theme)
        self.acc = Chart(acc_container, "accuracy %", _acc_series, theme)
        self._loss_avg = Smoother(0.95)
        self._acc_avg = Smoother(0.95)
        self._last_redraw = 0.0
        self._dirty = False

    def add(self, signal: ResponseSignal) -> None:
        """Add the signal's numbers (only training progress: an idle signal repeats the last point)."""
        if signal.iteration <= 0 or signal.loss is None:
            return
        if len(self.loss.history) and signal.iteration < self.loss.history.series[0][-1]:
            self._loss_avg.reset()  # a reset started a new run
            self._acc_avg.reset()
        loss_avg = self._loss_avg.update(signal.loss)
        acc_avg = self._acc_avg.update(signal.acc)
        self.loss.history.add(signal.iteration, signal.loss, loss_avg)
        test = None if signal.test_acc is None else 100 * signal.test_acc
        self.acc.history.add(signal.iteration, None if acc_avg is None else 100 * acc_avg, test)
        if not self._dirty and self.card.hasAttribute("data-empty"):
            self.card.removeAttribute("data-empty")
        self._dirty = True

    def set_theme(self, theme: Theme) -> None:
        """Draw both charts in ``theme``'s colours from now on."""
        if theme.name != self.theme.name:
            self.theme = theme
            self.loss.set_theme(theme)
            self.acc.set_theme(theme)

    def curve(self) -> Curve:
        """The points drawn now, as a saved record keeps them."""
        x, loss, loss_avg = self.loss.history.series
        _, acc_avg, test = self.acc.history.series
        return Curve(tuple(int(i) for i in x), tuple(loss), tuple(loss_avg), tuple(acc_avg), tuple(test))

    def resume(self, curve: Curve) -> None:
        """Draw a restored run's curve; the next signals (counted on from it) continue it."""
        if not len(curve):
            return
        self.loss.history.clear()
        self.acc.history.clear()
        for point in zip(curve.iteration, curve.loss, curve.loss_smoothed, curve.acc_smoothed, curve.test_acc):
            i, loss, loss_avg, acc_avg, test = point
            self.loss.history.add(i, loss, loss_avg)
            self.acc.history.add(i, acc_avg, test)
        # The smoothed curves go on from their last values instead of jumping to the next batch's.
        self._loss_avg.value = next((v for v in reversed(curve.loss_smoothed) if v is not None), None)
        acc = next((v for v in reversed(curve.acc_smoothed) if v is not None), None)
        self._acc_avg.value = None if acc is None else acc / 100
        self.card.removeAttribute("data-empty")
        self._dirty = True
        self.redraw(force=True)

    def redraw(self, now: float | None = None, force: bool = False) -> float | None:
        """Redraw if there is news and the last redraw is old enough (`CHART_EVERY_S`).

        Returns the seconds until a redraw that waits is due, or None when nothing waits.
        """
        if not self._dirty:
            return None
        now = time.monotonic() if now is None else now
        wait = wait_left(self._last_redraw, on_the_beat(CHART_EVERY_S), now)
        if wait > 0 and not force:
            return wait
        self.loss.redraw()
        self.acc.redraw()
        self._last_redraw = now
        self._dirty = False
        return None
