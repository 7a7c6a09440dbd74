"""BlockFetcher: one block fetched and decoded, or given up on, with every failure counted.

Kept apart from the planning of which blocks to fetch (`inkling.prefetch`) because this is
the one place that calls the injected ``fetch(path) -> bytes`` coroutine (a file reader in
the CLI, ``pyfetch`` in the browser, a fake in tests) and decides how long to keep trying:
a failed, corrupt or stalled fetch (one that takes longer than ``timeout``) is counted,
logged and retried with backoff, and after ``attempts`` failures the block is given up on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from ..errors import DataError
from .blocks import Block, BlockEntry, decode_block

Fetch = Callable[[str], Awaitable[bytes]]
log = logging.getLogger(__name__)
# A block is 785 KB; 30 s per attempt leaves a slow link (about 2 Mbit/s shared by a full
# cache of parallel fetches) time to finish, and still catches a server that never answers.
DEFAULT_TIMEOUT = 30.0


class BlockFetcher:
    """Fetches blocks with a timeout per attempt and retries with backoff.

    Attributes:
        errors: Failed fetch attempts (network errors and corrupt blocks).
        skipped: Blocks given up on after ``attempts`` failures.
        skipped_in_row: Blocks given up on since the last block that arrived.
        loaded: Blocks that arrived intact.
        last_failure: Why the last block given up on failed ("" if none was).
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        rows: int = 28,
        cols: int = 28,
        attempts: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 4.0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Set up the fetcher; nothing is fetched until `load`.

        Args:
            fetch: ``await fetch("train-007.bin")`` returns the file's bytes.
            rows, cols: The size of a sample's picture, as the manifest says.
            attempts: Fetch attempts per block before giving up on it.
            backoff: Seconds before the first retry; doubled after each failure
                up to ``max_backoff``.
            timeout: Seconds one fetch attempt may take; a slower one is cancelled
                (which aborts the request in the browser) and counts as a failure.
        """
        self._fetch = fetch
        self._rows, self._cols = rows, cols
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        self.timeout = timeout
        self._failures: list[str] = []
        self._pulse = asyncio.Event()  # set (and replaced) whenever a fetch attempt ends
        self.errors = 0
        self.skipped = 0
        self.skipped_in_row = 0
        self.loaded = 0
        self.last_failure = ""

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

    def _changed(self) -> None:
        self._pulse.set()
        self._pulse = asyncio.Event()

    async def load(self, entry: BlockEntry) -> Block:
        """Fetch and decode one block, retrying with backoff; every failure counts in ``errors``.

        Raises:
            DataError: All ``attempts`` failed; the message names the block and the last error.
        """
        return await self._load(entry, None)

    async def _load(self, entry: BlockEntry, on_failure: Callable[[], None] | None) -> Block:
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
            if on_failure is not None:
                on_failure()
            self._changed()
            if attempt + 1 < self.attempts:
                await asyncio.sleep(min(self.backoff * 2**attempt, self.max_backoff))
        raise DataError(f"gave up on {entry.file} after {self.attempts} failed attempts; last: {last}", entry.file)

    async def _load_or_skip(self, entry: BlockEntry, on_failure: Callable[[], None], delay: float) -> Block | None:
        """`load`, but a block given up on is None, counted in ``skipped`` and reported by `drain_failures`.

        Args:
            on_failure: Called after each failed attempt.
            delay: Seconds to wait before the first attempt.
        """
        if delay:
            await asyncio.sleep(delay)  # a starved cache probes gently
        try:
            block = await self._load(entry, on_failure)
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
