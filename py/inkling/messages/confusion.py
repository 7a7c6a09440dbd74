"""The confusion matrix of one evaluation: test digits counted by (true digit, predicted digit).

It travels from the worker to the page in the reply to ``evaluate``, with a few test-set
indices of each pair, so the page can show the mistakes themselves without predicting the
whole test set on its own thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ProtocolError

EXAMPLES_PER_PAIR = 12  # as many as the grid has tiles
MAX_CLASSES = 100


@dataclass(frozen=True, eq=False)
class Confusion:
    """Counts of test digits by true label (row) and predicted label (column).

    Attributes:
        counts: ``(classes, classes)`` int64; ``counts[r, c]`` digits labelled ``r`` were read as ``c``.
        examples: For each pair in row-major order (``r * classes + c``), the test-set indices of
            its first digits (at most `EXAMPLES_PER_PAIR`), in test-set order.
    """

    counts: np.ndarray
    examples: tuple[tuple[int, ...], ...]

    @classmethod
    def tally(cls, labels: np.ndarray, predicted: np.ndarray, classes: int,
              per_pair: int = EXAMPLES_PER_PAIR) -> Confusion:
        """Count ``predicted`` against ``labels`` (both indexed by test-set position)."""
        # intp: bincount refuses int64 on 32-bit platforms (Pyodide's wasm32).
        pair = np.asarray(labels, np.intp) * classes + np.asarray(predicted, np.intp)
        counts = np.bincount(pair, minlength=classes * classes).astype(np.int64).reshape(classes, classes)
        # A stable sort keeps test-set order within each pair; its first indices are the examples.
        order = np.argsort(pair, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts.reshape(-1))])
        examples = tuple(tuple(int(i) for i in order[start:start + min(per_pair, n)])
                         for start, n in zip(starts[:-1], counts.reshape(-1)))
        return cls(counts, examples)

    @property
    def classes(self) -> int:
        return int(self.counts.shape[0])

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def accuracy(self) -> float:
        """Share of the digits read right (the diagonal)."""
        return float(np.trace(self.counts)) / self.total if self.total else 0.0

    def class_accuracy(self) -> list[float | None]:
        """For each true digit, the share of its test digits read right (None if it has none)."""
        rows = self.counts.sum(axis=1)
        return [float(self.counts[r, r]) / int(n) if n else None for r, n in enumerate(rows)]

    def pair_examples(self, true: int, predicted: int) -> tuple[int, ...]:
        """Test-set indices of digits labelled ``true`` and read as ``predicted``."""
        return self.examples[true * self.classes + predicted]

    def to_wire(self) -> dict[str, Any]:
        """Plain lists (the evaluate reply is rare and small: no typed arrays needed)."""
        return {"counts": [int(n) for n in self.counts.reshape(-1)], "examples": [list(e) for e in self.examples]}

    @classmethod
    def from_wire(cls, name: str, value: Any) -> Confusion:
        """Validate a wire value (`to_wire`'s shape).

        Raises:
            ProtocolError: Not a square matrix of counts with at most `EXAMPLES_PER_PAIR`
                valid examples per pair; names the part at fault.
        """
        if not isinstance(value, dict) or set(value) != {"counts", "examples"}:
            raise ProtocolError(name, "must be a dict with exactly 'counts' and 'examples'")
        counts, examples = value["counts"], value["examples"]
        if not isinstance(counts, (list, tuple)) or not isinstance(examples, (list, tuple)):
            raise ProtocolError(name, "'counts' and 'examples' must be lists")
        classes = round(len(counts) ** 0.5)
        if not 2 <= classes <= MAX_CLASSES or classes * classes != len(counts):
            raise ProtocolError(f"{name}.counts", f"must hold classes x classes counts, got {len(counts)} values")
        if len(examples) != len(counts):
            raise ProtocolError(f"{name}.examples", f"must hold one list per pair ({len(counts)}), got {len(examples)}")
        for n in counts:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ProtocolError(f"{name}.counts", f"must be counts (integers >= 0), got {n!r}")
        out: list[tuple[int, ...]] = []
        for k, (n, indices) in enumerate(zip(counts, examples)):
            if not isinstance(indices, (list, tuple)) or len(indices) > min(int(n), EXAMPLES_PER_PAIR) or any(
                    isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0 for i in indices):
                raise ProtocolError(f"{name}.examples[{k}]",
                                    f"must be at most {min(int(n), EXAMPLES_PER_PAIR)} test-set indices")
            out.append(tuple(int(i) for i in indices))
        return cls(np.asarray(counts, np.int64).reshape(classes, classes), tuple(out))
