"""Light or dark, as the page's Python draws it: the charts' and the pictures' colours per theme, and a
redraw of each when web/theme.js switches the page (the CSS follows by itself: web/style.css)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from ..network.weights_picture import PALETTE, picture_palette
from .dom import document, listen


@dataclass(frozen=True, eq=False)  # one object per theme: compared by name
class Theme:
    """The colours of one theme that are drawn rather than styled (canvas pixels, uPlot's axes)."""

    name: str
    axis: str  # the axes' labels and numbers
    grid: str  # the grid lines and ticks
    loss_each: str  # every batch's loss, faint
    loss: str  # the smoothed loss
    batch_acc: str
    test_acc: str
    picture: np.ndarray  # weights_picture's palette


# The same colours as web/style.css's variables of each theme (muted, line, accent, right).
LIGHT = Theme("light", axis="#5b6477", grid="#eef0f4", loss_each="rgba(79, 70, 229, 0.28)", loss="#4f46e5",
              batch_acc="#0ea5e9", test_acc="#12a150", picture=PALETTE)
DARK = Theme("dark", axis="#9aa3b5", grid="#2a2f3d", loss_each="rgba(165, 180, 252, 0.3)", loss="#a5b4fc",
             batch_acc="#38bdf8", test_acc="#3fbf73",
             picture=picture_palette(zero=(24, 27, 36), positive=(139, 147, 255), negative=(242, 109, 113),
                                     background=(17, 20, 27)))
THEMES = {theme.name: theme for theme in (LIGHT, DARK)}
THEME_EVENT = "inkling-theme"  # web/theme.js's, on document


def theme_named(name: str | None) -> Theme:
    """The theme called ``name`` (light for anything else: the page's own default)."""
    return THEMES.get(name or "", LIGHT)


def current_theme() -> Theme:
    """The theme web/theme.js put on the page (``<html data-theme>``)."""
    return theme_named(document().documentElement.dataset.theme)


class Themed(Protocol):
    """A part of the page that draws with a theme's colours."""

    def set_theme(self, theme: Theme) -> None: ...


def follow_theme(parts: list[Themed], request_frame: Callable[[], Any]) -> None:
    """Give ``parts`` the page's theme now and each time it changes; then ask for a frame, in which the
    views that wait for one redraw."""
    def switch(_event: Any = None) -> None:
        theme = current_theme()
        for part in parts:
            part.set_theme(theme)
        request_frame()

    listen(document(), THEME_EVENT, switch)
    switch()
