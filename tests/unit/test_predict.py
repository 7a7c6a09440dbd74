"""`python -m inkling predict`: image files and .npy arrays read as the page reads a drawing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inkling.cli import main
from inkling.data.blocks import Manifest, decode_block
from inkling.data.drawing import preprocess_drawing
from inkling.network.convnet import ConvNet
from inkling.network.layers import parse_hidden
from inkling.network.mlp import MLP
from inkling.network.optim import make_optimizer
from inkling.network.weights_io import weights_to_npz
from inkling.predict import images_of


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_npy_images_and_batches_read_as_the_page_reads_a_drawing(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = ConvNet(parse_hidden("c4:5,p2,16"), seed=2)
    weights = tmp_path / "w.npz"
    weights.write_bytes(weights_to_npz(model.get_weights(), model.hidden))
    rng = np.random.default_rng(0)
    drawings = (rng.random((3, 90, 70)) > 0.8) * rng.integers(1, 255, (3, 90, 70))  # any size, ink bright
    np.save(tmp_path / "one.npy", drawings[0])
    np.save(tmp_path / "batch.npy", drawings.astype(np.uint8))
    assert main(["predict", "--weights", str(weights), "--json", str(tmp_path / "one.npy"),
                 str(tmp_path / "batch.npy")]) == 0
    answers = _lines(capsys)
    assert [a["input"] for a in answers] == [str(tmp_path / "one.npy")] + [f"{tmp_path / 'batch.npy'}[{i}]"
                                                                          for i in range(3)]
    want = model.predict_proba(np.stack([preprocess_drawing(d) for d in [drawings[0], *drawings]]))
    for answer, probs in zip(answers, want):
        assert answer["digit"] == int(probs.argmax())
        np.testing.assert_allclose(answer["probabilities"], probs, atol=1e-6)


@pytest.fixture(scope="module")
def trained(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A small MLP trained briefly on real MNIST, its weights file, and 20 test digits with labels."""
    manifest = Manifest.from_json((mnist_dir / "manifest.json").read_bytes())
    train = decode_block((mnist_dir / manifest.train[0].file).read_bytes(), manifest.train[0])
    test = decode_block((mnist_dir / manifest.test[0].file).read_bytes(), manifest.test[0])
    model, optimizer = MLP((784, 64, 10), seed=0), make_optimizer("momentum", 0.05)
    x, y = train.pixels.astype(np.float32) / 255, train.labels.astype(np.int64)
    for epoch in range(8):
        for i in range(0, len(y), 32):
            optimizer.step(model.params, model.loss_and_grads(x[i:i + 32], y[i:i + 32]).grads)
    path = tmp_path_factory.mktemp("trained") / "mlp.npz"
    path.write_bytes(weights_to_npz(model.get_weights()))
    return path, test.pixels[:20].reshape(20, 28, 28), test.labels[:20]


def test_a_png_scan_of_dark_ink_on_paper_is_read(trained: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    weights, digits, labels = trained
    files = []
    for i, digit in enumerate(digits):
        paper = 235 - (digit.astype(np.float64) * 200 / 255)  # grey paper, dark ink, three times the size
        big = np.kron(paper, np.ones((3, 3))).astype(np.uint8)
        files.append(tmp_path / f"digit-{i}.png")
        Image.fromarray(big, "L").save(files[-1])
    assert main(["predict", "--weights", str(weights), "--json", *map(str, files)]) == 0
    read = [a["digit"] for a in _lines(capsys)]
    assert sum(r == t for r, t in zip(read, labels)) >= 17, (read, labels.tolist())
    assert main(["predict", "--weights", str(weights), str(files[0])]) == 0  # the plain text form
    assert capsys.readouterr().out.startswith(f"{files[0]}: {read[0]} (")


def test_bad_inputs_are_named_and_the_rest_still_read(trained: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    weights, digits, _ = trained
    (tmp_path / "junk.png").write_bytes(b"not a picture at all")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4, 5)))
    np.save(tmp_path / "good.npy", digits[0])
    inputs = [tmp_path / n for n in ("junk.png", "objects.npy", "cube.npy", "missing.npy", "good.npy")]
    assert main(["predict", "--weights", str(weights), "--json", *map(str, inputs)]) == 1
    out = capsys.readouterr()
    assert [json.loads(line)["input"] for line in out.out.splitlines()] == [str(tmp_path / "good.npy")]
    errors = out.err.splitlines()
    assert len(errors) == 4
    assert "not an image Pillow can read" in errors[0]
    assert "not a readable .npy" in errors[1] and "pickle" in errors[1].lower()
    assert "expected one grey image (h, w) or a batch (n, h, w)" in errors[2]
    assert "missing.npy" in errors[3]


def test_a_weights_file_that_is_not_one_stops_it_with_the_reason(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "w.npz").write_bytes(b"PK\x03\x04 nonsense")
    np.save(tmp_path / "d.npy", np.zeros((28, 28)))
    assert main(["predict", "--weights", str(tmp_path / "w.npz"), str(tmp_path / "d.npy")]) == 2
    assert "damaged or truncated" in capsys.readouterr().err
    assert main(["predict", "--weights", str(tmp_path / "none.npz"), str(tmp_path / "d.npy")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("ink", ["auto", "dark", "bright"])
def test_a_transparent_pictures_alpha_is_its_ink_whatever_ink_says(tmp_path: Path, ink: str) -> None:
    rgba = np.zeros((40, 30, 4), np.uint8)
    rgba[5:35, 13:17] = (255, 255, 255, 255)  # white strokes on a transparent background, as the page's canvas
    Image.fromarray(rgba, "RGBA").save(tmp_path / "canvas.png")
    [(_, image)] = images_of(tmp_path / "canvas.png", ink)
    np.testing.assert_array_equal(image, rgba[..., 3] / 255)
