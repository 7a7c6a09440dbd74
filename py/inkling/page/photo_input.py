"""Photos and scans of written digits into the grid: an image file dropped on a tile, opened with the
"Open image" button or pasted, decoded by the browser, read as ink (`inkling.data.photo`: the paper
levelled, dark ink made bright) and shown in the tile as a drawing, to be predicted and taught like one.
A file that is no image, is empty or too large is refused with a message, and no tile changes."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..data.photo import ink_of_picture, reading_size
from .cell import GridCell
from .dom import by_testid, js_object, listen, put_ink

MAX_FILE_BYTES = 32 << 20  # a phone's photo is a few MiB; more is not a picture of one digit
MAX_PIXELS = 50_000_000  # decoded size: a 50-megapixel camera's full frame at most

Notify = Callable[[str, str], None]


class PhotoInput:
    """Takes pictures for the grid's ``cells``: dropped on a tile (that tile), or opened with
    ``open-image`` or pasted (the first empty tile, else the first)."""

    def __init__(self, cells: list[GridCell], notify: Notify, spawn: Callable[[Any], None]) -> None:
        self.cells = cells
        self._notify, self._spawn = notify, spawn
        self.enabled = False
        self.button = by_testid("open-image")
        listen(self.button, "change", lambda _e: self._opened())
        from js import document

        listen(document, "paste", self._pasted)
        for cell in cells:
            listen(cell.canvas, "dragover", self._drag_over)
            listen(cell.canvas, "drop", lambda event, cell=cell: self._dropped(event, cell))

    def set_enabled(self, enabled: bool) -> None:
        """Pictures go to tiles only while the grid works."""
        self.enabled = enabled
        self.button.disabled = not enabled

    def _target(self) -> GridCell:
        return next((cell for cell in self.cells if not cell.has_ink), self.cells[0])

    def _opened(self) -> None:
        files = self.button.files
        if files.length:
            file = files.item(0)
            self.button.value = ""  # the same file again is a new choice
            self._spawn(self.take(file, self._target()))

    def _pasted(self, event: Any) -> None:
        items = event.clipboardData.files if event.clipboardData else None
        if not self.enabled or not items or items.length == 0:
            return  # text pasted into a setting is not ours
        file = items.item(0)
        if str(file.type).startswith("image/"):
            event.preventDefault()
            self._spawn(self.take(file, self._target()))

    def _drag_over(self, event: Any) -> None:
        if self.enabled:
            event.preventDefault()  # lets the tile take the drop
            event.dataTransfer.dropEffect = "copy"

    def _dropped(self, event: Any, cell: GridCell) -> None:
        event.preventDefault()  # the browser would open the file instead
        files = event.dataTransfer.files if event.dataTransfer else None
        if self.enabled and files and files.length:
            self._spawn(self.take(files.item(0), cell))

    async def take(self, file: Any, cell: GridCell) -> None:
        """Read ``file`` as a picture of a digit into ``cell``; refuse it with a message if it is not one."""
        name = str(file.name) or "the pasted image"
        problem = _size_problem(int(file.size))
        if problem is None:
            try:
                picture, width, height = await _decode(file)
                problem = None if picture is not None else "holds no ink: a digit written dark on light paper " \
                                                           "(or light on dark), filling much of the picture, reads best"
            except _NotAPicture as error:
                problem = str(error)
        if problem is not None:
            self._notify("error", f"{name} was not used (no tile changed): {problem}.")
            return
        cell.show_picture(picture, width, height)
        self._notify("info", f"Tile {cell.index + 1} shows {name} as a drawing: teach it with its digit if the "
                             "network reads it wrong.")


class _NotAPicture(Exception):
    """The file is no picture the browser decodes, or one too large; the message says which."""


def _size_problem(size: int) -> str | None:
    if size == 0:
        return "the file is empty"
    if size > MAX_FILE_BYTES:
        return f"the file has {size / 2**20:.0f} MiB; a picture of a digit needs far less (at most {MAX_FILE_BYTES >> 20} MiB)"
    return None


async def _decode(file: Any) -> tuple[Any, int, int]:
    """The picture's ink as a canvas (white, alpha = ink) and its size, or (None, 0, 0) without ink.

    Raises:
        _NotAPicture: The browser cannot decode it, or it is too large.
    """
    from js import OffscreenCanvas, createImageBitmap
    from pyodide.ffi import JsException

    try:
        bitmap = await createImageBitmap(file)
    except JsException:
        raise _NotAPicture("it is not a picture this browser can read (PNG, JPEG, WebP, GIF, ...)") from None
    try:
        if bitmap.width * bitmap.height > MAX_PIXELS:
            raise _NotAPicture(f"{bitmap.width}x{bitmap.height} pixels is too large for a picture of a digit")
        width, height = reading_size(bitmap.width, bitmap.height)
        canvas = OffscreenCanvas.new(width, height)
        context = canvas.getContext("2d", js_object({"willReadFrequently": True}))
        context.drawImage(bitmap, 0, 0, width, height)
        rgba = np.empty(width * height * 4, np.uint8)
        context.getImageData(0, 0, width, height).data.assign_to(rgba)
    finally:
        bitmap.close()
    ink = ink_of_picture(rgba.reshape(height, width, 4))
    if not ink.any():
        return None, 0, 0
    put_ink(canvas, ink)
    return canvas, width, height
