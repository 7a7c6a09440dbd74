"""A photo or scan of a digit as ink: dark ink on light paper under uneven light and grain becomes the
strokes alone (bright, paper 0), a transparent picture's alpha is its ink, a blank page has none."""

from __future__ import annotations

import numpy as np
import pytest

from inkling.data.drawing import preprocess_drawing
from inkling.data.photo import MAX_SIDE, ink_of_picture, reading_size


def seven(side: int = 300) -> np.ndarray:
    """A 7's strokes, True where the pen went, on a ``side`` x ``side`` sheet."""
    y, x = np.mgrid[0:side, 0:side] / side
    bar = (abs(y - 0.25) < 0.03) & (x > 0.3) & (x < 0.72)
    stem = (abs((x - 0.72) + 0.45 * (y - 0.25)) < 0.03) & (y > 0.25) & (y < 0.8)
    return bar | stem


def photo(strokes: np.ndarray, seed: int = 0) -> np.ndarray:
    """``strokes`` in blue-black ink on paper lit from one corner (a shadow on the other), with grain: RGBA."""
    side = strokes.shape[0]
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    paper = 0.95 - 0.35 * (x + y) / 2 + rng.normal(0, 0.02, strokes.shape)  # 95% bright to 60% in the shadow
    grey = np.where(strokes, paper * 0.35, paper)
    rgb = np.stack([grey * 0.9, grey * 0.92, grey], axis=-1)
    return np.dstack([np.clip(rgb * 255, 0, 255), np.full(strokes.shape, 255.0)]).astype(np.uint8)


def test_a_photo_under_uneven_light_becomes_its_strokes_alone() -> None:
    strokes = seven()
    ink = ink_of_picture(photo(strokes))
    assert ink.shape == strokes.shape and ink.dtype == np.float32
    assert 0.9 < ink[strokes].mean() <= 1.0  # the ink, dark or in the shadow, is bright
    found = ink > 0.5
    overlap = (found & strokes).sum() / (found | strokes).sum()
    assert overlap > 0.9, overlap
    assert (ink[~strokes] == 0).mean() > 0.97  # the paper, bright or shadowed, grain and all, is 0


def test_it_is_the_digit_the_page_would_draw() -> None:
    strokes = seven()
    drawn = preprocess_drawing(strokes.astype(np.float32))  # the same strokes drawn on the page
    read = preprocess_drawing(ink_of_picture(photo(strokes, seed=3)))
    assert np.corrcoef(read, drawn)[0, 1] > 0.9  # the same strokes in the same places (a photo's are fainter)


def test_light_ink_on_a_dark_ground_is_read_too() -> None:
    strokes = seven()
    rgba = 255 - photo(strokes)
    rgba[..., 3] = 255
    assert (ink_of_picture(rgba)[strokes] > 0.5).mean() > 0.9


def test_a_transparent_pictures_alpha_is_its_ink() -> None:
    rgba = np.zeros((50, 40, 4), np.uint8)
    rgba[10:40, 18:22] = (12, 200, 40, 255)  # any colour: the page's canvas draws white
    ink = ink_of_picture(rgba)
    assert ink[10:40, 18:22].min() == 1 and ink.sum() == 30 * 4


@pytest.mark.parametrize("rgba", [np.full((30, 30, 4), 255, np.uint8), np.zeros((30, 30, 4), np.uint8)])
def test_a_blank_page_has_no_ink(rgba: np.ndarray) -> None:
    assert not ink_of_picture(rgba).any()


@pytest.mark.parametrize("shape", [(0, 10, 4), (10, 10, 3), (10, 10)])
def test_what_is_not_a_picture_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="RGBA picture"):
        ink_of_picture(np.zeros(shape, np.uint8))


def test_a_large_picture_is_read_at_a_size_that_keeps_its_shape() -> None:
    assert reading_size(300, 200) == (300, 200)
    assert reading_size(4000, 3000) == (MAX_SIDE, 420)
