"""BlockPrefetcher: blocks fetched in parallel, ahead of when they are needed, within a memory budget.

Kept apart from fetching one block (`inkling.block_fetcher`) and from reading samples
(`inkling.cache`): this part decides which blocks to fetch, in which order they
are read, and how many a tab can afford to hold.

Blocks are fetched in a shuffled order that covers every block once per epoch.
The cache keeps ``cache_size`` blocks cached or in flight, so fetching overlaps
training. A block that has failed at least once, or has been in flight longer
than ``patience``, no longer holds up the blocks planned after it: they are read
as they arrive, and it when it does.

When no fetched block is left to read and the last blocks (as many as the cache
holds) were all given up on, the cache is *starved*: it keeps one probe fetch going
at a gentle pace instead of a full cache of doomed ones, and fills up again as soon
as a block arrives. A fetch that hangs (no answer past a probe's pace and patience)
gets one more probe beside it, so the data coming back is seen at once, not after
that fetch's timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from .block_fetcher import BlockFetcher, Fetch
from .blocks import Block, BlockEntry
from .cache_budget import size_refusal

# A block from the site's own server arrives in milliseconds, and several in parallel well
# within a second; one still missing after 2 s is stalled or slow, and training would
# rather read the blocks behind it than wait out the timeout. Below this, reading order
# (and so a seeded run) does not depend on how fast blocks arrive.
DEFAULT_PATIENCE = 2.0
@dataclass(eq=False)
class _Slot:
    """A planned block: its manifest index, the task fetching it, when it was planned, and its
    failed attempts so far."""

    index: int
    planned_at: float = field(default_factory=time.monotonic)
    task: asyncio.Task[Block | None] = field(init=False)
    failures: int = 0
    failed_at: float | None = None  # when its last attempt failed: the next one started within a backoff

    def ready(self) -> bool:
        """Fetched (or given up on): nothing more will happen to it."""
        return self.task.done()

    def block(self) -> Block | None:
        """The block, if it arrived (call only when `ready`)."""
        return self.task.result()

    def failed(self) -> None:
        """Count a failed attempt: from now on the slot no longer holds up the ones after it."""
        self.failures += 1
        self.failed_at = time.monotonic()


class BlockPrefetcher(BlockFetcher):
    """A cache of blocks fetched ahead of time, in a shuffled order; a reader takes them out with `_take_block`.

    Attributes:
        cache_size: Blocks to hold, counting the one being read and those in flight.
        epochs_started: How many shuffled passes over the blocks have begun.
        ...and the counts of `BlockFetcher` (``errors``, ``skipped``, ``loaded``, ...).
    """

    def __init__(
        self,
        fetch: Fetch,
        entries: Sequence[BlockEntry],
        *,
        cache_size: int = 8,
        seed: int | np.random.SeedSequence = 0,
        patience: float = DEFAULT_PATIENCE,
        **options: Any,
    ) -> None:
        """Set up the cache; nothing is fetched until `replenish`.

        Args:
            fetch: ``await fetch("train-007.bin")`` returns the file's bytes.
            entries: The blocks to fetch (the manifest's train list).
            cache_size: Blocks cached or in flight, 1 to what `cache_budget.MEMORY_BUDGET` holds (`max_cache_size`).
            seed: Seed of the block order.
            patience: Seconds a block in flight holds up the blocks planned after it;
                after that they are read first, and it when it arrives.
            options: Those of `BlockFetcher` (``rows``, ``cols``, ``attempts``, ``backoff``,
                ``max_backoff``, ``timeout``). A starved cache waits ``max_backoff`` before each probe.

        Raises:
            ValueError: No entries, or a ``cache_size`` below 1 or above the memory budget; says why.
        """
        if not entries:
            raise ValueError(f"{type(self).__name__} needs at least one block")
        super().__init__(fetch, **options)
        self._entries = list(entries)
        self._check_size(cache_size)
        self.cache_size = cache_size
        self.patience = patience
        self._block_rng = np.random.default_rng(seed)
        self._order: deque[int] = deque()  # block indices still to fetch, this epoch and next
        self._slots: deque[_Slot] = deque()  # in reading order
        self.epochs_started = 0

    @property
    def data_len(self) -> int:
        """Blocks held: the one being read plus those fetched and waiting."""
        return self._held() + sum(slot.ready() and slot.block() is not None for slot in self._slots)

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
        """Samples that can be read right now without waiting."""
        count = self._held_samples()
        for slot in self._readable():
            block = slot.block()
            count += len(block) if block is not None else 0
        return count

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

    def _hung_from(self, slot: _Slot) -> float:
        """When a slot in flight counts as hung: its attempt (begun within a backoff of being planned or
        of its last failure) unanswered past its patience. Such a fetch may hang until its timeout (tens
        of seconds), and must not hold a starved cache's probing back."""
        return (slot.failed_at or slot.planned_at) + self.max_backoff + self.patience

    def _hung(self, slot: _Slot, now: float) -> bool:
        return not slot.ready() and now > self._hung_from(slot)

    def _probe_wanted(self) -> bool:
        """While starved: a probe if every fetch in flight hangs, and fewer than two blocks hang."""
        now = time.monotonic()
        hung = {slot.index for slot in self._slots if self._hung(slot, now)}
        return all(self._hung(slot, now) for slot in self._slots) and len(hung) < min(2, self.cache_size)

    def wait_limit(self) -> float | None:
        """Seconds a reader waiting for a change should wait at most: until a block held up behind a
        slow one becomes readable, or a starved cache's fetch counts as hung and a probe may start
        (None: only a change helps)."""
        limits = [self._patience_left()]
        if self.starved:
            now = time.monotonic()
            limits += [max(0.0, self._hung_from(slot) - now) + 0.01
                       for slot in self._slots if not slot.ready() and not self._hung(slot, now)]
        known = [limit for limit in limits if limit is not None]
        return min(known) if known else None

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

    # ---- what a reader holds: a subclass that reads blocks overrides these two -----------

    def _held(self) -> int:
        """Blocks taken out with `_take_block` and not read to the end: they still count as held."""
        return 0

    def _held_samples(self) -> int:
        """Samples not yet read in the `_held` blocks."""
        return 0

    def _take_block(self) -> Block | None:
        """Take the first readable slot out of the cache (there must be one): its block, or None if given up on."""
        slot = self._readable()[0]
        self._slots.remove(slot)
        return slot.block()

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
        planned = self._held_samples() + sum(
            self._entries[slot.index].count if not slot.ready() else len(slot.block() or ()) for slot in self._slots)

        def wanted() -> bool:
            if starved:
                return self._probe_wanted()
            return self._held() + len(self._slots) < self.cache_size or planned < min_samples

        while wanted():
            # No second fetch of a block whose fetch hangs or failed (any in flight, while starved): the
            # browser holds a second request for a URL behind the first, so it would hang too.
            now = time.monotonic()
            slot = _Slot(self._next_index({s.index for s in self._slots if not s.ready() and (
                starved or s.failures or self._hung(s, now))}))
            slot.task = asyncio.ensure_future(self._load_or_skip(
                self._entries[slot.index], slot.failed, delay=self.max_backoff if starved else 0.0))
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
        while self._slots and self._held() + len(self._slots) > cache_size:
            slot = self._slots.pop()
            slot.task.cancel()
            self._order.appendleft(slot.index)

    def _check_size(self, cache_size: int) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        refusal = size_refusal(cache_size, self._entries, self._rows, self._cols)
        if refusal:
            raise ValueError(refusal)

    def _restart(self, seed: int | np.random.SeedSequence) -> None:
        """Drop what is held or in flight and start the order of blocks again from ``seed``."""
        self.close()
        self._block_rng = np.random.default_rng(seed)
        self._order.clear()
        self.skipped_in_row = 0
        self.epochs_started = 0
        self._changed()

    def close(self) -> None:
        """Cancel every fetch in flight."""
        for slot in self._slots:
            slot.task.cancel()
        self._slots.clear()

    def _next_index(self, avoid: set[int]) -> int:
        """The next block of the order, passing over those in ``avoid`` (they keep their places)."""
        if not self._order:
            self._order.extend(int(i) for i in self._block_rng.permutation(len(self._entries)))
            self.epochs_started += 1
        passed: list[int] = []
        while True:
            index = self._order.popleft()
            if index not in avoid or not self._order:  # the rest of this epoch all avoided: take it anyway
                self._order.extendleft(reversed(passed))
                return index
            passed.append(index)
