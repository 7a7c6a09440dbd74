"""A `Board` for CPython tests: the float region and control integers in numpy, wait/notify on a
condition, helpers in threads (numpy releases the GIL in its products, so they even overlap)."""
from __future__ import annotations

import threading

import numpy as np

from inkling.training.data_parallel import CTRL_INTS, BoardLayout


class ThreadBoard:
    """Shared memory for threads, laid out by ``layout``."""

    def __init__(self, layout: BoardLayout) -> None:
        self.floats = np.zeros(layout.floats, np.float32)
        self.ctrl = np.zeros(CTRL_INTS, np.int64)
        self._changed = threading.Condition()

    def write(self, offset: int, values: np.ndarray) -> None:
        self.floats[offset:offset + values.size] = values

    def read(self, offset: int, out: np.ndarray) -> None:
        out[...] = self.floats[offset:offset + out.size]

    def load(self, index: int) -> int:
        with self._changed:
            return int(self.ctrl[index])

    def store(self, index: int, value: int) -> None:
        with self._changed:
            self.ctrl[index] = value

    def wait(self, index: int, value: int, timeout_s: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self.ctrl[index] != value, timeout_s)

    def notify(self, index: int) -> None:
        with self._changed:
            self._changed.notify_all()
