"""A tile of the grid in words: its text alternative, and what a screen reader hears when a person
finishes something on it (a stroke, a photo, a test digit, a clear), never at every new prediction."""

from __future__ import annotations


def tile_text(index: int, read: tuple[int, str] | None, label: int | None, has_ink: bool) -> str:
    """What tile ``index`` (from 0) shows and what the network reads in it.

    Args:
        index: The tile's place in the grid.
        read: The digit read and its probability as shown (``(7, "92%")``), or None before any.
        label: A test digit's true label; None for a drawing or an empty tile.
        has_ink: Whether the tile holds anything.
    """
    name = f"Tile {index + 1}"
    if not has_ink:
        return f"{name}: empty. Draw a digit here, or open an image."
    what = f"test digit labelled {label}" if label is not None else "your drawing"
    if read is None:
        return f"{name}: {what}, not read yet."
    digit, percent = read
    verdict = "" if label is None else (", right" if digit == label else ", wrong")
    return f"{name}: {what}, read as {digit} ({percent}){verdict}."
