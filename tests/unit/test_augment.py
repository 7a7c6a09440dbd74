"""Augmentation: images moved, turned, stretched, slanted and redrawn with other pens as a person would
see it, reproducibly from a seed."""
from __future__ import annotations

import numpy as np
import pytest

from inkling.training.augment import Augmenter, Distortion, distort, redraw


def _bar() -> np.ndarray:
    """A horizontal bar on row 10 (above the centre), columns 5-19."""
    image = np.zeros((28, 28), np.float32)
    image[10, 5:20] = 1.0
    return image.reshape(1, -1)


def _ink(image: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(image.reshape(28, 28) > 0.5)
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def _one(images: np.ndarray, degrees: float = 0.0, scale: float = 1.0, right: float = 0.0, down: float = 0.0):
    return distort(images, np.array([degrees]), np.array([scale]), np.array([[right, down]]))


def test_no_change_gives_the_image_back_exactly() -> None:
    assert np.array_equal(_one(_bar()), _bar())


def test_a_shift_moves_the_ink_right_and_down() -> None:
    assert _ink(_one(_bar(), right=2, down=1)) == (11, 11, 7, 21)


def test_a_quarter_turn_is_counter_clockwise_as_seen() -> None:
    # The bar above the centre ends up left of it, its right end at the top.
    assert _ink(_one(_bar(), degrees=90)) == (8, 22, 10, 10)


def test_scaling_about_the_centre_grows_the_ink_and_keeps_it_centred() -> None:
    square = np.zeros((28, 28), np.float32)
    square[11:17, 11:17] = 1.0
    top, bottom, left, right = _ink(_one(square.reshape(1, -1), scale=2.0))
    assert bottom - top >= 10 and right - left >= 10
    assert top + bottom == 27 and left + right == 27


def test_what_comes_from_outside_the_image_is_background() -> None:
    full = np.ones((1, 784), np.float32)
    moved = _one(full, right=5.5).reshape(28, 28)
    assert np.all(moved[:, :5] == 0) and np.all(moved[:, 6:] == 1)
    assert np.all(_one(full, right=40).reshape(-1) == 0)


def test_each_image_gets_its_own_transform_drawn_from_the_seed() -> None:
    images = np.repeat(_bar(), 4, axis=0)
    out = Augmenter(7)(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    assert len({row.tobytes() for row in out}) == 4  # four copies, four different distortions
    assert np.array_equal(Augmenter(7)(images), out)
    assert not np.array_equal(Augmenter(8)(images), out)
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6


def test_the_default_distortion_keeps_a_digit_recognisable_in_place() -> None:
    # Most of the ink stays near where it was: a distorted digit is still that digit. (Two pixels
    # thick, as MNIST's strokes are at least: a thinner pen halves a one-pixel line.)
    images = np.repeat(np.maximum(_bar(), np.roll(_bar(), 28)), 200, axis=0)
    out = Augmenter(0)(images)
    overlap = (out * images).sum(axis=1) / images.sum(axis=1)
    assert np.median(overlap) > 0.2
    band = out.reshape(200, 28, 28)[:, 10 - 5:10 + 7, :].sum(axis=(1, 2))
    assert np.all(band > 0.95 * out.sum(axis=1))  # the ink stays near its row
    # A thinner pen halves a 2-pixel stroke (each of its pixels has background beside it) and a
    # narrower stretch shortens it by up to a quarter: still there.
    assert np.all(band > 0.3 * images[0].sum())


@pytest.mark.parametrize("distortion", [Distortion(shift=0.0, degrees=0.0, scale_x=0.0, scale_y=0.0, shear=0.0,
                                                   pens=0.0)])
def test_a_distortion_of_nothing_changes_nothing(distortion: Distortion) -> None:
    images = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    np.testing.assert_allclose(Augmenter(3, distortion=distortion)(images), images, atol=1e-6)


def _post() -> np.ndarray:
    """A vertical bar on column 13, rows 4-23."""
    image = np.zeros((28, 28), np.float32)
    image[4:24, 13] = 1.0
    return image.reshape(1, -1)


def test_a_stretch_widens_only_along_its_own_axis() -> None:
    wide = distort(_bar(), np.zeros(1), np.array([[1.5, 1.0]]), np.zeros((1, 2)))
    top, bottom, left, right = _ink(wide)
    assert (top, bottom) == (10, 10) and right - left >= 20  # 15 columns grown half as wide again, same row
    tall = distort(_bar(), np.zeros(1), np.array([[1.0, 1.5]]), np.zeros((1, 2)))
    assert _ink(tall)[2:] == _ink(_bar())[2:] and _ink(tall)[0] < 10  # further from the centre, same width


def test_a_shear_slants_a_post_its_top_to_the_right() -> None:
    slanted = distort(_post(), np.zeros(1), np.ones(1), np.zeros((1, 2)), shear=np.array([0.3]))
    rows, cols = np.nonzero(slanted.reshape(28, 28) > 0.4)
    top_col, bottom_col = cols[rows == rows.min()].mean(), cols[rows == rows.max()].mean()
    assert top_col - bottom_col == pytest.approx(0.3 * (rows.max() - rows.min()), abs=1.5)


def test_a_thicker_pen_adds_ink_around_the_stroke_and_a_thinner_one_takes_it_away() -> None:
    images = np.repeat(np.maximum(_post(), np.roll(_post(), 1)), 3, axis=0)  # a stroke two pixels wide
    out = redraw(images.copy(), thicker=np.array([True, False, False]), thinner=np.array([False, True, False]))
    mass = out.sum(axis=1)
    assert mass[0] > 1.5 * mass[2] and mass[1] < 0.75 * mass[2]
    assert np.array_equal(out[2], images[2])  # the third keeps its pen
    assert out.max() <= 1.0 and out.min() >= 0.0


def test_about_a_third_of_images_get_each_pen() -> None:
    images = np.repeat(np.maximum(_post(), np.roll(_post(), 1)), 600, axis=0)
    kept = Distortion(shift=0, degrees=0, scale_x=0, scale_y=0, shear=0)
    mass = Augmenter(5, distortion=kept)(images).sum(axis=1)
    plain = images[0].sum()
    thicker, thinner = (mass > 1.2 * plain).mean(), (mass < 0.8 * plain).mean()
    assert 0.27 < thicker < 0.40 and 0.27 < thinner < 0.40
