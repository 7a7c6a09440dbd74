"""The series the charts plot: bounded in length, so a long run costs the page the same as a short one."""

from __future__ import annotations

import math


class History:
    """Points ``(x, y1, y2, ...)`` appended in order of ``x``, at most ``limit`` of them.

    When full, every other point is dropped: the whole run stays visible at half
    the resolution, and memory and redraw cost stay bounded.

    Args:
        columns: How many y-series each point carries.
        limit: The most points kept (even, at least 4).
    """

    def __init__(self, columns: int, limit: int = 3000) -> None:
        if limit < 4 or limit % 2:
            raise ValueError(f"limit must be an even number >= 4, got {limit}")
        self.limit = limit
        self.series: list[list[float | None]] = [[] for _ in range(columns + 1)]
        self.present = [0] * columns  # values (not gaps) in each y-series, kept as points come and go

    def __len__(self) -> int:
        return len(self.series[0])

    def add(self, x: float, *ys: float | None) -> None:
        """Append a point; a y that is None or not finite is a gap. A point at an ``x`` not
        after the last one replaces the history (the run was reset)."""
        if len(ys) != len(self.series) - 1:
            raise ValueError(f"expected {len(self.series) - 1} y-values, got {len(ys)}")
        if self.series[0] and x <= self.series[0][-1]:
            if x == self.series[0][-1]:
                return
            self.clear()
        if len(self) >= self.limit:
            # Keep the newest point's neighbourhood: drop the odd-positioned half.
            self.series = [column[::2] for column in self.series]
            self.present = [sum(y is not None for y in column) for column in self.series[1:]]
        self.series[0].append(x)
        for i, (column, y) in enumerate(zip(self.series[1:], ys)):
            value = y if y is not None and math.isfinite(y) else None
            column.append(value)
            self.present[i] += value is not None

    def clear(self) -> None:
        """Forget every point."""
        self.series = [[] for _ in self.series]
        self.present = [0] * len(self.present)


class Smoother:
    """An exponential moving average that starts at the first value (no warm-up bias)."""

    def __init__(self, weight: float = 0.9) -> None:
        self.weight = weight
        self.value: float | None = None

    def update(self, x: float | None) -> float | None:
        """Fold in ``x`` (ignored when None or not finite) and return the average."""
        if x is None or not math.isfinite(x):
            return self.value
        self.value = x if self.value is None else self.weight * self.value + (1 - self.weight) * x
        return self.value

    def reset(self) -> None:
        """Start over."""
        self.value = None
