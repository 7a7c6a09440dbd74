"""Offline use: what the page says about the service worker that keeps the site in this browser.

bridge.js registers the service worker (web/sw.js) when the page is ready and reports its
states as ``{"type": "offline", "state", "detail"}`` events; this module turns each into the
line the person reads, and offers "Update now" when a newer build waits.
"""

from __future__ import annotations

from typing import Any, Callable

from .dom import listen

# What each state tells the person; {detail} is the bridge's reason, where there is one.
OFFLINE_TEXTS = {
    "unsupported": "Offline use is not available here: {detail}.",
    "saving": "Keeping the site in this browser for offline use…",
    "saving_update": "A new version of Inkling is arriving…",
    "ready": "Kept in this browser: the page starts from it and works offline.",
    "failed": "The site could not be kept for offline use ({detail}); it works online as before.",
    "update": "A new version of Inkling is ready: it starts at your next visit, or now with Update now.",
}
UPDATE_NEWS = "A new version of Inkling is ready. Your weights and settings are kept when it starts."


def offline_text(state: str, detail: str = "") -> str:
    """The line shown for a state of the service worker (an unknown state is shown as it is)."""
    template = OFFLINE_TEXTS.get(state)
    return f"Offline use: {state}" if template is None else template.format(detail=detail or "no reason given")


class OfflineStatus:
    """The offline line and the "Update now" button.

    Args:
        line: The element that shows the state (``data-testid="offline"``).
        button: The "Update now" button (``data-testid="update-now"``), hidden until an update waits.
        notify: Shows a message to the person (once, when an update is ready).
        update: Saves what must survive and switches to the waiting build (the page reloads).
    """

    def __init__(self, line: Any, button: Any, notify: Callable[[str, str], None],
                 update: Callable[[], None]) -> None:
        self._line = line
        self._button = button
        self._notify = notify
        self.state = ""
        listen(button, "click", lambda _e: update())

    def show(self, state: str, detail: str = "") -> None:
        """Show a state the bridge reported."""
        if state == "update" and self.state != "update":
            self._notify("info", UPDATE_NEWS)
        self.state = state
        self._line.textContent = offline_text(state, detail)
        self._button.hidden = state != "update"
