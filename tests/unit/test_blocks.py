"""The block format, the manifest, IDX reading and preparing MNIST."""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from inkling.data.blocks import (HEADER, MNIST_SHA256, BlockEntry, DigestedBytes, Manifest, decode_block, encode_block,
                                 prepare_mnist, read_idx)
from inkling.errors import DataError


def _entry(raw: bytes, name: str = "train-003.bin", count: int = 5) -> BlockEntry:
    return BlockEntry(name, count, hashlib.sha256(raw).hexdigest())


def _samples(n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), (np.arange(n) % 10).astype(np.uint8)


def test_block_round_trip_and_layout() -> None:
    images, labels = _samples()
    raw = encode_block(images, labels)
    assert raw[:4] == b"INKB" and struct.unpack_from("<IIHH", raw, 4) == (1, 5, 28, 28)
    assert len(raw) == 16 + 5 * 784 + 5
    block = decode_block(raw, _entry(raw))
    assert block.file == "train-003.bin" and len(block) == 5
    assert np.array_equal(block.pixels, images.reshape(5, 784))
    assert np.array_equal(block.labels, labels)


def test_a_digest_that_came_with_the_bytes_is_the_one_checked() -> None:
    images, labels = _samples()
    raw = encode_block(images, labels)
    entry = _entry(raw)
    block = decode_block(DigestedBytes(raw, entry.sha256), entry)  # the browser hashed it with WebCrypto
    assert np.array_equal(block.pixels, images.reshape(5, 784))
    # The fetcher's digest disagrees with the manifest: refused as a corrupt block, never hashed again.
    with pytest.raises(DataError, match="sha256 does not match"):
        decode_block(DigestedBytes(raw, "0" * 64), entry)


def _rehashed(raw: bytes, count: int = 5) -> tuple[bytes, BlockEntry]:
    return raw, _entry(raw, count=count)


def _with_header(raw: bytes, **changes: object) -> bytes:
    fields = dict(zip(("magic", "version", "count", "rows", "cols"), HEADER.unpack_from(raw)))
    fields.update(changes)
    return HEADER.pack(*fields.values()) + raw[HEADER.size:]


GOOD = encode_block(*_samples())
BAD_BLOCKS = {
    "hash": (GOOD[:-1] + b"\x01", _entry(GOOD), "sha256"),
    "magic": (*_rehashed(_with_header(GOOD, magic=b"JUNK")), "not an inkling block"),
    "version": (*_rehashed(_with_header(GOOD, version=2)), "version 2"),
    "count": (*_rehashed(_with_header(GOOD, count=4)), "holds 4 samples"),
    "shape": (*_rehashed(_with_header(GOOD, rows=32, cols=24)), "32x24"),
    "short": (*_rehashed(GOOD[:-7]), "bytes; expected"),
    "long": (*_rehashed(GOOD + b"\0"), "bytes; expected"),
    "header only": (*_rehashed(GOOD[:10]), "shorter than the block header"),
    "label": (*_rehashed(GOOD[:-1] + b"\x0a"), "label 10"),
    "manifest count": (GOOD, _entry(GOOD, count=6), "manifest says 6"),
}


@pytest.mark.parametrize("kind", sorted(BAD_BLOCKS))
def test_decoder_rejects_bad_blocks_naming_the_file(kind: str) -> None:
    raw, entry, needle = BAD_BLOCKS[kind]
    with pytest.raises(DataError, match=needle) as info:
        decode_block(raw, entry)
    assert info.value.file == entry.file and entry.file in str(info.value)


def test_manifest_round_trip() -> None:
    raw = encode_block(*_samples())
    manifest = Manifest(28, 28, (_entry(raw, "train-000.bin"),), (_entry(raw, "test-000.bin"),), {"x": "y"})
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert (again.train_count, again.test_count) == (5, 5)


