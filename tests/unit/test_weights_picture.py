"""The first layer's weights as pictures: one tile per hidden unit, each pixel where its weight is."""
from __future__ import annotations

import numpy as np
import pytest

from inkling.network.weights_picture import BACKGROUND, GAP, weights_picture


def test_each_unit_is_a_tile_with_its_weights_where_their_pixels_are() -> None:
    w1 = np.zeros((784, 3), np.float32)
    w1[5 * 28 + 7, 0] = 2.0  # unit 0 is excited by pixel (5, 7)
    w1[20 * 28 + 3, 2] = -0.5  # unit 2 is inhibited by pixel (20, 3)
    w1[0, 2] = 0.25  # ... and weakly excited by pixel (0, 0)
    picture = weights_picture(w1, columns=2)
    assert picture.shape == (2 * 28 + GAP, 2 * 28 + GAP, 4) and (picture[..., 3] == 255).all()
    first, third = picture[:28, :28, :3], picture[28 + GAP:, :28, :3]
    assert tuple(first[5, 7]) == (79, 70, 229) and (first.reshape(-1, 3)[np.arange(784) != 5 * 28 + 7] == 255).all()
    assert tuple(third[20, 3]) == (229, 72, 77)  # its strongest weight: full colour ...
    assert 79 < third[0, 0, 0] < 255 and third[0, 0, 2] > third[0, 0, 1]  # ... a weaker one paler
    assert (picture[28, :, :3] == BACKGROUND).all()  # the gap between rows
    assert (picture[28 + GAP:, 28 + GAP:, :3] == BACKGROUND).all()  # no fourth unit: background


def test_a_layer_that_is_not_28x28_inputs_is_refused() -> None:
    with pytest.raises(ValueError, match="100 inputs"):
        weights_picture(np.zeros((100, 4), np.float32))


def test_128_units_make_a_16_by_8_picture() -> None:
    assert weights_picture(np.ones((784, 128), np.float32)).shape == (8 * 29 - 1, 16 * 29 - 1, 4)


def test_a_shared_scale_lets_the_tiles_compare() -> None:
    maps = np.zeros((4, 2), np.float32)
    maps[0, 0], maps[0, 1] = 4.0, 1.0  # filter 1 responds a quarter as strongly as filter 0
    own = weights_picture(maps, side=2, columns=2)
    shared = weights_picture(maps, side=2, columns=2, shared_scale=True)
    assert tuple(own[0, 0, :3]) == tuple(own[0, 2 + GAP, :3]) == (79, 70, 229)  # each full on its own scale
    assert tuple(shared[0, 0, :3]) == (79, 70, 229)
    assert 79 < shared[0, 2 + GAP, 0] < 255  # the weaker one paler on the shared scale
    blank = weights_picture(np.zeros((4, 2), np.float32), side=2, columns=2, shared_scale=True)
    assert (blank[:, [0, 1, 3, 4], :3] == 255).all()  # nothing at all: white, not a division by zero


def test_the_dark_pages_palette_draws_zero_as_its_surface_and_keeps_the_signs_apart() -> None:
    from inkling.page.theme import DARK, LIGHT, theme_named

    w1 = np.zeros((4, 3), np.float32)
    w1[0, 0], w1[1, 0] = 1.0, -1.0
    dark = weights_picture(w1, side=2, columns=2, palette=DARK.picture)
    assert tuple(dark[1, 1, :3]) == (24, 27, 36)  # a weight of 0: the dark surface, not a white glare
    assert tuple(dark[0, 0, :3]) == (139, 147, 255) and tuple(dark[0, 1, :3]) == (242, 109, 113)
    assert tuple(dark[2, 0, :3]) == (17, 20, 27)  # the gap
    assert (weights_picture(w1, side=2, columns=2, palette=LIGHT.picture) == weights_picture(w1, side=2, columns=2)).all()
    assert theme_named("dark") is DARK and theme_named(None) is LIGHT and theme_named("sepia") is LIGHT
