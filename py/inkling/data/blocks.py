"""MNIST as blocks of samples: the block file format, the manifest, and preparing both from IDX.

A block file is a 16-byte header (``b"INKB"``, uint32 LE version, uint32 LE count,
uint16 LE rows, uint16 LE cols), then ``count * rows * cols`` uint8 pixels
(row-major, 0..255), then ``count`` uint8 labels (0..9). ``manifest.json`` lists
the train and test blocks with their counts and sha256.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from ..errors import DataError

MAGIC = b"INKB"
VERSION = 1
HEADER = struct.Struct("<4sIIHH")
BLOCK_SIZE = 1000
MANIFEST = "manifest.json"

# The four original MNIST IDX files and their pinned sha256 (uncompressed).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


@dataclass(frozen=True)
class BlockEntry:
    """One block as the manifest lists it."""

    file: str
    count: int
    sha256: str


@dataclass(frozen=True)
class Block:
    """A decoded block: ``pixels`` (count, rows*cols) uint8 and ``labels`` (count,) uint8."""

    file: str
    pixels: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Manifest:
    """The list of train and test blocks of a prepared data folder."""

    rows: int
    cols: int
    train: tuple[BlockEntry, ...]
    test: tuple[BlockEntry, ...]
    source: dict[str, str] = field(default_factory=dict)

    @functools.cached_property  # read after every training step
    def train_count(self) -> int:
        """Number of training samples over all train blocks."""
        return sum(e.count for e in self.train)

    @property
    def test_count(self) -> int:
        """Number of test samples over all test blocks."""
        return sum(e.count for e in self.test)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Manifest:
        """Parse and validate ``manifest.json``.

        Raises:
            DataError: It is not JSON or lacks a field the format requires.
        """
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{MANIFEST} is not valid JSON: {exc}", MANIFEST) from exc
        if not isinstance(doc, dict) or doc.get("format") != "inkling-blocks":
            raise DataError(f"{MANIFEST} is not an inkling-blocks manifest", MANIFEST)
        if doc.get("version") != VERSION:
            raise DataError(f"{MANIFEST} has version {doc.get('version')!r}; this code reads {VERSION}", MANIFEST)
        rows, cols = doc.get("rows"), doc.get("cols")
        if not (_is_int(rows) and _is_int(cols) and 0 < rows < 65536 and 0 < cols < 65536):
            raise DataError(f"{MANIFEST} has invalid rows/cols {rows!r}/{cols!r}", MANIFEST)
        source = doc.get("source", {})
        if not isinstance(source, dict):
            raise DataError(f"{MANIFEST}: source must be an object", MANIFEST)
        return cls(rows, cols, _entries(doc, "train"), _entries(doc, "test"), dict(source))

    def to_json(self) -> bytes:
        """The manifest as UTF-8 JSON bytes."""
        doc: dict[str, Any] = {
            "format": "inkling-blocks",
            "version": VERSION,
            "rows": self.rows,
            "cols": self.cols,
            "train": [vars(e) for e in self.train],
            "test": [vars(e) for e in self.test],
            "source": self.source,
        }
        return (json.dumps(doc, indent=1) + "\n").encode()


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _entries(doc: dict[str, Any], split: str) -> tuple[BlockEntry, ...]:
    items = doc.get(split)
    if not isinstance(items, list) or not items:
        raise DataError(f"{MANIFEST}: {split!r} must be a non-empty list of blocks", MANIFEST)
    entries = []
    for item in items:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("file"), str)
            and "/" not in item["file"]
            and not item["file"].startswith(".")
            and _is_int(item.get("count"))
            and item["count"] > 0
            and isinstance(item.get("sha256"), str)
            and len(item["sha256"]) == 64
        )
        if not ok:
            raise DataError(f"{MANIFEST}: invalid {split} entry {item!r}", MANIFEST)
        entries.append(BlockEntry(item["file"], item["count"], item["sha256"].lower()))
    return tuple(entries)


def encode_block(pixels: np.ndarray, labels: np.ndarray, rows: int = 28, cols: int = 28) -> bytes:
    """Serialise samples into the block format.

    Args:
        pixels: uint8, shape ``(count, rows, cols)`` or ``(count, rows*cols)``.
        labels: uint8 (or int) 0..9, shape ``(count,)``.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(len(labels), rows * cols)
    labels = np.asarray(labels)
    if labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ValueError("labels must be 0..9")
    header = HEADER.pack(MAGIC, VERSION, len(labels), rows, cols)
    return header + pixels.tobytes() + labels.astype(np.uint8).tobytes()


