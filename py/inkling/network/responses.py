"""What a network's first weighted layer makes of one input, as pictures: a convolution's activation
maps (each filter slid over the image, after its ReLU), or, for a dense first layer, each unit's
weights times the ink they meet (the pixels that push the unit up or down for this very drawing)."""

from __future__ import annotations

import math

import numpy as np

from .convnet import conv_forward
from .engine import current_engine
from .layers import IMAGE_SIDE, Conv, Pool, layer_specs
from .models import Model


def first_layer_response(model: Model, x: np.ndarray) -> tuple[np.ndarray, int]:
    """The first weighted layer's response to one input ``x`` (784 values in [0, 1]).

    Returns:
        ``(side * side, units)`` float32, one column per filter or unit, and the side of its
        square picture: a convolution's output size (24 for a 5x5 'valid' filter on 28x28), or the
        image's side as the dense layer sees it (28, or 14 after a pooling).
    """
    image = np.asarray(x, np.float32).reshape(1, IMAGE_SIDE, IMAGE_SIDE, 1)
    for spec in layer_specs(model.hidden):
        if isinstance(spec, Pool):
            image = current_engine().pool_forward(image)[0]
            continue
        if isinstance(spec, Conv):
            maps, _ = conv_forward(image, model.params[0], model.params[1], spec.pad)
            np.maximum(maps, 0, out=maps)
            return maps[0].reshape(-1, maps.shape[-1]), maps.shape[1]
        break
    pixels = image.reshape(-1)
    return pixels[:, None] * model.params[0], math.isqrt(len(pixels))
