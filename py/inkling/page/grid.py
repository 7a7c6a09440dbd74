"""The grid of cells: owns them, feeds them test digits, and predicts for all of them in one batch."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InklingError
from ..messages.confusion import Confusion
from ..training.pacing import STROKE_EVERY_S, wait_left
from .cell import GridCell
from .dom import by_testid, set_text
from .inference import Predictor
from .photo_input import PhotoInput
from .samples import TestDigits

Notify = Callable[[str, str], None]  # (kind "info" | "error", message)


class GridManager:
    """N cells that show test digits or drawings, each with the newest weights' prediction.

    Args:
        parent: The element the cells go in.
        count: How many cells.
        predictor: Holds the newest weights.
        digits: Where test digits come from.
        teach: ``teach(pixels, label)`` sends a labelled drawing to the worker.
        notify: Shows a message to the user.
        request_frame: Asks for a frame; predictions are recomputed in `refresh`.
    """

    def __init__(
        self,
        parent: Any,
        count: int,
        predictor: Predictor,
        digits: TestDigits,
        teach: Callable[[np.ndarray, int], None],
        notify: Notify,
        request_frame: Callable[[], None],
    ) -> None:
        self.predictor = predictor
        self.digits = digits
        self._teach = teach
        self._notify = notify
        self._request_frame = request_frame
        self._tasks: set[asyncio.Task] = set()
        self.cells = [GridCell(i, parent, self) for i in range(count)]
        self.photos = PhotoInput(self.cells, notify, self._spawn)  # pictures of digits dropped, opened, pasted
        self.focus: GridCell | None = None  # the cell whose content changed last: the one a person looks at
        self._announcer = by_testid("announcer")  # a polite live region: read out when the reader is free

    # ---- what cells ask for -------------------------------------------------------------

    def cell_changed(self, cell: GridCell, at_once: bool = False) -> None:
        """A cell's content changed: predict again on the next frame (``at_once``: now).

        A stroke's first point is predicted at once, in its pointerdown handler: the answer
        then shows in the very next frame, and that frame's own work stays small.
        """
        self.focus = cell
        if at_once:
            self.refresh(time.monotonic())
        else:
            self._request_frame()

    def announce(self, text: str) -> None:
        """Have screen readers say ``text`` (what a tile now reads) when they are free."""
        set_text(self._announcer, text)

    def request_sample(self, cell: GridCell) -> None:
        """Load the next test digit into ``cell`` (its own button: its prediction is said once)."""
        self._spawn(self._load_samples([cell], speak=True))

    def teach(self, cell: GridCell, label: int) -> None:
        """Train on ``cell``'s drawing as digit ``label``."""
        if not 0 <= label <= 9:
            self._notify("error", f"Tile {cell.index + 1}: choose the digit your drawing shows, then press Teach.")
            return
        pixels = cell.input()
        if pixels is None or cell.sample is not None:
            self._notify("error", f"Tile {cell.index + 1}: draw a digit first (test digits are never trained on).")
            return
        self._teach(pixels, label)
        self._notify("info", f"Taught tile {cell.index + 1} as a {label}; the prediction updates with the new weights.")

    # ---- whole grid ----------------------------------------------------------------------

    async def fill(self, count: int) -> None:
        """Put the next ``count`` test digits in the first ``count`` cells (the rest stay empty).

        Raises:
            InklingError: The test data could not be read.
        """
        await self._load_samples(self.cells[:count], raise_errors=True)

    def new_samples(self) -> None:
        """Every cell gets the next test digit."""
        self._spawn(self._load_samples(self.cells))

    def show_digits(self, indices: Sequence[int]) -> None:
        """Put these test digits (test-set indices) in the first tiles, in one go, and empty the rest."""
        self._spawn(self._show_digits(list(indices[:len(self.cells)])))

    def show_pair(self, true: int, predicted: int, confusion: Confusion) -> None:
        """Fill the grid with the test digits labelled ``true`` that were read as ``predicted``
        (a click on the confusion matrix)."""
        indices = confusion.pair_examples(true, predicted)
        count = int(confusion.counts[true, predicted])
        self.show_digits(indices)
        what = "read right" if true == predicted else f"read as {predicted}"
        self._notify("info", f"The grid shows {len(indices)} of the {count:,} test digits that are {true}, {what} "
                             "at the last evaluation.")

    def clear_all(self) -> None:
        """Empty every cell."""
        for cell in self.cells:
            cell.clear()

    def set_enabled(self, enabled: bool) -> None:
        """Enable or disable every cell's controls, and pictures coming in."""
        for cell in self.cells:
            cell.set_enabled(enabled)
        self.photos.set_enabled(enabled)

    def refresh(self, now: float) -> float | None:
        """Recompute the stale predictions (content or weights changed) in one batch.

        A tile whose stroke is still being drawn is predicted at most every `STROKE_EVERY_S`
        (each prediction reads its canvas back): returns the seconds until the next of those
        is due, or None when none waits.
        """
        version = self.predictor.version
        stale, waits = [], []
        for cell in self.cells:
            if not (cell.dirty or cell.shown_version != version):
                continue
            wait = 0.0 if cell.urgent else wait_left(cell.shown_at, STROKE_EVERY_S, now)
            if wait > 0 and cell.shown_version == version:
                waits.append(wait)
            else:
                stale.append(cell)
        if not stale:
            return min(waits, default=None)
        for cell in stale:
            cell.shown_at = now
        if not self.predictor.ready:
            for cell in stale:
                cell.input()  # keep the thumbnail current even before weights arrive
                cell.show_prediction(None, version)
            return min(waits, default=None)
        inputs = [(cell, cell.input()) for cell in stale]
        present = [(cell, x) for cell, x in inputs if x is not None]
        for cell, x in inputs:
            if x is None:
                cell.show_prediction(None, version)
        if present:
            probs = self.predictor.proba(np.stack([x for _, x in present]))
            for (cell, _), row in zip(present, probs):
                cell.show_prediction(row, version)
        return min(waits, default=None)

    # ---- helpers -------------------------------------------------------------------------

    async def _load_samples(self, cells: list[GridCell], raise_errors: bool = False, speak: bool = False) -> None:
        try:
            for cell in cells:
                cell.show_sample(await self.digits.next())
                cell.speak = speak
        except InklingError as error:
            if raise_errors:
                raise
            self._notify("error", f"Could not load a test digit: {error}")

    async def _show_digits(self, indices: list[int]) -> None:
        try:
            samples = [await self.digits.get(index) for index in indices]
        except (InklingError, IndexError) as error:
            self._notify("error", f"Could not load a test digit: {error}")
            return
        for cell, sample in itertools.zip_longest(self.cells, samples):
            if sample is None:
                cell.clear()
            else:
                cell.show_sample(sample)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # keep a reference until done (asyncio holds tasks weakly)
        task.add_done_callback(self._tasks.discard)
