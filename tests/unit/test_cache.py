"""SampleCache with a fake fetch: parallel fetches, refills, failures, resizing, waiting, order."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any, Callable

import numpy as np
import pytest

from inkling.blocks import Manifest
from inkling.cache import SampleCache
from inkling.errors import DataError


def _cache(fetch: Any, dataset: dict[str, bytes], **options: Any) -> SampleCache:
    manifest = Manifest.from_json(dataset["manifest.json"])
    options.setdefault("backoff", 0.001)
    return SampleCache(fetch, manifest.train, **options)


async def _settle(cache: SampleCache) -> None:
    """Let every fetch in flight finish."""
    while cache.data_futures_len:
        await asyncio.sleep(0.001)


def test_fetches_run_in_parallel_up_to_cache_size(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    async def scenario() -> None:
        fetch = fetch_factory(dataset, delay=0.05)
        cache = _cache(fetch, dataset, cache_size=5)
        cache.replenish()
        assert (cache.data_len, cache.data_futures_len) == (0, 5)
        await _settle(cache)
        # All five were in flight at once: five fetches of 50 ms take about 50 ms, not 250.
        assert fetch.max_in_flight == 5
        assert (cache.data_len, cache.data_futures_len) == (5, 0)
        cache.close()

    asyncio.run(scenario())


def test_taking_samples_refills_the_cache(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    async def scenario() -> None:
        cache = _cache(fake_fetch, dataset, cache_size=3)
        x, y = await cache.take(120)  # 2.4 blocks of 50
        assert x.shape == (120, 784) and x.dtype == np.float32 and y.shape == (120,)
        assert 0 <= x.min() and x.max() <= 1 and x.max() == 1
        # Two blocks were used up and replaced; one is being read: cached + in flight = 3 again.
        assert cache.data_len + cache.data_futures_len == 3
        await asyncio.sleep(0)
        assert len(fake_fetch.calls) == 5
        await _settle(cache)
        assert cache.data_len == 3
        cache.close()

    asyncio.run(scenario())


def test_an_epoch_visits_every_sample_once_in_shuffled_order(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    async def scenario() -> list[tuple[bytes, int]]:
        cache = _cache(fake_fetch, dataset, cache_size=2, seed=3)
        samples = []
        for n in (7, 64, 1, 100, 128):  # batches of any size, spanning blocks: 300 samples = one epoch
            x, y = await cache.take(n)
            samples += [(row.tobytes(), int(label)) for row, label in zip(x, y)]
        cache.close()
        return samples

    seen = asyncio.run(scenario())
    manifest = Manifest.from_json(dataset["manifest.json"])
    from inkling.blocks import decode_block

    expected = []
    for entry in manifest.train:
        block = decode_block(dataset[entry.file], entry)
        expected += [((row / np.float32(255)).astype(np.float32).tobytes(), int(label))
                     for row, label in zip(block.pixels, block.labels)]
    assert Counter(seen) == Counter(expected)
    assert seen != expected  # shuffled, blocks and samples
    assert fake_fetch.calls[:6] != [e.file for e in manifest.train]


def test_same_seed_same_order_whatever_the_fetch_timing(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    async def order(seed: int, delays: bool) -> list[int]:
        fetch = fetch_factory(dataset)
        if delays:  # later blocks arrive first
            original = fetch.__call__

            async def slow_first(path: str) -> bytes:
                await asyncio.sleep(0.02 if path.endswith(("0.bin", "1.bin")) else 0)
                return await original(path)

            fetch = slow_first
        cache = _cache(fetch, dataset, cache_size=4, seed=seed)
        labels = []
        for _ in range(10):
            _, y = await cache.take(45)
            labels += y.tolist()
        cache.close()
        return labels

    a = asyncio.run(order(1, False))
    assert a == asyncio.run(order(1, True))
    assert a != asyncio.run(order(2, False))


def test_failures_and_corrupt_blocks_are_counted_retried_and_survived(
    dataset: dict[str, bytes], fake_fetch: Any
) -> None:
    async def scenario() -> None:
        fake_fetch.fail["train-001.bin"] = 2
        fake_fetch.corrupt["train-002.bin"] = 1
        cache = _cache(fake_fetch, dataset, cache_size=6)
        x, y = await cache.take(300)  # the whole epoch
        assert len(y) == 300
        assert cache.errors == 3 and cache.skipped == 0
        assert Counter(fake_fetch.calls)["train-001.bin"] == 3
        assert Counter(fake_fetch.calls)["train-002.bin"] == 2
        assert cache.drain_failures() == []
        cache.close()

    asyncio.run(scenario())


def test_a_block_that_keeps_failing_is_skipped_and_reported(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    async def scenario() -> None:
        fake_fetch.fail["train-004.bin"] = math.inf
        cache = _cache(fake_fetch, dataset, cache_size=6, attempts=3)
        x, y = await cache.take(300)  # an epoch's worth: the broken block's turn comes
        assert len(y) == 300
        assert cache.skipped >= 1 and cache.errors == 3 * cache.skipped
        failures = cache.drain_failures()
        assert len(failures) == cache.skipped
        assert "train-004.bin" in failures[0] and "network down" in failures[0] and "skipped" in failures[0]
        assert cache.drain_failures() == []
        cache.close()

    asyncio.run(scenario())


def test_retries_back_off(dataset: dict[str, bytes], fake_fetch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        if delay:
            sleeps.append(delay)
        await real_sleep(0)

    async def scenario() -> None:
        fake_fetch.fail["train-000.bin"] = math.inf
        cache = _cache(fake_fetch, dataset, attempts=5, backoff=0.25, max_backoff=1.0)
        manifest = Manifest.from_json(dataset["manifest.json"])
        with pytest.raises(DataError, match="gave up on train-000.bin after 5 failed attempts"):
            await cache.load(manifest.train[0])
        assert cache.errors == 5 and cache.skipped == 0 and cache.drain_failures() == []

    monkeypatch.setattr("inkling.cache.asyncio.sleep", recording_sleep)
    asyncio.run(scenario())
    assert sleeps == [0.25, 0.5, 1.0, 1.0]


def test_an_empty_cache_makes_take_wait_and_counts_it(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    async def scenario() -> None:
        fetch = fetch_factory(dataset, delay=0.05)
        cache = _cache(fetch, dataset, cache_size=2)
        task = asyncio.ensure_future(cache.take(10))
        await asyncio.sleep(0.01)
        assert not task.done()  # waiting for data, not failing
        x, y = await task
        assert len(y) == 10 and cache.waits == 1 and cache.wait_seconds > 0
        await _settle(cache)
        await cache.take(10)  # data was there: no wait
        assert cache.waits == 1
        cache.close()

    asyncio.run(scenario())


def test_waiting_does_not_spin(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    async def scenario() -> int:
        fetch = fetch_factory(dataset, delay=0.1)
        cache = _cache(fetch, dataset, cache_size=1)
        checks = 0
        available = cache.available

        def counting_available() -> int:
            nonlocal checks
            checks += 1
            return available()

        cache.available = counting_available  # type: ignore[method-assign]
        await cache.take(10)
        cache.close()
        return checks

    # A take that polled would look for data thousands of times in 0.1 s; one that waits looks
    # once before waiting and once when the block has arrived.
    assert asyncio.run(scenario()) == 2


def test_waiting_take_returns_none_when_interrupted(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    async def scenario() -> None:
        fetch = fetch_factory(dataset, delay=0.2)
        cache = _cache(fetch, dataset, cache_size=2)
        wake = asyncio.Event()
        task = asyncio.ensure_future(cache.take(10, interrupt=wake))
        await asyncio.sleep(0.01)
        wake.set()
        assert await task is None  # nothing consumed
        assert cache.waits == 0  # not yet a batch that waited
        wake.clear()
        x, y = await cache.take(10, interrupt=wake)
        assert len(y) == 10 and cache.waits == 1
        cache.close()

    asyncio.run(scenario())


def test_shrinking_drops_surplus_and_growing_fetches_more(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    async def scenario() -> None:
        fetch = fetch_factory(dataset, delay=0.02)
        cache = _cache(fetch, dataset, cache_size=5)
        cache.replenish()
        await _settle(cache)
        cache.replenish()
        await asyncio.sleep(0)
        assert cache.data_len == 5
        cache.resize(2)
        assert (cache.data_len, cache.data_futures_len) == (2, 0)
        cache.resize(4)
        cache.replenish()
        assert (cache.data_len, cache.data_futures_len) == (2, 2)
        cache.resize(1)  # cancels fetches in flight too
        assert (cache.data_len, cache.data_futures_len) == (1, 0)
        # The dropped blocks come back later in the epoch: one epoch still covers all 300 samples.
        labels = []
        for _ in range(6):
            _, y = await cache.take(50)
            labels += y.tolist()
        manifest = Manifest.from_json(dataset["manifest.json"])
        from inkling.blocks import decode_block

        all_labels = sum((decode_block(dataset[e.file], e).labels.tolist() for e in manifest.train), [])
        assert Counter(labels) == Counter(all_labels)
        cache.close()

    asyncio.run(scenario())


def test_a_batch_larger_than_the_cache_still_fills(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    async def scenario() -> None:
        cache = _cache(fake_fetch, dataset, cache_size=1)
        x, y = await cache.take(180)  # 3.6 blocks through a 1-block cache
        assert len(y) == 180
        cache.close()

    asyncio.run(scenario())


def test_close_cancels_fetches_in_flight(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    async def scenario() -> None:
        fetch = fetch_factory(dataset, delay=10)
        cache = _cache(fetch, dataset, cache_size=3)
        cache.replenish()
        await asyncio.sleep(0)
        cache.close()
        await asyncio.sleep(0)
        assert fetch.in_flight == 0 and cache.data_futures_len == 0

    asyncio.run(scenario())
