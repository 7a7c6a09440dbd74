"""One tile of the grid: a canvas that shows a test digit or takes a drawing, and its prediction."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from ..data.drawing import grow_ink_box, preprocess_drawing
from .dom import LiveText, element, js_object, listen, put_ink, set_text
from .inference import top_k
from .prob_row import ProbRow
from .samples import Sample
from .tile_text import tile_text

SIZE = 280  # canvas pixels per side: 10x MNIST, so a stroke scales like a pen on paper
STROKE = 22  # pen width in canvas pixels: about 2 MNIST pixels once the digit is fitted to 20x20
INK = "#ffffff"


class CellOwner(Protocol):
    """What a cell asks of the grid that owns it."""

    def cell_changed(self, cell: GridCell, at_once: bool = False) -> None: ...

    def request_sample(self, cell: GridCell) -> None: ...

    def announce(self, text: str) -> None: ...

    def teach(self, cell: GridCell, label: int) -> None: ...


class GridCell:
    """A canvas (``cell-N``) with its prediction (``prediction-N``), clear (``clear-N``),
    next-test-digit (``sample-N``) and teach (``teach-label-N``, ``teach-N``) controls.

    A cell is empty, holds a test digit, or holds the user's drawing. Drawing on a
    test digit replaces it. The canvas keeps ink in its alpha channel, which is
    what `input` reads.
    """

    def __init__(self, index: int, parent: Any, owner: CellOwner) -> None:
        self.index = index
        self.owner = owner
        self.sample: Sample | None = None
        self.has_ink = False
        self.dirty = False  # input changed: prediction must be recomputed
        self.urgent = False  # ... and not just by a stroke going on, so without waiting
        self.shown_version = -1  # weights version of the prediction on display
        self.shown_at = -math.inf  # when it was computed (time.monotonic)
        # The canvas area that holds the drawing's ink, (left, top, right, bottom), or None:
        # reading back only that much is what makes a prediction per stroke cheap.
        self._ink_box: tuple[int, int, int, int] | None = None
        self._input: np.ndarray | None = None
        self.input_stale = False  # the canvas changed since `input` last read it
        self.input_count = 0  # grows each time the input is read anew: views know theirs is stale
        self._view: tuple | None = None  # what show_prediction last rendered
        self.speak = False  # say the next prediction out loud: a person just finished something here
        self._state: tuple | None = None  # what _render_state last rendered
        # pointerId -> the last point of its stroke: every finger (or pen, or mouse) draws its own
        # stroke at once, on this tile or on others.
        self._strokes: dict[int, tuple[float, float]] = {}
        self._frame = (0.0, 0.0, 1.0, 1.0)  # the canvas's left, top and scale, read once per stroke
        self._build(parent)

    # ---- DOM --------------------------------------------------------------------------

    def _build(self, parent: Any) -> None:
        i = self.index
        self.root = element("div", cls="cell", parent=parent, data_testid=f"card-{i}")
        tile = element("div", cls="tile", parent=self.root)
        self.canvas = element(
            "canvas", cls="draw", parent=tile, data_testid=f"cell-{i}", width=str(SIZE), height=str(SIZE),
            role="img", aria_label=tile_text(i, None, None, False),
        )
        self.ctx = self.canvas.getContext("2d", js_object({"willReadFrequently": True}))
        self.placeholder = element("div", cls="placeholder", parent=tile, text="draw a digit")
        self.badge = element("span", cls="badge", parent=tile, data_testid=f"truth-{i}")
        self.thumb = element("canvas", cls="thumb", parent=tile, width="28", height="28",
                             data_testid=f"thumb-{i}", title="what the network sees")

        pred = element("div", cls="pred", parent=self.root)
        self.digit = LiveText(element("span", cls="pred-digit", parent=pred, data_testid=f"prediction-{i}"))
        self.probs = element("div", cls="probs", parent=pred, data_testid=f"probs-{i}")
        self.prob_rows = [ProbRow(self.probs) for _ in range(3)]

        actions = element("div", cls="cell-actions", parent=self.root)
        clear = element("button", parent=actions, text="Clear", data_testid=f"clear-{i}", title="Empty this tile")
        sample = element("button", parent=actions, text="Test digit", data_testid=f"sample-{i}",
                         title="Show the next digit of the test set")
        teach = element("span", cls="teach", parent=actions)
        self.teach_label = element("select", parent=teach, data_testid=f"teach-label-{i}",
                                   title="The digit this drawing shows", aria_label="The digit this drawing shows")
        element("option", parent=self.teach_label, text="as…", value="")
        for digit in range(10):
            element("option", parent=self.teach_label, text=str(digit), value=str(digit))
        self.teach_button = element("button", parent=teach, text="Teach", data_testid=f"teach-{i}",
                                    title="Train the network on this drawing with the chosen label")

        listen(clear, "click", lambda _e: self.clear(speak=True))
        listen(sample, "click", lambda _e: self.owner.request_sample(self))
        listen(self.teach_button, "click", lambda _e: self._teach())
        listen(self.canvas, "pointerdown", self._pointer_down)
        listen(self.canvas, "pointermove", self._pointer_move)
        listen(self.canvas, "pointerup", self._pointer_up)
        listen(self.canvas, "pointercancel", self._pointer_up)
        listen(self.canvas, "lostpointercapture", self._pointer_up)  # an up we never saw must not wedge a stroke
        self._render_state()

    def set_enabled(self, enabled: bool) -> None:
        """Enable or disable the cell's buttons (before the page is ready, and so on)."""
        for node in self.root.querySelectorAll("button, select"):
            node.disabled = not enabled
        if enabled:
            self._render_state(force=True)  # the buttons above were all switched: set the teach pair again

    # ---- content ----------------------------------------------------------------------

    def clear(self, speak: bool = False) -> None:
        """Empty the tile (``speak``: and say so, once, to screen readers)."""
        self.ctx.clearRect(0, 0, SIZE, SIZE)
        self.sample, self.has_ink, self._ink_box, self.speak = None, False, None, speak
        self._changed()

    def show_sample(self, sample: Sample) -> None:
        """Show a test digit (replacing any drawing)."""
        put_ink(self.thumb, sample.pixels.reshape(28, 28))
        self.ctx.clearRect(0, 0, SIZE, SIZE)
        self.ctx.imageSmoothingEnabled = True
        self.ctx.drawImage(self.thumb, 0, 0, SIZE, SIZE)
        self.sample = sample
        self.has_ink = True
        self._ink_box = None  # a drawing on it starts from a clear canvas
        self._changed()

    def show_picture(self, picture: Any, width: int, height: int) -> None:
        """Show ``picture`` (a canvas whose alpha is ink: a photo read by `inkling.page.photo_input`)
        as this tile's drawing, fitted and centred: predicted, and taught, as a drawing is."""
        scale = SIZE / max(width, height)
        w, h = width * scale, height * scale
        self.ctx.clearRect(0, 0, SIZE, SIZE)
        self.ctx.drawImage(picture, (SIZE - w) / 2, (SIZE - h) / 2, w, h)
        self.sample, self.has_ink, self._ink_box, self.speak = None, True, (0, 0, SIZE, SIZE), True
        self._changed()

    def input(self) -> np.ndarray | None:
        """The network's input for this tile: (784,) float32 in [0, 1], or None when empty.

        A test digit goes in as it is; a drawing goes through `preprocess_drawing`
        (crop, fit to 20x20, centre by mass), as MNIST's digits were made.
        """
        if self.input_stale:
            self.input_stale = False  # the canvas changed since `input` last read it
            self._input = self._read_input()
            self.input_count += 1
            if self.sample is None and self._input is not None:
                put_ink(self.thumb, self._input.reshape(28, 28))
        return self._input

    def _read_input(self) -> np.ndarray | None:
        if self.sample is not None:
            return self.sample.pixels
        if not self.has_ink or self._ink_box is None:
            return None
        # Everything outside the box is blank, and preprocessing crops to the ink anyway.
        left, top, right, bottom = self._ink_box
        width, height = right - left, bottom - top
        data = self.ctx.getImageData(left, top, width, height).data
        rgba = np.empty(width * height * 4, np.uint8)
        data.assign_to(rgba)
        alpha = rgba[3::4].reshape(height, width)
        if not alpha.any():
            return None
        return preprocess_drawing(alpha)

    def _changed(self, at_once: bool = False) -> None:
        self.input_stale = True
        self.dirty = self.urgent = True
        self._render_state()
        self.owner.cell_changed(self, at_once)

    # ---- prediction -------------------------------------------------------------------

    def show_prediction(self, probs: np.ndarray | None, version: int) -> None:
        """Show the predicted digit and the top probabilities (``probs`` None: nothing to show)."""
        self.shown_version = version
        self.dirty = self.urgent = False
        # Whole percents, and runners-up under 1% left out: finer detail would flicker while
        # training (near-zero digits swap places all the time) and cost DOM work each time.
        ranked = None if probs is None else [
            (digit, f"{100 * p:.0f}%") for rank, (digit, p) in enumerate(top_k(probs, 3)) if rank == 0 or p >= 0.005]
        verdict = ""
        if ranked is not None and self.sample is not None:
            verdict = "right" if ranked[0][0] == self.sample.label else "wrong"
        view = (ranked, verdict)
        if self.speak and (ranked is not None or not self.has_ink):
            self.speak = False
            self.owner.announce(self._text(ranked))
        if view == self._view:
            return  # while training most updates change nothing visible: skip the DOM work
        was_verdict = self._view[1] if self._view is not None else ""
        self._view = view
        # Each write below happens only when what it shows changed: 12 tiles follow new weights
        # 2.5 times a second while training, and every DOM write is style, layout and paint work.
        self.digit.set("" if ranked is None else str(ranked[0][0]))
        if self.probs.hidden != (ranked is None):
            self.probs.hidden = ranked is None
        for rank, row in enumerate(self.prob_rows):
            row.show(ranked[rank] if ranked is not None and rank < len(ranked) else None)
        if verdict != was_verdict:
            self.root.className = f"cell {verdict}".strip()
        self.canvas.setAttribute("aria-label", self._text(ranked))

    def _text(self, ranked: list[tuple[int, str]] | None) -> str:
        return tile_text(self.index, ranked[0] if ranked else None,
                         None if self.sample is None else self.sample.label, self.has_ink)

    def _render_state(self, force: bool = False) -> None:
        drawing = self.sample is None and self.has_ink
        badge = (f"test #{self.sample.index} · label {self.sample.label}" if self.sample is not None
                 else "your drawing" if drawing else None)
        state = (self.has_ink, drawing, badge)
        if state == self._state and not force:
            return  # every stroke ends here: unchanged, it costs no DOM writes
        self._state = state
        self.placeholder.hidden = self.has_ink
        self.thumb.hidden = not drawing
        if badge is not None:
            set_text(self.badge, badge)
        self.badge.hidden = badge is None
        self.teach_button.disabled = not drawing
        self.teach_label.disabled = not drawing

    def _teach(self) -> None:
        value = self.teach_label.value
        self.owner.teach(self, int(value) if value else -1)

    # ---- pointer drawing ----------------------------------------------------------------

    def _measure(self) -> None:
        # Once per stroke: reading the canvas's box forces a layout whenever the page changed since the
        # last one (5 times a second while training), so not once per pointer event.
        rect = self.canvas.getBoundingClientRect()
        self._frame = (rect.left, rect.top, SIZE / max(rect.width, 1), SIZE / max(rect.height, 1))

    def _xy(self, event: Any) -> tuple[float, float]:
        left, top, sx, sy = self._frame
        return (event.clientX - left) * sx, (event.clientY - top) * sy

    def _pointer_down(self, event: Any) -> None:
        from pyodide.ffi import JsException

        if event.button != 0:
            return
        event.preventDefault()
        try:
            # Capture keeps the stroke ours when the pointer leaves the tile mid-stroke.
            self.canvas.setPointerCapture(event.pointerId)
        except JsException:
            pass  # a pointer already gone (or a synthetic event) cannot be captured; drawing works without
        if self.sample is not None:
            self.ctx.clearRect(0, 0, SIZE, SIZE)
            self.sample = None
            self._ink_box = None
        self.ctx.fillStyle = INK
        self.ctx.strokeStyle = INK
        self.ctx.lineWidth = STROKE
        self.ctx.lineCap = "round"
        self.ctx.lineJoin = "round"
        self._measure()
        x, y = self._xy(event)
        self.ctx.beginPath()
        self.ctx.arc(x, y, STROKE / 2, 0, 2 * np.pi)
        self.ctx.fill()
        self._strokes[event.pointerId] = (x, y)
        self._add_ink([(x, y)])
        self.has_ink = True
        self._changed(at_once=True)

    def _pointer_move(self, event: Any) -> None:
        last = self._strokes.get(event.pointerId)
        if last is None:
            return
        # Coalesced events carry every point the pointer passed since the last frame.
        events = event.getCoalescedEvents() if hasattr(event, "getCoalescedEvents") else None
        points = [self._xy(e) for e in events] if events and events.length else [self._xy(event)]
        self.ctx.beginPath()
        self.ctx.moveTo(*last)
        for x, y in points:
            self.ctx.lineTo(x, y)
        self.ctx.stroke()
        self._strokes[event.pointerId] = points[-1]
        self._add_ink(points)
        # Only the input changed (the tile's state did on pointerdown): no DOM work per move.
        self.input_stale = True
        self.dirty = True
        self.owner.cell_changed(self)

    def _add_ink(self, points: list[tuple[float, float]]) -> None:
        """Grow the ink box by pen-sized discs at these points (the pen's radius and its anti-aliased edge)."""
        self._ink_box = grow_ink_box(self._ink_box, points, STROKE / 2 + 2, SIZE)

    def _pointer_up(self, event: Any) -> None:
        if self._strokes.pop(event.pointerId, None) is not None:
            self.speak = True
            self._changed()

