"""Augmentation: images moved, turned and scaled as a person would see it, reproducibly from a seed."""
from __future__ import annotations

import numpy as np
import pytest

from inkling.data.augment import Augmenter, Distortion, distort


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
    # Most of the ink stays near where it was: a distorted digit is still that digit.
    images = np.repeat(_bar(), 200, axis=0)
    out = Augmenter(0)(images)
    overlap = (out * images).sum(axis=1) / images.sum(axis=1)
    assert np.median(overlap) > 0.2
    assert np.all(out.reshape(200, 28, 28)[:, 10 - 5:10 + 6, :].sum(axis=(1, 2)) > 0.6 * images[0].sum())


@pytest.mark.parametrize("distortion", [Distortion(shift=0.0, degrees=0.0, scale=0.0)])
def test_a_distortion_of_nothing_changes_nothing(distortion: Distortion) -> None:
    images = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    np.testing.assert_allclose(Augmenter(3, distortion=distortion)(images), images, atol=1e-6)
