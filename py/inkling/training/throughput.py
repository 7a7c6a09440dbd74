"""Training throughput as the page shows it: samples per second over the last second or so."""

from __future__ import annotations

import time
from collections import deque


class Throughput:
    """Samples per second over a sliding window of about `WINDOW` seconds of training."""

    WINDOW = 1.0

    def __init__(self) -> None:
        self._marks: deque[tuple[float, int]] = deque()

    def reset(self) -> None:
        """Forget the past: a pause or a new run must not average into the next rate."""
        self._marks.clear()

    def add(self, samples_seen: int) -> None:
        """Mark that ``samples_seen`` samples had been trained on by now."""
        now = time.perf_counter()
        self._marks.append((now, samples_seen))
        while len(self._marks) > 2 and self._marks[1][0] < now - self.WINDOW:
            self._marks.popleft()

    def rate(self) -> float:
        """Samples per second over the window (0 until two marks are in)."""
        if len(self._marks) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self._marks[0], self._marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
