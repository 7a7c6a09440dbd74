"""Surviving the training worker's death: how often to restart it, and stats that count on across restarts.

Pure Python (no ``js``), so it is tested in CPython.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Callable

from ..protocol import ResponseSignal

MAX_RESTARTS = 3  # in RESTART_WINDOW_S; one more death in that window means something is broken for good
RESTART_WINDOW_S = 120.0


class RestartGuard:
    """Allows a new worker after a death, unless `max_restarts` happened in the last `window_s` seconds.

    Args:
        max_restarts: Restarts allowed within the window.
        window_s: The window's length in seconds.
        clock: Monotonic seconds (a parameter so tests can drive time).
    """

    def __init__(self, max_restarts: int = MAX_RESTARTS, window_s: float = RESTART_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_restarts = max_restarts
        self.window_s = window_s
        self._clock = clock
        self._restarts: deque[float] = deque()
        self.total = 0  # restarts since the page loaded

    def allow(self) -> bool:
        """True (and the restart is counted) if another restart is allowed now."""
        now = self._clock()
        while self._restarts and now - self._restarts[0] >= self.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            return False
        self._restarts.append(now)
        self.total += 1
        return True


class Continuity:
    """Keeps the iteration, samples-seen and epoch counts going up across worker restarts and reloads.

    A new worker counts from 0; the page adds what the lost one (or the saved run) had reached. A reset of the
    weights (the worker's own count falling, or the page sending ``reset``) starts from 0 again.
    """

    def __init__(self) -> None:
        self.iteration = 0
        self.samples_seen = 0
        self.epoch = 0.0
        self._last_iteration = 0  # the worker's own count in its last signal

    def restarted(self, shown: ResponseSignal | None) -> None:
        """The worker was replaced; ``shown`` is the last signal the page showed (counts included)."""
        if shown is not None:
            self.carry(shown.iteration, shown.samples_seen, shown.epoch)
        self._last_iteration = 0

    def carry(self, iteration: int, samples_seen: int, epoch: float) -> None:
        """Count on from these counts (a run restored from a saved record, or a lost worker's)."""
        self.iteration, self.samples_seen, self.epoch = iteration, samples_seen, epoch

    def clear(self) -> None:
        """The weights were reset: counts start from 0."""
        self.iteration, self.samples_seen, self.epoch = 0, 0, 0.0

    def apply(self, signal: ResponseSignal) -> ResponseSignal:
        """``signal`` with the counts the page shows."""
        if signal.iteration < self._last_iteration:
            self.clear()  # the worker reset its weights
        self._last_iteration = signal.iteration
        if not (self.iteration or self.samples_seen or self.epoch):
            return signal
        return dataclasses.replace(signal, iteration=signal.iteration + self.iteration,
                                   samples_seen=signal.samples_seen + self.samples_seen,
                                   epoch=signal.epoch + self.epoch)
