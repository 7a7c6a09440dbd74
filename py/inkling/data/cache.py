"""SampleCache: training batches in a shuffled order, from blocks fetched ahead of when they are needed.

Blocks are consumed in a shuffled order that covers every block once per epoch,
and the samples of a block in a shuffled order of their own; a batch may span
blocks. Fetching and holding the blocks is `inkling.prefetch`'s part (over
`inkling.block_fetcher`); this module reads their samples into batches, and waits,
without spinning, while a batch is not there yet.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from .block_fetcher import DEFAULT_TIMEOUT, Fetch
from .blocks import MANIFEST, Block, BlockEntry, Manifest
from .prefetch import BlockPrefetcher

# DEFAULT_TIMEOUT and Fetch belong to inkling.block_fetcher; they are re-exported for callers that
# still import them from here.
__all__ = ["DEFAULT_TIMEOUT", "Fetch", "SampleCache", "open_training_data"]


def _streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The seeds of the block order and of the sample order, from one ``seed``."""
    # Two streams, so the order of blocks does not depend on when blocks arrive.
    block_seed, sample_seed = np.random.SeedSequence(seed).spawn(2)
    return block_seed, sample_seed


class SampleCache(BlockPrefetcher):
    """A prefetching, shuffling source of training batches.

    Attributes:
        waits: Batches that had to wait for data.
        wait_seconds: Total time spent waiting for data.
        ...and those of `BlockPrefetcher` (``cache_size``, ``errors``, ``skipped``, ...).
    """

    def __init__(self, fetch: Fetch, entries: Sequence[BlockEntry], *, seed: int = 0, **options: Any) -> None:
        """Set up the cache; nothing is fetched until `replenish` or `take`.

        Args:
            fetch: ``await fetch("train-007.bin")`` returns the file's bytes.
            entries: The blocks to draw samples from (the manifest's train list).
            seed: Seed of the block and sample order.
            options: Those of `BlockPrefetcher` (``cache_size``, ``patience``) and of
                `BlockFetcher` (``rows``, ``cols``, ``attempts``, ``backoff``, ``max_backoff``, ``timeout``).

        Raises:
            ValueError: No entries, or a ``cache_size`` the memory budget refuses; says why.
        """
        block_seed, sample_seed = _streams(seed)
        super().__init__(fetch, entries, seed=block_seed, **options)
        self._sample_rng = np.random.default_rng(sample_seed)
        self._head: Block | None = None  # the block being read
        self._head_order = np.empty(0, np.intp)  # its samples in shuffled order ...
        self._head_pos = 0  # ... and how many of them have been taken
        self._waited = False
        self.waits = 0
        self.wait_seconds = 0.0

    # What this reader holds: the block being read counts as held until it is read to the end.

    def _held(self) -> int:
        return int(self._head is not None)

    def _held_samples(self) -> int:
        return len(self._head_order) - self._head_pos

    def reseed(self, seed: int) -> None:
        """Start the order of blocks and samples again from ``seed``, as a new cache would.

        What is held or in flight is dropped: the next samples must not depend on what the
        previous order had fetched. The counts (errors, waits, ...) go on.
        """
        block_seed, sample_seed = _streams(seed)
        self._restart(block_seed)
        self._sample_rng = np.random.default_rng(sample_seed)
        self._head_order = np.empty(0, np.intp)
        self._head_pos = 0

    def close(self) -> None:
        """Cancel every fetch in flight and let go of the block being read."""
        super().close()
        self._head = None

    # ---- taking batches ------------------------------------------------------------------

    async def take(self, n: int, interrupt: asyncio.Event | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The next ``n`` samples: pixels ``(n, rows*cols)`` float32 in [0, 1] and int64 labels.

        Waits (without spinning, counted in ``waits``) while fewer than ``n`` samples
        have arrived. Nothing is consumed until the whole batch is there.

        Args:
            interrupt: If this event is set while waiting, a block is given up on
                (see `drain_failures`), or the cache is `starved`, return None at
                once so the caller can act (on a command, by reporting the failure,
                or by pausing) and call again.
        """
        while self.available() < n:
            self.replenish(min_samples=n)
            if interrupt is not None and (interrupt.is_set() or self._failures or self.starved):
                return None
            self._waited = True
            waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self.next_change().wait())}
            if interrupt is not None:
                waiters.add(asyncio.ensure_future(interrupt.wait()))
            start = time.perf_counter()
            # A block held up behind a slow one becomes readable, and a hung fetch makes room for a probe,
            # without any fetch ending.
            await asyncio.wait(waiters, timeout=self.wait_limit(), return_when=asyncio.FIRST_COMPLETED)
            self.wait_seconds += time.perf_counter() - start
            for waiter in waiters:
                waiter.cancel()
        if self._waited:
            self.waits += 1
            self._waited = False
        return self._gather(n)

    def _gather(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.empty((n, self._rows * self._cols), np.float32)
        y = np.empty(n, np.int64)
        filled = 0
        moved_on = False  # a block left the cache: its place can go to a new fetch
        while filled < n:
            if self._head is None or self._head_pos == len(self._head_order):
                self._next_head()
                moved_on = True
                continue
            k = min(n - filled, len(self._head_order) - self._head_pos)
            picks = self._head_order[self._head_pos : self._head_pos + k]
            x[filled : filled + k] = self._head.pixels[picks]  # uint8 -> float32 on assignment
            y[filled : filled + k] = self._head.labels[picks]
            self._head_pos += k
            filled += k
        x /= 255
        if self._head_pos == len(self._head_order):
            self._head = None  # read to the end: free its place in the cache now
            moved_on = True
        if moved_on:  # otherwise nothing changed: fetches only end while the event loop runs
            self.replenish()
        return x, y

    def _next_head(self) -> None:
        self._head = self._take_block()  # there is one: available() said so
        if self._head is not None:
            self._head_order = self._sample_rng.permutation(len(self._head))
        else:
            self._head_order = np.empty(0, np.intp)
        self._head_pos = 0


async def open_training_data(fetch: Fetch, inputs: int, **options: Any) -> tuple[Manifest, SampleCache]:
    """Fetch and check the manifest, and make the sample cache of its training blocks.

    Args:
        fetch: ``await fetch(name)`` returns a file's bytes.
        inputs: Pixels per image the network takes.
        **options: The cache's (``cache_size``, ``seed``, ``attempts``, ...).

    Raises:
        DataError: The manifest cannot be fetched or read, or its images are not of ``inputs`` pixels.
        ValueError: ``cache_size`` is more than the cache's memory budget holds.
    """
    try:
        raw = await fetch(MANIFEST)
    except Exception as exc:  # noqa: BLE001 - fetch is foreign code
        raise DataError(f"could not fetch {MANIFEST}: {type(exc).__name__}: {exc}", MANIFEST) from exc
    manifest = Manifest.from_json(raw)
    if manifest.rows * manifest.cols != inputs:
        raise DataError(f"{MANIFEST}: images of {manifest.rows}x{manifest.cols} do not fit a "
                        f"{inputs}-input network", MANIFEST)
    cache = SampleCache(fetch, manifest.train, rows=manifest.rows, cols=manifest.cols, **options)
    return manifest, cache
