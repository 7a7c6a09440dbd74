"""Weights as .npz: plain numpy reads what we write; bad files are refused and nothing changes."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest

from inkling.errors import WeightsError
from inkling.network.convnet import ConvNet
from inkling.network.layers import parse_hidden
from inkling.network.mlp import MLP
from inkling.network.models import network_from_weights
from inkling.network.weights_io import MAX_FILE_BYTES, check_file_size, weights_from_npz, weights_to_npz


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
    back = MLP.from_weights(weights_from_npz(data).weights)
    assert np.array_equal(back.predict_proba(x), model.predict_proba(x))


def test_a_file_from_plain_numpy_with_float64_loads() -> None:
    model = MLP((784, 32, 10), seed=2)
    data = _npz(**{k: v.astype(np.float64) for k, v in model.get_weights().items()})
    weights = weights_from_npz(data).weights
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
        model.set_weights(weights_from_npz(data).weights)
    assert all(np.array_equal(before[k], v) for k, v in model.get_weights().items())


def test_not_bytes_is_refused() -> None:
    with pytest.raises(WeightsError, match="bytes"):
        weights_from_npz("weights.npz")  # type: ignore[arg-type]


def test_export_refuses_invalid_weights() -> None:
    with pytest.raises(WeightsError, match="NaN"):
        weights_to_npz({**_good(), "b2": np.full(10, np.nan, np.float32)})


# ---- what a plain numpy user might save by mistake, and crafted files ----------------------------

def _with(name: str, value: np.ndarray) -> bytes:
    return _npz(**{**_good(), name: value})


def _header_bomb() -> bytes:
    """A 200-byte .npz whose W1 header claims 40,000 x 40,000 float32 (6 GB) with no data behind it."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (40_000, 40_000)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("W1.npy", header.getvalue())
    return buffer.getvalue()


def _encrypted() -> bytes:
    """A valid export with the 'encrypted' flag set on its first member."""
    data = bytearray(weights_to_npz(_good()))
    data[6] |= 1  # general purpose flag of the first local header
    central = data.rindex(b"PK\x01\x02", 0, len(data))
    first_central = data.index(b"PK\x01\x02")
    data[first_central + 8] |= 1
    assert central >= first_central
    return bytes(data)


def _member_is_a_pickle() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("W1.npy", b"\x80\x04\x95\x10\0\0\0\0\0\0\0\x8c\x02os\x94\x8c\x06system\x94\x93\x94.")
    return buffer.getvalue()


REFUSED_WITH_REASON = {
    "complex": (lambda: _with("W1", _good()["W1"].astype(np.complex64)), "dtype complex64"),
    "bool": (lambda: _with("b1", np.ones(128, bool)), "dtype bool"),
    "int": (lambda: _with("W2", np.ones((128, 10), np.int32)), "dtype int32"),
    "strings": (lambda: _with("b2", np.array(["1"] * 10)), "dtype <U1"),
    "object array (pickled)": (_object_array_npz, "pickled"),
    "header bomb": (_header_bomb, "claims shape (40000, 40000)"),
    "zip bomb": (_zip_bomb, "too large"),
    "encrypted member": (_encrypted, "zip feature"),
    "member that is a pickle": (_member_is_a_pickle, "cannot be read safely"),
    "empty": (lambda: b"", "empty"),
    "text": (lambda: b"print('hello')\n", "not a zip archive"),
    "npy": (lambda: (lambda b: (np.save(b, np.zeros(3)), b.getvalue())[1])(io.BytesIO()), "not a zip archive"),
    "truncated": (lambda: weights_to_npz(_good())[:-5000], "damaged or truncated"),
    "nan": (lambda: _with("W2", np.full((128, 10), np.nan, np.float32)), "NaN"),
    "inf in float64 past float32": (lambda: _with("b1", np.full(128, 1e300)), "too large for float32"),
    "missing b2": (lambda: _npz(W1=_good()["W1"], b1=_good()["b1"], W2=_good()["W2"]), "b2 is missing"),
    "extra array": (lambda: _npz(**_good(), notes=np.zeros(2, np.float32)), "unexpected array 'notes'"),
    "wrong shape": (lambda: _with("b1", np.zeros(127, np.float32)), "b1 has 127 values"),
    "scalar": (lambda: _with("b1", np.float32(1.0)), "non-empty 1-D"),
}


@pytest.mark.parametrize("kind", sorted(REFUSED_WITH_REASON))
def test_each_bad_file_is_refused_with_a_reason_naming_the_problem(kind: str) -> None:
    make, reason = REFUSED_WITH_REASON[kind]
    with pytest.raises(WeightsError) as info:
        weights_from_npz(make())
    assert reason in str(info.value)


def test_the_header_bomb_is_refused_before_numpy_allocates_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("np.load was reached")

    monkeypatch.setattr(np, "load", no_load)
    with pytest.raises(WeightsError, match="claims shape"):
        weights_from_npz(_header_bomb())


def test_a_huge_file_is_refused_by_its_size_alone() -> None:
    check_file_size(MAX_FILE_BYTES)  # the largest allowed passes
    with pytest.raises(WeightsError, match="MiB"):
        check_file_size(MAX_FILE_BYTES + 1)
    with pytest.raises(WeightsError, match="empty"):
        check_file_size(0)
    with pytest.raises(WeightsError, match="300 MiB"):
        weights_from_npz(b"PK\x03\x04" + b"\0" * (300 << 20))


@pytest.mark.parametrize("dtype", [np.float16, np.float64, ">f4"])
def test_other_float_dtypes_load_as_float32(dtype: Any) -> None:
    good = _good()
    weights = weights_from_npz(_npz(**{k: v.astype(dtype) for k, v in good.items()})).weights
    assert all(v.dtype == np.float32 for v in weights.values())
    assert np.allclose(weights["W1"], good["W1"], atol=1e-3)


def test_a_compressed_npz_loads() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_good())
    weights = weights_from_npz(buffer.getvalue()).weights
    assert all(np.array_equal(weights[k], v) for k, v in _good().items())


def test_a_convnet_goes_out_with_its_layers_and_plain_numpy_reads_them() -> None:
    hidden = parse_hidden("c4:5,p2,c8:3,p2,16")
    model = ConvNet(hidden, seed=2)
    data = weights_to_npz(model.get_weights(), hidden)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert str(npz["network"]) == "c4:5,p2,c8:3,p2,16"
        assert npz["W1"].shape == (4, 1, 5, 5)
    loaded = weights_from_npz(data)
    assert loaded.hidden == hidden
    x = np.random.default_rng(0).random((3, 784))
    np.testing.assert_array_equal(network_from_weights(*loaded).predict_proba(x), model.predict_proba(x))
    with np.load(io.BytesIO(weights_to_npz(_good(), (128,))), allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W1", "W2", "b1", "b2"]  # an MLP's file stays as it always was


@pytest.mark.parametrize("network,reason", [
    ("c4:3,p2,c8:3,p2,16", "shape"),           # other layers than the arrays'
    ("c4:5,p2,c8:3,16", "shape"),              # a pooling left out: the dense layer's inputs differ
    ("c4:5,zz", "is not a layer"),
    (None, "do not say their network's layers"),
])
def test_a_convnet_file_whose_layers_do_not_fit_its_text_is_refused(network: str | None, reason: str) -> None:
    weights = ConvNet(parse_hidden("c4:5,p2,c8:3,p2,16"), seed=0).get_weights()
    extra = {} if network is None else {"network": np.array(network)}
    with pytest.raises(WeightsError, match=reason):
        weights_from_npz(_npz(**weights, **extra))
