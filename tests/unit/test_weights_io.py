"""Weights as .npz: plain numpy reads what we write; bad files are refused and nothing changes."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from inkling.errors import WeightsError
from inkling.mlp import MLP
from inkling.weights_io import weights_from_npz, weights_to_npz


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_plain_numpy_reads_the_export_and_predicts_identically() -> None:
    model = MLP(seed=4)
    data = weights_to_npz(model.get_weights())
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        plain = {name: npz[name] for name in npz.files}
    assert sorted(plain) == ["W1", "W2", "b1", "b2"]
    assert all(a.dtype == np.float32 for a in plain.values())
    x = np.random.default_rng(0).random((20, 784), dtype=np.float32)
    # A script with nothing but numpy computes the same logits.
    logits = np.maximum(x @ plain["W1"] + plain["b1"], 0) @ plain["W2"] + plain["b2"]
    assert np.array_equal(logits.argmax(axis=1), model.predict(x))
    back = MLP.from_weights(weights_from_npz(data))
    assert np.array_equal(back.predict_proba(x), model.predict_proba(x))


def test_a_file_from_plain_numpy_with_float64_loads() -> None:
    model = MLP((784, 32, 10), seed=2)
    data = _npz(**{k: v.astype(np.float64) for k, v in model.get_weights().items()})
    weights = weights_from_npz(data)
    assert all(v.dtype == np.float32 for v in weights.values())
    assert MLP.from_weights(weights).sizes == (784, 32, 10)


def _good() -> dict[str, np.ndarray]:
    return MLP(seed=9).get_weights()


def _object_array_npz() -> bytes:
    weights = {k: v for k, v in _good().items()}
    weights["b2"] = np.array([{"evil": "pickle"}] * 10, dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **weights)  # numpy pickles object arrays into the .npy member
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("W1.npy", b"\0" * (300 << 20))  # 300 MiB that deflate to 300 KiB
    return buffer.getvalue()


BAD_FILES = {
    "truncated": lambda: weights_to_npz(_good())[:-5000],
    "half": lambda: weights_to_npz(_good())[:200_000],
    "empty": lambda: b"",
    "text": lambda: b"W1,b1\n1,2\n",
    "npy not npz": lambda: (lambda b: (np.save(b, np.zeros(3)), b.getvalue())[1])(io.BytesIO()),
    "pickle": lambda: b"\x80\x04\x95" + b"\0" * 50,
    "object array": _object_array_npz,
    "wrong shape": lambda: _npz(**{**_good(), "b1": np.zeros(127, np.float32)}),
    "nan": lambda: _npz(**{**_good(), "W2": np.full((128, 10), np.nan, np.float32)}),
    "inf": lambda: _npz(**{**_good(), "b1": np.full(128, np.inf, np.float32)}),
    "missing array": lambda: _npz(W1=_good()["W1"], b1=_good()["b1"], W2=_good()["W2"]),
    "unknown name": lambda: _npz(**_good(), notes=np.zeros(2)),
    "strings": lambda: _npz(**{**_good(), "b2": np.array(["x"] * 10)}),
    "zip bomb": _zip_bomb,
    "zip of other things": lambda: (lambda b: (zipfile.ZipFile(b, "w").writestr("a.txt", "hi"), b.getvalue())[1])(
        io.BytesIO()),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_are_refused_and_the_model_keeps_its_weights(kind: str) -> None:
    model = MLP(seed=1)
    before = model.get_weights()
    data = BAD_FILES[kind]()
    with pytest.raises(WeightsError):
        model.set_weights(weights_from_npz(data))
    assert all(np.array_equal(before[k], v) for k, v in model.get_weights().items())


def test_not_bytes_is_refused() -> None:
    with pytest.raises(WeightsError, match="bytes"):
        weights_from_npz("weights.npz")  # type: ignore[arg-type]


def test_export_refuses_invalid_weights() -> None:
    with pytest.raises(WeightsError, match="NaN"):
        weights_to_npz({**_good(), "b2": np.full(10, np.nan, np.float32)})
