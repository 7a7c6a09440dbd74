"""The network as an ONNX model: the file passes onnx's own checker, and onnxruntime reads 1,000 real test
digits with it to within 1e-5 of Inkling's probabilities, for MLPs and convnets of every layer kind; the
command line writes it from a weights file; the page's Pyodide has no onnx package (why it is hand-written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from inkling.cli import main
from inkling.data.blocks import Manifest, decode_block
from inkling.network.layers import parse_hidden
from inkling.network.models import fresh_network
from inkling.network.onnx_model import INPUT, OPSET, OUTPUT, onnx_model
from inkling.network.optim import make_optimizer
from inkling.network.weights_io import weights_to_npz
from inkling_build.fetcher import Fetcher
from inkling_build.pins import LOCK_NAME, RUNTIME_PINS
from inkling_build.workspace import Paths, build_lock

NETWORKS = ("256", "64,32", "c8:5,p2,32", "c4:3:same,p2,c8:3,p2,16", "p2,c4:3,16", "p2,32")


@pytest.fixture(scope="module")
def test_digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first 1,000 MNIST test digits, (1000, 784) in [0, 1], and their labels."""
    manifest = Manifest.from_json((mnist_dir / "manifest.json").read_bytes())
    block = decode_block((mnist_dir / manifest.test[0].file).read_bytes(), manifest.test[0])
    return block.pixels[:1000].astype(np.float32) / 255, block.labels[:1000]


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run([OUTPUT], {INPUT: x.reshape(-1, 1, 28, 28)})[0]


@pytest.mark.parametrize("text", NETWORKS)
def test_onnxruntime_reads_test_digits_as_inkling_does(text: str, test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = test_digits
    model = fresh_network(parse_hidden(text), seed=2)
    optimizer = make_optimizer("momentum", 0.03)
    for i in range(0, 320, 32):  # a few steps: weights that read digits, probabilities far from uniform
        optimizer.step(model.params, model.loss_and_grads(x[i:i + 32], y[i:i + 32]).grads)
    data = onnx_model(model.get_weights(), model.hidden)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)  # shapes inferred through every node
    assert proto.opset_import[0].version == OPSET
    assert [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == ["N", 1, 28, 28]
    got = _run(data, x)
    assert got.shape == (1000, 10) and got.dtype == np.float32
    assert float(np.abs(got - model.predict_proba(x)).max()) < 1e-5
    assert (got.argmax(axis=1) == model.predict(x)).mean() > 0.99  # ties of near-equal digits may split


def test_the_command_line_writes_the_model_of_a_weights_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             test_digits: tuple[np.ndarray, np.ndarray]) -> None:
    model = fresh_network(parse_hidden("c8:5,p2,32"), seed=0)
    weights = tmp_path / "conv.npz"
    weights.write_bytes(weights_to_npz(model.get_weights(), model.hidden))
    assert main(["export", "--onnx", "--weights", str(weights)]) == 0
    assert "wrote" in capsys.readouterr().out
    x = test_digits[0][:100]
    np.testing.assert_allclose(_run((tmp_path / "conv.onnx").read_bytes(), x), model.predict_proba(x), atol=1e-5)
    # Not a weights file: refused with the reason, nothing written.
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    assert main(["export", "--onnx", "--weights", str(junk), "--out", str(tmp_path / "junk.onnx")]) == 2
    assert "junk.npz" in capsys.readouterr().err and not (tmp_path / "junk.onnx").exists()


def test_the_pages_pyodide_has_no_onnx_package() -> None:
    # Why onnx_model writes protobuf by hand: the page exports with the same code, in this Pyodide.
    paths = Paths()
    with Fetcher(paths.cache) as fetcher, build_lock(paths.cache):
        lock = fetcher.ensure(next(pin for pin in RUNTIME_PINS if pin.name == LOCK_NAME))
    packages = json.loads(lock.read_text())["packages"]
    assert "numpy" in packages and not any(name.startswith("onnx") for name in packages)
