"""The first layer's response to one drawing (the page's activation view): a convnet's maps are the very
activations its prediction goes through, an MLP's tiles add up to what each unit computes."""

from __future__ import annotations

import numpy as np
import pytest

from test_convnet import looped_conv

from inkling.network.layers import parse_hidden
from inkling.network.models import fresh_network
from inkling.network.responses import first_layer_response


@pytest.fixture
def digit() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[6:22, 13:16] = 1.0  # a plain 1
    return image.reshape(-1)


@pytest.mark.parametrize("text,side,pad", [("c8:5,p2,32", 24, 0), ("c4:3:same,16", 28, 1)])
def test_a_convnets_maps_are_its_first_convolution_after_relu(digit: np.ndarray, text: str, side: int,
                                                              pad: int) -> None:
    model = fresh_network(parse_hidden(text), seed=3)
    maps, got_side = first_layer_response(model, digit)
    expected = np.maximum(looped_conv(digit.reshape(1, 28, 28, 1), model.params[0], model.params[1], pad), 0)
    assert got_side == side and maps.shape == (side * side, model.params[0].shape[0])
    np.testing.assert_allclose(maps, expected[0].reshape(side * side, -1), atol=1e-5)
    assert maps.min() >= 0 and maps.max() > 0


def test_pooling_first_shrinks_what_the_filters_see(digit: np.ndarray) -> None:
    model = fresh_network(parse_hidden("p2,c4:3,16"), seed=0)
    maps, side = first_layer_response(model, digit)
    assert side == 12 and maps.shape == (144, 4)


def test_an_mlps_tiles_add_up_to_each_units_input(digit: np.ndarray) -> None:
    model = fresh_network((32,), seed=1)
    contributions, side = first_layer_response(model, digit)
    assert side == 28 and contributions.shape == (784, 32)
    np.testing.assert_allclose(contributions.sum(axis=0), digit @ model.params[0], rtol=1e-5, atol=1e-5)
    assert (contributions[digit == 0] == 0).all()  # no ink, no say


def test_a_different_drawing_gives_different_maps(digit: np.ndarray) -> None:
    model = fresh_network(parse_hidden("c8:5,p2,32"), seed=0)
    bar = np.zeros((28, 28), np.float32)
    bar[12:15, 5:23] = 1.0  # a horizontal bar: other filters, other places
    assert not np.allclose(first_layer_response(model, digit)[0], first_layer_response(model, bar.reshape(-1))[0])
