"""Fixtures for the core's unit tests: synthetic block data, a fake fetch, and real MNIST if prepared."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from inkling.data.blocks import BlockEntry, Manifest, encode_block
from inkling_build.data import data_is_current, prepare_data
from inkling_build.fetcher import Fetcher
from inkling_build.pins import MNIST_PINS
from inkling_build.workspace import Paths, build_lock

ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = ROOT / "data"


def synthetic_samples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Easy digits: class k lights a 4x4 patch whose place depends on k, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        r, c = 2 + 6 * (k // 4), 2 + 6 * (k % 4)
        images[i, r : r + 4, c : c + 4] = 255
    return images, labels


def make_dataset(train_blocks: int = 6, test_blocks: int = 2, block: int = 50, seed: int = 0) -> dict[str, bytes]:
    """The files of a prepared data folder (manifest.json + blocks) as ``{name: bytes}``."""
    files: dict[str, bytes] = {}
    splits: dict[str, list[BlockEntry]] = {"train": [], "test": []}
    for split, count, offset in (("train", train_blocks, 0), ("test", test_blocks, 1000)):
        for i in range(count):
            images, labels = synthetic_samples(block, seed + offset + i)
            raw = encode_block(images, labels)
            entry = BlockEntry(f"{split}-{i:03d}.bin", block, hashlib.sha256(raw).hexdigest())
            files[entry.file] = raw
            splits[split].append(entry)
    files["manifest.json"] = Manifest(28, 28, tuple(splits["train"]), tuple(splits["test"])).to_json()
    return files


class FakeFetch:
    """An async ``fetch(path) -> bytes`` over in-memory files, with delays, failures and corruption.

    Every block fetch takes ``delay`` seconds; the manifest comes at once.

    Attributes:
        calls: Paths requested, in order.
        in_flight / max_in_flight: Fetches running now / at most at once.
    """

    def __init__(self, files: dict[str, bytes], delay: float = 0.0) -> None:
        self.files = files
        self.delay = delay
        self.fail: dict[str, float] = {}  # path -> how many more calls fail (math.inf: all)
        self.corrupt: dict[str, float] = {}  # path -> how many more calls return damaged bytes
        self.calls: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, path: str) -> bytes:
        self.calls.append(path)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay if path.endswith(".bin") else 0)  # the manifest comes at once
            if self.fail.get(path, 0) > 0:
                self.fail[path] -= 1
                raise OSError(f"network down for {path}")
            if path not in self.files:
                raise FileNotFoundError(path)
            data = self.files[path]
            if self.corrupt.get(path, 0) > 0:
                self.corrupt[path] -= 1
                data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
            return data
        finally:
            self.in_flight -= 1


@pytest.fixture
def dataset() -> dict[str, bytes]:
    """A small synthetic data folder: 6 train blocks and 2 test blocks of 50 samples."""
    return make_dataset()


@pytest.fixture(scope="session")
def mnist_sized_dataset() -> dict[str, bytes]:
    """Synthetic data in MNIST's block size (1,000 samples, 785 KB a block): 2 train blocks, 1 test."""
    return make_dataset(train_blocks=2, test_blocks=1, block=1000)


@pytest.fixture
def fake_fetch(dataset: dict[str, bytes]) -> FakeFetch:
    """A FakeFetch over `dataset`, without delay."""
    return FakeFetch(dataset)


@pytest.fixture
def fetch_factory() -> Callable[..., FakeFetch]:
    """Build a FakeFetch over any files: ``fetch_factory(files, delay=...)``."""
    return FakeFetch


@pytest.fixture(scope="session")
def mnist_idx_dir() -> Path:
    """The folder of the four pinned MNIST IDX files, where the build caches them (fetched now if missing).

    Never a skip: a test whose inputs cannot be had fails with the build's message saying why.
    """
    paths = Paths()
    with Fetcher(paths.cache) as fetcher, build_lock(paths.cache):
        fetched = fetcher.ensure_all(MNIST_PINS)
    return next(iter(fetched.values())).parent


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The prepared real MNIST folder data/ (prepared now, as `python build.py data` would, if it is not)."""
    paths = Paths()
    if not data_is_current(paths):
        with Fetcher(paths.cache) as fetcher, build_lock(paths.cache):
            prepare_data(paths, fetcher)
    assert paths.data == REAL_DATA
    return REAL_DATA

