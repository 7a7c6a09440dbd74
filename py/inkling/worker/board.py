"""The browser's `Board`: a SharedArrayBuffer the group's workers all see, and Atomics on its
control integers (`inkling.training.data_parallel` lays it out and says what each part is for)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..training.data_parallel import CTRL_BYTES, CTRL_INTS, BoardLayout


def shared_memory_problem() -> str | None:
    """Why workers cannot share memory in this context, or None when they can."""
    import js

    if not getattr(js, "crossOriginIsolated", False):
        return ("the page is not cross-origin isolated, so workers cannot share memory (open it from "
                "'python build.py serve', or reload once the service worker has installed)")
    if getattr(js, "SharedArrayBuffer", None) is None:
        return "this browser has no SharedArrayBuffer"
    return None


def new_buffer(layout: BoardLayout) -> Any:
    """A zeroed SharedArrayBuffer for ``layout``."""
    from js import SharedArrayBuffer

    return SharedArrayBuffer.new(layout.nbytes)


class JsBoard:
    """A `Board` over ``buffer`` (a SharedArrayBuffer made by `new_buffer`)."""

    def __init__(self, buffer: Any) -> None:
        from js import Atomics, Float32Array, Int32Array

        self.buffer = buffer
        self._ctrl = Int32Array.new(buffer, 0, CTRL_INTS)
        self._floats = Float32Array.new(buffer, CTRL_BYTES)
        self._atomics = Atomics
        # A step reads and writes the same few regions every time (each parameter, each share): their
        # views are kept, as making one costs about as much as copying 10,000 floats.
        self._views: dict[tuple[int, int], Any] = {}

    def write(self, offset: int, values: np.ndarray) -> None:
        self._view(offset, values.size).assign(values)

    def read(self, offset: int, out: np.ndarray) -> None:
        self._view(offset, out.size).assign_to(out)

    def _view(self, offset: int, size: int) -> Any:
        view = self._views.get((offset, size))
        if view is None:
            if len(self._views) >= 256:  # batch sizes changing often: start over rather than grow
                self._views.clear()
            view = self._views[(offset, size)] = self._floats.subarray(offset, offset + size)
        return view

    def load(self, index: int) -> int:
        return int(self._atomics.load(self._ctrl, index))

    def store(self, index: int, value: int) -> None:
        self._atomics.store(self._ctrl, index, value)

    def wait(self, index: int, value: int, timeout_s: float) -> None:
        self._atomics.wait(self._ctrl, index, value, max(0.0, timeout_s) * 1000)

    def notify(self, index: int) -> None:
        self._atomics.notify(self._ctrl, index)
