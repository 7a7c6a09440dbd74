"""The test digits the grid shows, read block by block from the site's data folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import numpy as np

from ..data.blocks import MANIFEST, Block, Manifest, decode_block
from ..errors import DataError

Fetch = Callable[[str], Awaitable[bytes]]
DATA_URL = "./data/"  # relative to the page


async def fetch_site_file(path: str) -> bytes:
    """A data file of this site (``path`` relative to the data folder).

    Raises:
        DataError: The server did not answer with the file.
    """
    from pyodide.http import pyfetch

    try:
        response = await pyfetch(DATA_URL + path)
    except Exception as error:  # a network failure surfaces as a JS error
        raise DataError(f"could not fetch {DATA_URL}{path}: {error}", path) from None
    if not response.ok:
        raise DataError(f"{DATA_URL}{path} answered HTTP {response.status}: rebuild the site with "
                        "'python build.py'", path)
    return await response.bytes()


@dataclass(frozen=True)
class Sample:
    """One test digit: ``pixels`` (784,) float32 in [0, 1], its ``label`` and its ``index`` in the test set."""

    pixels: np.ndarray
    label: int
    index: int


class TestDigits:
    """Hands out the test set's digits in order, fetching each block when first needed.

    Args:
        fetch: ``async (path) -> bytes`` for a path relative to the data folder.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._manifest: Manifest | None = None
        self._blocks: dict[int, Block] = {}
        self._next = 0

    async def manifest(self) -> Manifest:
        """The data manifest (fetched once)."""
        if self._manifest is None:
            self._manifest = Manifest.from_json(await self._fetch(MANIFEST))
        return self._manifest

    async def next(self) -> Sample:
        """The next test digit, wrapping around after the last one.

        Raises:
            DataError: The manifest or a block is missing or corrupt.
        """
        sample = await self.get(self._next)
        total = (await self.manifest()).test_count
        self._next = (self._next + 1) % total
        return sample

    async def get(self, index: int) -> Sample:
        """Test digit number ``index`` (0-based over all test blocks)."""
        manifest = await self.manifest()
        start = 0
        for number, entry in enumerate(manifest.test):
            if index < start + entry.count:
                block = self._blocks.get(number)
                if block is None:
                    raw = await self._fetch(entry.file)
                    block = decode_block(raw, entry, manifest.rows, manifest.cols)
                    self._blocks[number] = block
                row = index - start
                pixels = block.pixels[row].astype(np.float32) / np.float32(255.0)
                return Sample(pixels, int(block.labels[row]), index)
            start += entry.count
        raise IndexError(f"test digit {index} does not exist: the test set has {start}")
