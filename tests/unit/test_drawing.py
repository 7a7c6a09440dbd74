"""preprocess_drawing: a drawn digit becomes an MNIST-like 28x28 input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inkling.data.blocks import Manifest, decode_block
from inkling.data.drawing import preprocess_drawing


def _stroke_canvas(size: int = 280) -> np.ndarray:
    """A thick '7' drawn small in the top-left corner of a canvas, 0..255 like an alpha channel."""
    canvas = np.zeros((size, size), np.uint8)
    canvas[20:36, 30:130] = 255  # the bar
    for row in range(36, 180):  # the diagonal, 16 px thick
        col = 130 - (row - 36) // 2
        canvas[row, col - 16 : col] = 255
    return canvas


def _bbox(image: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    idx = np.arange(image.shape[0])
    return (image.sum(axis=1) @ idx) / image.sum(), (image.sum(axis=0) @ idx) / image.sum()


def test_an_off_centre_stroke_ends_up_centred_and_fitted_in_20x20() -> None:
    out = preprocess_drawing(_stroke_canvas())
    assert out.shape == (784,) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() == pytest.approx(1.0)
    image = out.reshape(28, 28)
    top, bottom, left, right = _bbox(image > 0)
    height, width = bottom - top + 1, right - left + 1
    assert max(height, width) == 20 and min(height, width) < 20  # aspect ratio kept
    cy, cx = _centre_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_scale_and_size_of_the_input_do_not_matter() -> None:
    canvas = _stroke_canvas()
    as_float = preprocess_drawing(canvas / 255.0)
    np.testing.assert_allclose(preprocess_drawing(canvas), as_float, atol=1e-6)
    small = canvas.reshape(140, 2, 140, 2).mean(axis=(1, 3))  # the same drawing at half resolution
    np.testing.assert_allclose(preprocess_drawing(small), as_float, atol=0.05)


def test_an_empty_drawing_gives_zeros() -> None:
    for empty in (np.zeros((280, 280)), np.zeros((28, 28), np.uint8), np.full((10, 10), -3.0)):
        out = preprocess_drawing(empty)
        assert out.shape == (784,) and not out.any()


def test_a_single_dot_is_centred() -> None:
    canvas = np.zeros((100, 100))
    canvas[3, 97] = 1
    image = preprocess_drawing(canvas).reshape(28, 28)
    assert image.sum() > 0
    cy, cx = _centre_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_a_wide_thin_line_keeps_its_aspect_ratio() -> None:
    canvas = np.zeros((200, 200))
    canvas[100:104, 10:190] = 1
    top, bottom, left, right = _bbox(preprocess_drawing(canvas).reshape(28, 28) > 0)
    assert right - left + 1 == 20 and bottom - top + 1 <= 2


@pytest.mark.parametrize("bad", [np.zeros(784), np.zeros((0, 5)), np.zeros((3, 3, 3)), np.array([["a"]]),
                                 np.full((5, 5), np.nan)])
def test_invalid_input_is_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        preprocess_drawing(bad)


def test_mnist_digits_drawn_large_off_centre_come_back_as_themselves(mnist_dir: Path) -> None:
    manifest = Manifest.from_json((mnist_dir / "manifest.json").read_bytes())
    block = decode_block((mnist_dir / "test-000.bin").read_bytes(), manifest.test[0])
    for digit in block.pixels[:50].reshape(-1, 28, 28):
        canvas = np.zeros((400, 400))
        canvas[60:340, 110:390] = np.kron(digit, np.ones((10, 10)))  # 10x larger, moved right
        out = preprocess_drawing(canvas)
        assert np.corrcoef(out, digit.ravel())[0, 1] > 0.99


def test_the_ink_box_grows_with_the_strokes_and_stays_on_the_canvas() -> None:
    from inkling.data.drawing import grow_ink_box

    box = grow_ink_box(None, [(100.0, 100.0)], 13.0, 280)
    assert box == (87, 87, 113, 113)
    assert grow_ink_box(box, [(150.5, 90.0)], 13.0, 280) == (87, 77, 164, 113)  # grown, never shrunk
    assert grow_ink_box(None, [(-50.0, 300.0)], 13.0, 280) == (0, 279, 1, 280)  # clipped, not empty
