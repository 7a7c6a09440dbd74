"""The charts' curve as a saved record keeps it: training progress over a run, small enough to autosave.

A reload restores it with the weights, so the loss and accuracy charts go on where the
run had come instead of starting empty. It is thinned to at most `MAX_POINTS` points
spread over the whole run (the charts thin their own history the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

# 300 points draw the shape of a run on a chart a few hundred pixels wide, and cost the
# record about 10 KB of its header (limited to 64 KB) per autosave.
MAX_POINTS = 300
_SIGNIFICANT = 6  # digits kept per number: what a chart can show, and half the JSON of a float's repr


@dataclass(frozen=True)
class Curve:
    """Points of a run, one per iteration shown: the batch loss, its smoothed curve, the
    smoothed batch accuracy and the test accuracy (both in percent; None where there is none).
    Every column has one value per ``iteration``."""

    iteration: tuple[int, ...] = ()
    loss: tuple[float | None, ...] = ()
    loss_smoothed: tuple[float | None, ...] = ()
    acc_smoothed: tuple[float | None, ...] = ()
    test_acc: tuple[float | None, ...] = ()

    def __len__(self) -> int:
        return len(self.iteration)

    def thinned(self, most: int = MAX_POINTS) -> Curve:
        """At most ``most`` points, evenly spread over the run; the newest point is always kept."""
        n = len(self)
        if n <= most:
            return self
        picks = sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})
        return Curve(*(tuple(column[i] for i in picks) for column in self._columns()))

    def as_dict(self) -> dict[str, list[Any]]:
        """The columns as JSON-able lists (numbers rounded to what a chart can show)."""
        return {f.name: [_rounded(v) for v in getattr(self, f.name)] for f in fields(self)}

    @classmethod
    def from_mapping(cls, raw: Any) -> Curve:
        """A curve read from a record, every column checked.

        Raises:
            ValueError: Not an object of the five columns, columns of unequal length or more
                than `MAX_POINTS`, iterations that are not whole, positive and increasing, or
                values that are neither null nor finite numbers; the message says which.
        """
        names = [f.name for f in fields(cls)]
        if not isinstance(raw, dict):
            raise ValueError(f"expected an object, found {type(raw).__name__}")
        if set(raw) != set(names):
            raise ValueError(f"missing {sorted(set(names) - set(raw))}, unexpected {sorted(set(raw) - set(names))}")
        columns = [raw[name] for name in names]
        if not all(isinstance(column, list) for column in columns):
            raise ValueError("every column must be a list")
        if len({len(column) for column in columns}) != 1 or len(columns[0]) > MAX_POINTS:
            raise ValueError(f"columns must have one equal length of at most {MAX_POINTS}, "
                             f"found {[len(column) for column in columns]}")
        iterations = columns[0]
        if not all(_whole(i) and i > 0 for i in iterations) or any(a >= b for a, b in zip(iterations, iterations[1:])):
            raise ValueError("iteration must hold whole numbers above 0 in increasing order")
        for name, column in zip(names[1:], columns[1:]):
            if not all(v is None or (_number(v) and math.isfinite(v)) for v in column):
                raise ValueError(f"{name} must hold finite numbers or null")
        return cls(tuple(iterations), *(tuple(None if v is None else float(v) for v in c) for c in columns[1:]))

    def _columns(self) -> list[tuple[Any, ...]]:
        return [getattr(self, f.name) for f in fields(self)]


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.{_SIGNIFICANT}g}")
    return value


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
