"""One of a tile's top-3 rows under its prediction: a digit, its bar and its percent."""

from __future__ import annotations

from typing import Any

from .dom import LiveText, element


class ProbRow:
    """One of a tile's top-3 rows: a digit, its bar and its percent, written only when they change."""

    def __init__(self, parent: Any) -> None:
        self.row = element("div", cls="prob", parent=parent)
        self.label = LiveText(element("span", parent=self.row))
        self.fill = element("span", parent=element("span", cls="bar", parent=self.row))
        self.pct = LiveText(element("span", cls="pct", parent=self.row))
        self.shown = True

    def show(self, ranked: tuple[int, str] | None) -> None:
        """Show (digit, "37%"), or keep the row's place empty (None)."""
        if (ranked is not None) != self.shown:
            self.shown = ranked is not None
            self.row.className = "prob" if self.shown else "prob faint"
        if ranked is None:
            return
        digit, text = ranked
        self.label.set(str(digit))
        if text != self.pct.text:
            # A transform, not a width: the bar moves without laying out anything.
            self.fill.style.transform = f"scaleX({int(text[:-1]) / 100:g})"
            self.pct.set(text)