class DigestedBytes(bytes):
    """Bytes that come with their sha256, computed by whoever fetched them.

    The browser's fetcher hashes a block with WebCrypto, in native code, where
    Python's hashlib in WebAssembly takes about 3 ms of the training thread per
    block; `decode_block` then compares that digest with the manifest's.
    """

    sha256: str

    def __new__(cls, data: bytes, sha256: str) -> DigestedBytes:
        made = super().__new__(cls, data)
        made.sha256 = sha256
        return made


def decode_block(raw: bytes, entry: BlockEntry, rows: int = 28, cols: int = 28) -> Block:
    """Check a block against its manifest entry and decode it.

    ``raw`` may be `DigestedBytes`, whose own sha256 is then checked instead of hashing again.

    Raises:
        DataError: Wrong sha256, magic, version, count, shape, size or label range;
            the message names the file.
    """
    name = entry.file
    digest = raw.sha256 if isinstance(raw, DigestedBytes) else None
    raw = bytes(raw)
    if (digest or hashlib.sha256(raw).hexdigest()) != entry.sha256:
        raise DataError(f"{name}: sha256 does not match the manifest (corrupt or stale block)", name)
    if len(raw) < HEADER.size:
        raise DataError(f"{name}: {len(raw)} bytes is shorter than the block header", name)
    magic, version, count, r, c = HEADER.unpack_from(raw)
    if magic != MAGIC or version != VERSION:
        raise DataError(f"{name}: not an inkling block (magic {magic!r}, version {version})", name)
    if count != entry.count or (r, c) != (rows, cols):
        raise DataError(
            f"{name}: holds {count} samples of {r}x{c}; the manifest says {entry.count} of {rows}x{cols}", name
        )
    size = rows * cols
    if len(raw) != HEADER.size + count * (size + 1):
        raise DataError(f"{name}: {len(raw)} bytes; expected {HEADER.size + count * (size + 1)}", name)
    body = np.frombuffer(raw, dtype=np.uint8, offset=HEADER.size)
    pixels = body[: count * size].reshape(count, size)
    labels = body[count * size :]
    if labels.max() > 9:
        raise DataError(f"{name}: label {labels.max()} outside 0..9", name)
    return Block(name, pixels, labels)


def read_idx(source: str | Path | bytes) -> np.ndarray:
    """Read an IDX file (the format MNIST ships in) from a path or its bytes.

    Gzip-compressed files (``.gz``) are accepted too.

    Raises:
        DataError: The bytes are not a well-formed uint8 IDX array.
    """
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataError(f"{name}: not a uint8 IDX file", name)
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{name}: truncated IDX header", name)
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{name}: holds {data.size} values; its header says {shape}", name)
    return data.reshape(shape)


def prepare_mnist(
    idx_dir: str | Path, out_dir: str | Path, *, block_size: int = BLOCK_SIZE, check_sha256: bool = True
) -> Manifest:
    """Turn the four MNIST IDX files into train/test blocks plus ``manifest.json``.

    The manifest is written last, so a folder with a manifest is complete.

    Args:
        idx_dir: Folder holding ``train-images-idx3-ubyte`` and the other three.
        out_dir: Folder to write ``train-000.bin``... and ``manifest.json`` into.
        block_size: Samples per block.
        check_sha256: Refuse IDX files whose sha256 is not the pinned one (tests of
            the format pass False with small synthetic files).

    Raises:
        DataError: A file is missing, fails its sha256 or is malformed.
    """
    idx_dir, out_dir = Path(idx_dir), Path(out_dir)
    source: dict[str, str] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, pinned in MNIST_SHA256.items():
        path = idx_dir / name
        if not path.exists() and (idx_dir / f"{name}.gz").exists():
            path = idx_dir / f"{name}.gz"
        if not path.exists():
            raise DataError(f"{path} is missing: the MNIST IDX files must be in {idx_dir}", name)
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        digest = hashlib.sha256(raw).hexdigest()
        if check_sha256 and digest != pinned:
            raise DataError(f"{path}: sha256 {digest} is not the pinned {pinned}; re-download it", name)
        source[name] = digest
        arrays[name] = read_idx(raw)
    rows, cols = arrays["train-images-idx3-ubyte"].shape[1:]
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
        if len(images) != len(labels) or images.shape[1:] != (rows, cols):
            raise DataError(f"{prefix} images and labels do not match: {images.shape} vs {labels.shape}", prefix)
        entries = []
        for i, start in enumerate(range(0, len(labels), block_size)):
            raw = encode_block(images[start : start + block_size], labels[start : start + block_size], rows, cols)
            entry = BlockEntry(f"{split}-{i:03d}.bin", len(labels[start : start + block_size]),
                               hashlib.sha256(raw).hexdigest())
            _write_atomically(out_dir / entry.file, raw)
            entries.append(entry)
        splits[split] = tuple(entries)
    manifest = Manifest(rows, cols, splits["train"], splits["test"], source)
    _write_atomically(out_dir / MANIFEST, manifest.to_json())
    return manifest


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
