"""SampleCache: training samples from blocks fetched in parallel, ahead of when they are needed.

Blocks are consumed in a shuffled order that covers every block once per epoch,
and the samples of a block in a shuffled order of their own; a batch may span
blocks. The cache keeps ``cache_size`` blocks cached or in flight, so fetching
overlaps training. Fetches go through an injected ``fetch(path) -> bytes``
coroutine (a file reader in the CLI, ``pyfetch`` in the browser, a fake in
tests). A failed, corrupt or stalled fetch (one that takes longer than ``timeout``)
is counted, logged and retried with backoff; after ``attempts`` failures the block
is skipped for this epoch. A block that has failed at least once, or has been in flight
longer than ``patience``, no longer holds up the blocks planned after it: they are read
as they arrive, and it when it does.

When no fetched block is left to read and the last blocks (as many as the cache
holds) were all given up on, the cache is *starved*: it keeps one probe fetch going
at a gentle pace instead of a full cache of doomed ones, and fills up again as soon
as a block arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

import numpy as np

from .blocks import HEADER, Block, BlockEntry, decode_block
from .errors import DataError

Fetch = Callable[[str], Awaitable[bytes]]
log = logging.getLogger(__name__)
# A block is 785 KB; 30 s per attempt leaves a slow link (about 2 Mbit/s shared by a full
# cache of parallel fetches) time to finish, and still catches a server that never answers.
DEFAULT_TIMEOUT = 30.0
# A block from the site's own server arrives in milliseconds, and several in parallel well
# within a second; one still missing after 2 s is stalled or slow, and training would
# rather read the blocks behind it than wait out the timeout. Below this, reading order
# (and so a seeded run) does not depend on how fast blocks arrive.
DEFAULT_PATIENCE = 2.0
# What the cache may hold of training blocks, cached and in flight. A tab runs two Python
# runtimes (page and worker) in 32-bit wasm; 64 MiB holds all of MNIST's training set
# (60 blocks, 47 MB) with room to spare, and leaves the heap to the network and the page.
MEMORY_BUDGET = 64 * 2**20


def block_bytes(entry: BlockEntry, rows: int, cols: int) -> int:
    """What one block of ``entry`` occupies while cached: its file, whose bytes the decoded arrays view."""
    return HEADER.size + entry.count * (rows * cols + 1)


def max_cache_size(entries: Sequence[BlockEntry], rows: int = 28, cols: int = 28,
                   budget: int = MEMORY_BUDGET) -> int:
    """The most blocks a cache over ``entries`` may hold within ``budget`` bytes (at least 1)."""
    return max(1, budget // max(block_bytes(e, rows, cols) for e in entries))


def size_refusal(cache_size: int, entries: Sequence[BlockEntry], rows: int = 28, cols: int = 28) -> str | None:
    """Why a cache of ``cache_size`` blocks over ``entries`` is more than a tab can afford (None if it is not)."""
    most = max_cache_size(entries, rows, cols)
    if cache_size <= most:
        return None
    block_kb = max(block_bytes(e, rows, cols) for e in entries) / 1000
    return (f"{cache_size} blocks are more than a tab can afford: at most {most} blocks of {block_kb:,.0f} KB "
            f"fit the {MEMORY_BUDGET // 2**20} MiB set aside for training data")


@dataclass(eq=False)
class _Slot:
    """A planned block: its manifest index, the task fetching it, when it was planned, and its
    failed attempts so far."""

    index: int
    planned_at: float = field(default_factory=time.monotonic)
    task: asyncio.Task[Block | None] = field(init=False)
    failures: int = 0

    def ready(self) -> bool:
        """Fetched (or given up on): nothing more will happen to it."""
        return self.task.done()

    def block(self) -> Block | None:
        """The block, if it arrived (call only when `ready`)."""
        return self.task.result()


class SampleCache:
    """A prefetching, shuffling source of training batches.

    Attributes:
        cache_size: Blocks to hold, counting the one being read and those in flight.
        waits: Batches that had to wait for data.
        wait_seconds: Total time spent waiting for data.
        errors: Failed fetch attempts (network errors and corrupt blocks).
        skipped: Blocks given up on after ``attempts`` failures.
        skipped_in_row: Blocks given up on since the last block that arrived.
        loaded: Blocks that arrived intact.
        last_failure: Why the last block given up on failed ("" if none was).
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
        timeout: float = DEFAULT_TIMEOUT,
        patience: float = DEFAULT_PATIENCE,
    ) -> None:
        """Set up the cache; nothing is fetched until `replenish` or `take`.

        Args:
            fetch: ``await fetch("train-007.bin")`` returns the file's bytes.
            entries: The blocks to draw samples from (the manifest's train list).
            cache_size: Blocks cached or in flight, 1 to what `MEMORY_BUDGET` holds (`max_cache_size`).
            seed: Seed of the block and sample order.
            attempts: Fetch attempts per block before skipping it this epoch.
            backoff: Seconds before the first retry; doubled after each failure
                up to ``max_backoff``. A starved cache waits ``max_backoff`` before
                each probe.
            timeout: Seconds one fetch attempt may take; a slower one is cancelled
                (which aborts the request in the browser) and counts as a failure.
            patience: Seconds a block in flight holds up the blocks planned after it;
                after that they are read first, and it when it arrives.
        """
        if not entries:
            raise ValueError("SampleCache needs at least one block")
        self._fetch = fetch
        self._entries = list(entries)
        self._rows, self._cols = rows, cols
        self._check_size(cache_size)
        self.cache_size = cache_size
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        self.timeout = timeout
        self.patience = patience
        self._seed_order(seed)
        self._order: deque[int] = deque()  # block indices still to fetch, this epoch and next
        self._slots: deque[_Slot] = deque()  # in reading order
        self._head: Block | None = None  # the block being read
        self._head_order = np.empty(0, np.intp)  # its samples in shuffled order ...
        self._head_pos = 0  # ... and how many of them have been taken
        self._waited = False
        self._failures: list[str] = []
        self._pulse = asyncio.Event()  # set (and replaced) whenever a fetch attempt ends
        self.waits = 0
        self.wait_seconds = 0.0
        self.errors = 0
        self.skipped = 0
        self.skipped_in_row = 0
        self.loaded = 0
        self.last_failure = ""
        self.epochs_started = 0

    # ---- what the trainer reports ------------------------------------------------------

    @property
    def data_len(self) -> int:
        """Blocks held: the one being read plus those fetched and waiting."""
        return (self._head is not None) + sum(slot.ready() and slot.block() is not None for slot in self._slots)

    @property
    def data_futures_len(self) -> int:
        """Fetches in flight (including ones waiting to retry)."""
        return sum(not slot.ready() for slot in self._slots)

    @property
    def starved(self) -> bool:
        """No fetched block left to read (at most the rest of the current one), and the last
        blocks (as many as the cache holds) were all given up on."""
        if self.skipped_in_row < min(self.cache_size, len(self._entries)):
            return False
        return not any(slot.block() is not None for slot in self._readable())

    def available(self) -> int:
        """Samples that `take` can return right now without waiting."""
        count = self._remaining_in_head()
        for slot in self._readable():
            block = slot.block()
            count += len(block) if block is not None else 0
        return count

    def _remaining_in_head(self) -> int:
        return len(self._head_order) - self._head_pos

    def _readable(self) -> list[_Slot]:
        """The fetched slots that may be read next, in reading order.

        A slot still fetching holds up the ones after it (so the order of samples does
        not depend on how fast blocks arrive), unless its fetch has already failed once or
        has taken longer than ``patience``: then waiting for it could take a whole timeout
        or minutes, and the blocks after it go first.
        """
        readable = []
        now = time.monotonic()
        for slot in self._slots:
            if slot.ready():
                readable.append(slot)
            elif not slot.failures and now - slot.planned_at <= self.patience:
                break
        return readable

    def _patience_left(self) -> float | None:
        """Seconds until the first slot that holds up a fetched block runs out of patience
        (None if no fetched block is held up)."""
        now = time.monotonic()
        holding: _Slot | None = None
        for slot in self._slots:
            if not slot.ready():
                if not slot.failures and now - slot.planned_at <= self.patience and holding is None:
                    holding = slot
            elif holding is not None and slot.block() is not None:
                return max(0.0, holding.planned_at + self.patience - now)
        return None

    def drain_failures(self) -> list[str]:
        """Messages about blocks skipped since the last call (for error signals)."""
        failures, self._failures = self._failures, []
        return failures

    def next_change(self) -> asyncio.Event:
        """An event set when the next fetch attempt ends (a block arrives, fails or is given up on).

        Take it before looking at the cache's state, then wait on it: a change that
        happens in between still sets it.
        """
        return self._pulse

    async def first_block(self) -> None:
        """Return once a block has arrived (fetches must have been started with `replenish`).

        Raises:
            DataError: The cache starved before any block arrived; the message says why.
        """
        while not self.loaded:
            change = self.next_change()
            if self.starved:
                raise DataError(
                    f"no training block could be fetched: the first {self.skipped_in_row} blocks tried all "
                    f"failed (last: {self.last_failure}). Check the network connection, or rebuild the site "
                    f"with 'python build.py' if its data folder is incomplete")
            await change.wait()

    def _changed(self) -> None:
        self._pulse.set()
        self._pulse = asyncio.Event()

    # ---- fetching ------------------------------------------------------------------------

    def replenish(self, min_samples: int = 0) -> None:
        """Start fetches so that blocks held + in flight = ``cache_size``.

        A starved cache starts one probe fetch at a time instead.

        Args:
            min_samples: Also fetch beyond ``cache_size`` if the planned blocks hold
                fewer samples than this, so a batch larger than the cache can fill.
        """
        # Blocks given up on hold no samples: their places go to new fetches.
        self._slots = deque(slot for slot in self._slots if not (slot.ready() and slot.block() is None))
        starved = self.starved
        planned = self._remaining_in_head() + sum(
            self._entries[slot.index].count if not slot.ready() else len(slot.block() or ())
            for slot in self._slots
        )

        def wanted() -> bool:
            if starved:
                return not self._slots  # one probe at a time
            return (self._head is not None) + len(self._slots) < self.cache_size or planned < min_samples

        while wanted():
            slot = _Slot(self._next_index())
            slot.task = asyncio.ensure_future(
                self._load_or_skip(slot, delay=self.max_backoff if starved else 0.0))
            self._slots.append(slot)
            planned += self._entries[slot.index].count

    def resize(self, cache_size: int) -> None:
        """Change ``cache_size`` (within `max_cache_size`); surplus blocks and fetches are dropped, newest first.

        A dropped block goes back to the front of the order, so the epoch still
        covers it. Growing takes effect at the next `replenish`.

        Raises:
            ValueError: Below 1 or above what the memory budget holds (nothing changes); says why.
        """
        self._check_size(cache_size)
        self.cache_size = cache_size
        while self._slots and (self._head is not None) + len(self._slots) > cache_size:
            slot = self._slots.pop()
            slot.task.cancel()
            self._order.appendleft(slot.index)

    def _check_size(self, cache_size: int) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        refusal = size_refusal(cache_size, self._entries, self._rows, self._cols)
        if refusal:
            raise ValueError(refusal)

    async def load(self, entry: BlockEntry) -> Block:
        """Fetch and decode one block, retrying with backoff; every failure counts in ``errors``.

        Raises:
            DataError: All ``attempts`` failed; the message names the block and the last error.
        """
        return await self._load(entry, None)

    async def _load(self, entry: BlockEntry, slot: _Slot | None) -> Block:
        last = ""
        for attempt in range(self.attempts):
            try:
                async with asyncio.timeout(self.timeout):  # cancels the fetch (and aborts its request)
                    raw = await self._fetch(entry.file)
                return decode_block(raw, entry, self._rows, self._cols)
            except asyncio.TimeoutError:
                self.errors += 1
                last = f"no complete answer within {self.timeout:g} s"
            except Exception as exc:  # noqa: BLE001 - fetch is foreign code; any failure is a data failure
                self.errors += 1
                last = f"{type(exc).__name__}: {exc}"
            log.warning("fetching %s failed (attempt %d of %d): %s", entry.file, attempt + 1, self.attempts, last)
            if slot is not None:
                slot.failures += 1
            self._changed()
            if attempt + 1 < self.attempts:
                await asyncio.sleep(min(self.backoff * 2**attempt, self.max_backoff))
        raise DataError(f"gave up on {entry.file} after {self.attempts} failed attempts; last: {last}", entry.file)

    async def _load_or_skip(self, slot: _Slot, delay: float) -> Block | None:
        entry = self._entries[slot.index]
        if delay:
            await asyncio.sleep(delay)  # a starved cache probes gently
        try:
            block = await self._load(entry, slot)
        except DataError as exc:
            self.skipped += 1
            self.skipped_in_row += 1
            self.last_failure = str(exc)
            self._failures.append(f"{exc}; skipped it for this epoch")
            self._changed()
            return None
        self.loaded += 1
        self.skipped_in_row = 0
        self._changed()
        return block

    def _seed_order(self, seed: int) -> None:
        # Two streams, so the order of blocks does not depend on when blocks arrive.
        block_seed, sample_seed = np.random.SeedSequence(seed).spawn(2)
        self._block_rng = np.random.default_rng(block_seed)
        self._sample_rng = np.random.default_rng(sample_seed)

    def reseed(self, seed: int) -> None:
        """Start the order of blocks and samples again from ``seed``, as a new cache would.

        What is held or in flight is dropped: the next samples must not depend on what the
        previous order had fetched. The counts (errors, waits, ...) go on.
        """
        self.close()
        self._seed_order(seed)
        self._order.clear()
        self._head_order = np.empty(0, np.intp)
        self._head_pos = 0
        self.skipped_in_row = 0
        self.epochs_started = 0
        self._changed()

    def close(self) -> None:
        """Cancel every fetch in flight."""
        for slot in self._slots:
            slot.task.cancel()
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
            # A block held up behind a slow one becomes readable without any fetch ending.
            await asyncio.wait(waiters, timeout=self._patience_left(), return_when=asyncio.FIRST_COMPLETED)
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
        slot = self._readable()[0]  # there is one: available() said so
        self._slots.remove(slot)
        self._head = slot.block()
        if self._head is not None:
            self._head_order = self._sample_rng.permutation(len(self._head))
        else:
            self._head_order = np.empty(0, np.intp)
        self._head_pos = 0
