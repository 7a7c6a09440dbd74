"""A tile in words: what its text alternative says and a screen reader hears."""
from __future__ import annotations

from inkling.page.tile_text import tile_text


def test_a_tile_says_what_it_holds_and_what_the_network_reads() -> None:
    assert tile_text(0, None, None, False) == "Tile 1: empty. Draw a digit here, or open an image."
    assert tile_text(8, (7, "92%"), None, True) == "Tile 9: your drawing, read as 7 (92%)."
    assert tile_text(2, None, None, True) == "Tile 3: your drawing, not read yet."
    assert tile_text(3, (4, "99%"), 4, True) == "Tile 4: test digit labelled 4, read as 4 (99%), right."
    assert tile_text(3, (9, "51%"), 4, True) == "Tile 4: test digit labelled 4, read as 9 (51%), wrong."
