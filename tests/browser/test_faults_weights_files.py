"""Crafted weights files imported through the page's file input: each is refused with its reason
shown to the user, and the trained weights stay bit for bit (exported before and after)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from playwright.sync_api import expect

from inkling.network.mlp import MLP
from inkling.network.weights_io import weights_to_npz

WAIT_MS = 60_000
KEPT = "your current weights are kept"


def _npz(**arrays: Any) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _good() -> dict[str, np.ndarray]:
    return MLP(seed=5).get_weights()


def _with(name: str, value: Any) -> bytes:
    return _npz(**{**_good(), name: value})


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _header_bomb() -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (40_000, 40_000)})
    return _zip({"W1.npy": header.getvalue()})


def _object_array() -> bytes:
    return _with("b2", np.array([{"os.system": "echo pwned"}] * 10, dtype=object))


def _deeper() -> bytes:
    return _npz(**MLP((784, *[16] * 9, 10), seed=1).get_weights())


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, _good()["W1"])
    return buffer.getvalue()


def _encrypted() -> bytes:
    data = bytearray(weights_to_npz(_good()))
    data[6] |= 1  # the 'encrypted' flag, in the first local header and its central directory entry
    data[data.index(b"PK\x01\x02") + 8] |= 1
    return bytes(data)


# file name -> (its bytes, what the message must say)
FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty.npz": (lambda: b"", "empty"),
    "truncated.npz": (lambda: weights_to_npz(_good())[:-5000], "damaged or truncated"),
    "half.npz": (lambda: weights_to_npz(_good())[:200_000], "damaged or truncated"),
    "zip-bomb.npz": (lambda: _zip({"W1.npy": b"\0" * (300 << 20)}, zipfile.ZIP_DEFLATED), "too large"),
    "header-bomb.npz": (_header_bomb, "claims shape (40000, 40000)"),
    "wrong-shape.npz": (lambda: _with("b1", np.zeros(127, np.float32)), "b1 has 127 values"),
    "wrong-inputs.npz": (lambda: _npz(**{**_good(), "W1": np.zeros((783, 128), np.float32)}), "a 783-128-10 network; the page needs 784 inputs"),
    "int.npz": (lambda: _with("W2", np.ones((128, 10), np.int64)), "dtype int64"),
    "complex.npz": (lambda: _with("W1", _good()["W1"].astype(np.complex64)), "dtype complex64"),
    "bool.npz": (lambda: _with("b1", np.ones(128, bool)), "dtype bool"),
    "strings.npz": (lambda: _with("b2", np.array(["7"] * 10)), "dtype <U1"),
    "pickle-object.npz": (_object_array, "pickled"),
    "member-is-pickle.npz": (lambda: _zip({"W1.npy": b"\x80\x04\x95\x10\0\0\0\0\0\0\0\x8c\x02os\x94."}),
                             "cannot be read safely"),
    "nan.npz": (lambda: _with("W2", np.full((128, 10), np.nan, np.float32)), "NaN"),
    "inf.npz": (lambda: _with("b1", np.full(128, np.inf, np.float32)), "NaN or infinite"),
    # Finite float32, but the first product overflows: every prediction would be garbage.
    "overflow.npz": (lambda: _with("W1", np.full((784, 128), 3e38, np.float32)), "overflow to infinity"),
    "too-large.npz": (lambda: _with("W2", _good()["W2"] * np.float32(1e6)), "far too large"),
    "extra-array.npz": (lambda: _npz(**_good(), notes=np.zeros(3, np.float32)), "unexpected array 'notes'"),
    "missing-array.npz": (lambda: _npz(W1=_good()["W1"], b1=_good()["b1"], W2=_good()["W2"]), "b2 is missing"),
    "nine-hidden-layers.npz": (_deeper, "1 to 8 hidden layers"),
    "encrypted.npz": (_encrypted, "zip feature"),
    "not-a-zip.npz": (lambda: bytes(range(256)) * 100, "not a zip archive"),
    "weights.npy": (_npy, "not a zip archive"),
    "notes.txt": (lambda: b"W1 = [[0.1, 0.2]]\n", "not a zip archive"),
    "zip-of-text.npz": (lambda: _zip({"readme.txt": b"hello"}), "cannot be read safely"),
}
# 3 GiB on disk (sparse): more than a tab can read into one ArrayBuffer, so the page's message,
# which names the size, shows the file was refused by File.size before anything was read.
HUGE = "huge.npz"


def _export(page: Any, folder: Path, name: str) -> dict[str, np.ndarray]:
    with page.expect_download() as info:
        page.get_by_test_id("export-weights").click()
    path = folder / name
    info.value.save_as(path)
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _predictions(page: Any) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('[data-testid^=probs-]')].map(e => e.textContent)")


@pytest.fixture(scope="module")
def trained(page_factory: Any, page_ready: Any, site_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, dict[str, np.ndarray], list[str], Path]]:
    """A page trained for a few iterations, stopped, with its exported weights and shown predictions."""
    folder = tmp_path_factory.mktemp("weights-files")
    with page_factory() as (page, log):
        page.goto(site_url)
        page_ready(page, log)
        page.get_by_test_id("start").click()
        page.wait_for_function("() => Number(document.querySelector('[data-testid=stat-iteration]').textContent) >= 30",
                               timeout=WAIT_MS)
        page.get_by_test_id("stop").click()
        expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=WAIT_MS)
        page.get_by_test_id("samples-all").click()
        page.wait_for_function("() => document.querySelector('[data-testid=prediction-11]').textContent !== ''",
                               timeout=WAIT_MS)
        page.wait_for_timeout(500)
        yield page, log, _export(page, folder, "before.npz"), _predictions(page), folder


@pytest.mark.parametrize("name", [*FILES, HUGE])
def test_a_bad_weights_file_is_refused_with_its_reason(trained: Any, name: str) -> None:
    page, _, _, _, folder = trained
    path = folder / name
    if name == HUGE:
        with open(path, "wb") as file:
            file.write(weights_to_npz(_good()))
            file.truncate(3 << 30)
        reason = "3072 MiB"
    else:
        make, reason = FILES[name]
        path.write_bytes(make())
    page.get_by_test_id("import-weights").set_input_files(str(path))
    message = page.get_by_test_id("message")
    expect(message).to_contain_text(name, timeout=WAIT_MS)
    expect(message).to_have_class("message error")
    expect(message).to_contain_text(KEPT)
    expect(message).to_contain_text(reason)


def test_after_every_bad_file_the_weights_and_predictions_are_unchanged(trained: Any) -> None:
    page, log, before, shown, folder = trained
    after = _export(page, folder, "after.npz")
    assert sorted(after) == sorted(before)
    for key in before:
        assert after[key].tobytes() == before[key].tobytes(), f"{key} changed"
    assert _predictions(page) == shown
    assert log.console_errors == [], log.summary()
