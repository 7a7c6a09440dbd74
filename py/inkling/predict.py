"""``python -m inkling predict``: read digits from image files as the page reads a drawing.

Each image goes through `inkling.data.drawing.preprocess_drawing`, the very function the page runs
on a drawing (crop to the ink, fit 20x20, centre by mass in 28x28), then through the network of a
weights file. Inputs are ``.npy`` files (one grey image ``(h, w)`` or a batch ``(n, h, w)``, any
size, ink bright, as MNIST) or, with Pillow installed (``pip install 'inkling[images]'``), PNG and
the other formats Pillow reads; those are read as the page reads a photo or scan of a digit
(`inkling.data.photo.ink_of_picture`: dark ink on light paper, the paper levelled, a picture with
transparency as the page reads its canvas, its alpha being the ink) unless ``--ink`` says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .data.drawing import preprocess_drawing
from .data.photo import cut_out_ink, grey_of_picture, ink_of_picture, reading_size
from .errors import InklingError
from .network.models import Model, network_from_weights
from .network.weights_io import weights_from_file

MAX_IMAGE_PIXELS = 16 << 20  # one image; a larger one is refused before it is decoded
MAX_NPY_BYTES = 256 << 20


class Prediction(NamedTuple):
    """What the network reads in one image."""

    source: str  # the file, and ``[i]`` for an image of a batch
    digit: int
    probabilities: list[float]

    def as_json(self) -> str:
        """One JSON object: ``{"input", "digit", "probabilities"}``."""
        return json.dumps({"input": self.source, "digit": self.digit,
                           "probabilities": [round(p, 6) for p in self.probabilities]})

    def as_text(self) -> str:
        """``file: 7 (98.1%)`` and the runner-up."""
        order = np.argsort(self.probabilities)[::-1]
        first, second = int(order[0]), int(order[1])
        return (f"{self.source}: {first} ({self.probabilities[first]:.1%}; then {second} "
                f"{self.probabilities[second]:.1%})")


def load_model(path: Path) -> Model:
    """The network of a weights file (an Inkling export or ``np.savez`` of ``W1, b1, ...``).

    Raises:
        WeightsError: Not a readable weights file; says why.
    """
    return network_from_weights(*weights_from_file(path))


def images_of(path: Path, ink: str = "auto") -> list[tuple[str, np.ndarray]]:
    """Each grey image in ``path``, ink bright and background dark, with its name (``file`` for one
    image, ``file[i]`` for the images of a batch).

    ``ink``: ``bright`` (as MNIST and .npy files), ``dark`` (pen on paper) or ``auto`` (.npy bright;
    other images read as the page reads a photo: `inkling.data.photo.ink_of_picture`).

    Raises:
        InklingError: The file cannot be read as images; says why.
    """
    if path.suffix.lower() == ".npy":
        batch, single = _npy(path)
        if ink == "dark":  # dark ink on light paper: the ink becomes the bright part
            batch = batch.max(axis=(1, 2), keepdims=True) - batch
    else:
        rgba = _picture(path)
        cut_out = cut_out_ink(rgba)  # strokes on a transparent background: their alpha, whatever --ink says
        if ink == "auto" or cut_out is not None:
            batch = (ink_of_picture(rgba) if cut_out is None else cut_out)[None]
        else:
            grey = grey_of_picture(rgba)
            batch = (grey if ink == "bright" else grey.max() - grey)[None]
        single = True
    if single:
        return [(str(path), batch[0])]
    return [(f"{path}[{i}]", image) for i, image in enumerate(batch)]


def predict(model: Model, sources: Sequence[tuple[str, np.ndarray]]) -> list[Prediction]:
    """The network's reading of each image, preprocessed as the page preprocesses a drawing."""
    if not sources:
        return []
    x = np.stack([preprocess_drawing(image) for _, image in sources])
    probabilities = model.predict_proba(x)
    return [Prediction(name, int(row.argmax()), [float(p) for p in row])
            for (name, _), row in zip(sources, probabilities)]


def run(weights: Path, inputs: Sequence[Path], ink: str, as_json: bool) -> tuple[list[str], list[str]]:
    """The lines to print for every input, and the problems (one per input that could not be read).

    Raises:
        WeightsError: The weights file is not usable (nothing can be predicted).
    """
    model = load_model(weights)
    lines, problems = [], []
    for path in inputs:
        try:
            found = predict(model, images_of(path, ink))
        except (InklingError, ValueError) as error:
            problems.append(f"{path}: {error}")
            continue
        lines += [p.as_json() if as_json else p.as_text() for p in found]
    return lines, problems


def _npy(path: Path) -> tuple[np.ndarray, bool]:
    """A .npy file as a batch ``(n, h, w)`` of real numbers, and whether it held one image ``(h, w)``;
    never unpickling anything."""
    try:
        if path.stat().st_size > MAX_NPY_BYTES:
            raise InklingError(f"the file is over {MAX_NPY_BYTES >> 20} MiB: not a batch of digit images")
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InklingError(f"not a readable .npy array of images ({error})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise InklingError(f"holds {getattr(array, 'dtype', type(array).__name__)} values; expected grey levels")
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim != 3 or 0 in array.shape:
        raise InklingError(f"has shape {array.shape}; expected one grey image (h, w) or a batch (n, h, w)")
    return array.astype(np.float64), single


def _picture(path: Path) -> np.ndarray:
    """An image file decoded by Pillow as RGBA pixels ``(h, w, 4)`` uint8, read at
    `inkling.data.photo.reading_size` as the page reads a picture."""
    try:
        from PIL import Image  # noqa: PLC0415 - an optional extra, only for image files
    except ImportError:
        raise InklingError("reading image files needs Pillow: pip install 'inkling[images]' "
                           "(or pass .npy arrays)") from None
    try:
        with Image.open(path) as picture:
            if picture.width * picture.height > MAX_IMAGE_PIXELS:
                raise InklingError(f"{picture.width}x{picture.height} pixels is too large for a digit")
            rgba = picture.convert("RGBA")
            size = reading_size(picture.width, picture.height)
            if size != rgba.size:
                rgba = rgba.resize(size, Image.Resampling.BOX)
            return np.asarray(rgba, np.uint8)
    except OSError as error:
        raise InklingError(f"not an image Pillow can read ({error})") from None
