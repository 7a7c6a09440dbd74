"""SampleCache: training samples from blocks fetched in parallel, ahead of when they are needed.

Blocks are consumed in a shuffled order that covers every block once per epoch,
and the samples of a block in a shuffled order of their own; a batch may span
blocks. The cache keeps ``cache_size`` blocks cached or in flight, so fetching
overlaps training. Fetches go through an injected ``fetch(path) -> bytes``
coroutine (a file reader in the CLI, ``pyfetch`` in the browser, a fake in
tests). A failed or corrupt fetch is counted, logged and retried with backoff;
after ``attempts`` failures the block is skipped for this epoch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Awaitable, Callable, Sequence

import numpy as np

from .blocks import Block, BlockEntry, decode_block
from .errors import DataError

Fetch = Callable[[str], Awaitable[bytes]]
log = logging.getLogger(__name__)


class SampleCache:
    """A prefetching, shuffling source of training batches.

    Attributes:
        cache_size: Blocks to hold, counting the one being read and those in flight.
        waits: Batches that had to wait for data.
        wait_seconds: Total time spent waiting for data.
        errors: Failed fetch attempts (network errors and corrupt blocks).
        skipped: Blocks given up on after ``attempts`` failures.
        epochs_started: How many shuffled passes over the blocks have begun.
    """

    def __init__(
        self,
        fetch: Fetch,
        entries: Sequence[BlockEntry],
        *,
        cache_size: int = 8,
        seed: int = 0,
        rows: int = 28,
        cols: int = 28,
        attempts: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 4.0,
    ) -> None:
        """Set up the cache; nothing is fetched until `replenish` or `take`.

        Args:
            fetch: ``await fetch("train-007.bin")`` returns the file's bytes.
            entries: The blocks to draw samples from (the manifest's train list).
            cache_size: Blocks cached or in flight, at least 1.
            seed: Seed of the block and sample order.
            attempts: Fetch attempts per block before skipping it this epoch.
            backoff: Seconds before the first retry; doubled after each failure
                up to ``max_backoff``.
        """
        if not entries:
            raise ValueError("SampleCache needs at least one block")
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        self._fetch = fetch
        self._entries = list(entries)
        self._rows, self._cols = rows, cols
        self.cache_size = cache_size
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        # Two streams, so the order of blocks does not depend on when blocks arrive.
        block_seed, sample_seed = np.random.SeedSequence(seed).spawn(2)
        self._block_rng = np.random.default_rng(block_seed)
        self._sample_rng = np.random.default_rng(sample_seed)
        self._order: deque[int] = deque()  # block indices still to fetch, this epoch and next
        self._slots: deque[tuple[int, asyncio.Task[Block | None]]] = deque()  # in reading order
        self._head: Block | None = None  # the block being read
        self._head_order = np.empty(0, np.intp)  # its samples in shuffled order ...
        self._head_pos = 0  # ... and how many of them have been taken
        self._waited = False
        self._failures: list[str] = []
        self.waits = 0
        self.wait_seconds = 0.0
        self.errors = 0
        self.skipped = 0
        self.epochs_started = 0

    # ---- what the trainer reports ------------------------------------------------------

    @property
    def data_len(self) -> int:
        """Blocks held: the one being read plus those fetched and waiting."""
        return (self._head is not None) + sum(task.done() for _, task in self._slots)

    @property
    def data_futures_len(self) -> int:
        """Fetches in flight (including ones waiting to retry)."""
        return sum(not task.done() for _, task in self._slots)

    def available(self) -> int:
        """Samples that `take` can return right now without waiting."""
        count = self._remaining_in_head()
        for _, task in self._slots:
            if not task.done():
                break
            block = task.result()
            count += len(block) if block is not None else 0
        return count

    def _remaining_in_head(self) -> int:
        return len(self._head_order) - self._head_pos

    def drain_failures(self) -> list[str]:
        """Messages about blocks skipped since the last call (for error signals)."""
        failures, self._failures = self._failures, []
        return failures

    # ---- fetching ------------------------------------------------------------------------

    def replenish(self, min_samples: int = 0) -> None:
        """Start fetches so that blocks held + in flight = ``cache_size``.

        Args:
            min_samples: Also fetch beyond ``cache_size`` if the planned blocks hold
                fewer samples than this, so a batch larger than the cache can fill.
        """
        planned = self._remaining_in_head() + sum(
            self._entries[index].count if not task.done() else len(task.result() or ())
            for index, task in self._slots
        )
        while (self._head is not None) + len(self._slots) < self.cache_size or planned < min_samples:
            index = self._next_index()
            task = asyncio.ensure_future(self._load_or_skip(self._entries[index]))
            self._slots.append((index, task))
            planned += self._entries[index].count

    def resize(self, cache_size: int) -> None:
        """Change ``cache_size``; surplus blocks and fetches are dropped, newest first.

        A dropped block goes back to the front of the order, so the epoch still
        covers it. Growing takes effect at the next `replenish`.
        """
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        self.cache_size = cache_size
        while self._slots and (self._head is not None) + len(self._slots) > cache_size:
            index, task = self._slots.pop()
            task.cancel()
            self._order.appendleft(index)

    async def load(self, entry: BlockEntry) -> Block:
        """Fetch and decode one block, retrying with backoff; every failure counts in ``errors``.

        Raises:
            DataError: All ``attempts`` failed; the message names the block and the last error.
        """
        last = ""
        for attempt in range(self.attempts):
            try:
                raw = await self._fetch(entry.file)
                return decode_block(raw, entry, self._rows, self._cols)
            except Exception as exc:  # noqa: BLE001 - fetch is foreign code; any failure is a data failure
                self.errors += 1
                last = f"{type(exc).__name__}: {exc}"
                log.warning("fetching %s failed (attempt %d of %d): %s", entry.file, attempt + 1, self.attempts, last)
            if attempt + 1 < self.attempts:
                await asyncio.sleep(min(self.backoff * 2**attempt, self.max_backoff))
        raise DataError(f"gave up on {entry.file} after {self.attempts} failed attempts; last: {last}", entry.file)

    async def _load_or_skip(self, entry: BlockEntry) -> Block | None:
        try:
            return await self.load(entry)
        except DataError as exc:
            self.skipped += 1
            self._failures.append(f"{exc}; skipped it for this epoch")
            return None

    def close(self) -> None:
        """Cancel every fetch in flight."""
        for _, task in self._slots:
            task.cancel()
        self._slots.clear()
        self._head = None

    def _next_index(self) -> int:
        if not self._order:
            self._order.extend(int(i) for i in self._block_rng.permutation(len(self._entries)))
            self.epochs_started += 1
        return self._order.popleft()

    # ---- taking batches ------------------------------------------------------------------

    async def take(self, n: int, interrupt: asyncio.Event | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The next ``n`` samples: pixels ``(n, rows*cols)`` float32 in [0, 1] and int64 labels.

        Waits (without spinning, counted in ``waits``) while fewer than ``n`` samples
        have arrived. Nothing is consumed until the whole batch is there.

        Args:
            interrupt: If this event is set while waiting, or a block is given up on
                (see `drain_failures`), return None at once so the caller can act
                (on a command, or by reporting the failure) and call again.
        """
        while self.available() < n:
            self.replenish(min_samples=n)
            if interrupt is not None and (interrupt.is_set() or self._failures):
                return None
            self._waited = True
            pending = next(task for _, task in self._slots if not task.done())
            waiters: set[asyncio.Future[Any]] = {pending}
            if interrupt is not None:
                waiters.add(asyncio.ensure_future(interrupt.wait()))
            start = time.perf_counter()
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            self.wait_seconds += time.perf_counter() - start
            for waiter in waiters - {pending}:
                waiter.cancel()
        if self._waited:
            self.waits += 1
            self._waited = False
        return self._gather(n)

    def _gather(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.empty((n, self._rows * self._cols), np.float32)
        y = np.empty(n, np.int64)
        filled = 0
        while filled < n:
            if self._head is None or self._head_pos == len(self._head_order):
                self._next_head()
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
        self.replenish()
        return x, y

    def _next_head(self) -> None:
        _, task = self._slots.popleft()  # done: available() said so
        self._head = task.result()
        if self._head is not None:
            self._head_order = self._sample_rng.permutation(len(self._head))
        else:
            self._head_order = np.empty(0, np.intp)
        self._head_pos = 0