def _manifest_doc() -> dict:
    entry = {"file": "train-000.bin", "count": 1000, "sha256": "ab" * 32}
    return {"format": "inkling-blocks", "version": 1, "rows": 28, "cols": 28,
            "train": [entry], "test": [dict(entry, file="test-000.bin")], "source": {}}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(format="other"),
        lambda d: d.update(version=2),
        lambda d: d.update(rows=True),
        lambda d: d.update(cols=0),
        lambda d: d.update(train=[]),
        lambda d: d.pop("test"),
        lambda d: d["train"][0].update(count=-1),
        lambda d: d["train"][0].update(count=True),
        lambda d: d["train"][0].update(sha256="abc"),
        lambda d: d["train"][0].update(file="../secret"),
        lambda d: d["train"][0].update(file=".hidden"),
        lambda d: d["train"].append("train-001.bin"),
        lambda d: d.update(source=[]),
    ],
)
def test_manifest_rejects_malformed_documents(change) -> None:  # noqa: ANN001
    doc = _manifest_doc()
    change(doc)
    with pytest.raises(DataError, match="manifest.json"):
        Manifest.from_json(json.dumps(doc))


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[]", b"null"])
def test_manifest_rejects_non_json(raw: bytes) -> None:
    with pytest.raises(DataError, match="manifest.json"):
        Manifest.from_json(raw)


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_read_idx_from_bytes_path_and_gzip(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx(array)))
    for source in (_idx(array), tmp_path / "a", str(tmp_path / "a.gz")):
        assert np.array_equal(read_idx(source), array)
    for bad in (b"", b"\0\0\x0d\x01" + b"\0" * 8, _idx(array)[:-1], b"\0\0\x08\x03\0\0"):
        with pytest.raises(DataError):
            read_idx(bad)


def _write_fake_mnist(folder: Path, train: int = 2500, test: int = 1200) -> None:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", train), ("t10k", test)):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx((np.arange(n) % 10).astype(np.uint8)))


def test_prepare_writes_blocks_and_a_manifest_that_decode(tmp_path: Path) -> None:
    _write_fake_mnist(tmp_path)
    manifest = prepare_mnist(tmp_path, tmp_path / "out", check_sha256=False)
    assert [e.count for e in manifest.train] == [1000, 1000, 500]
    assert [e.file for e in manifest.test] == ["test-000.bin", "test-001.bin"]
    assert Manifest.from_json((tmp_path / "out" / "manifest.json").read_bytes()) == manifest
    images = read_idx(tmp_path / "train-images-idx3-ubyte")
    block = decode_block((tmp_path / "out" / "train-002.bin").read_bytes(), manifest.train[2])
    assert np.array_equal(block.pixels, images[2000:].reshape(500, 784))
    assert set(manifest.source) == set(MNIST_SHA256)


def test_prepare_refuses_files_that_are_not_the_pinned_mnist(tmp_path: Path) -> None:
    _write_fake_mnist(tmp_path)
    with pytest.raises(DataError, match="pinned"):
        prepare_mnist(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_prepare_names_a_missing_file(tmp_path: Path) -> None:
    _write_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is missing"):
        prepare_mnist(tmp_path, tmp_path / "out", check_sha256=False)


def test_prepared_real_mnist_has_the_known_labels(mnist_dir: Path) -> None:
    manifest = Manifest.from_json((mnist_dir / "manifest.json").read_bytes())
    assert (len(manifest.train), len(manifest.test), manifest.train_count, manifest.test_count) == (60, 10, 60000, 10000)
    assert manifest.source == MNIST_SHA256
    first_train = decode_block((mnist_dir / "train-000.bin").read_bytes(), manifest.train[0])
    first_test = decode_block((mnist_dir / "test-000.bin").read_bytes(), manifest.test[0])
    assert first_train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert first_test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_prepare_from_the_pinned_idx_files(mnist_idx_dir: Path, tmp_path: Path) -> None:
    manifest = prepare_mnist(mnist_idx_dir, tmp_path)
    assert (manifest.train_count, manifest.test_count) == (60000, 10000)
    block = decode_block((tmp_path / "train-000.bin").read_bytes(), manifest.train[0])
    assert block.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
