"""SampleCache with a fake fetch: parallel fetches, refills, failures, resizing, waiting, order."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any, Callable

import numpy as np
import pytest

from inkling.data.blocks import Manifest, decode_block
from inkling.data.cache import SampleCache
from inkling.data.cache_budget import MEMORY_BUDGET, max_cache_size
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
    from inkling.data.blocks import decode_block

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


def test_reseeding_starts_the_order_again_as_a_new_cache_with_that_seed(dataset: dict[str, bytes],
                                                                         fake_fetch: Any) -> None:
    async def take(cache: SampleCache, batches: int) -> list[np.ndarray]:
        return [(await cache.take(45))[0] for _ in range(batches)]

    async def run() -> tuple[list[np.ndarray], list[np.ndarray]]:
        fresh = _cache(fake_fetch, dataset, cache_size=3, seed=7)
        expected = await take(fresh, 8)
        fresh.close()
        used = _cache(fake_fetch, dataset, cache_size=3, seed=1)
        await take(used, 5)  # mid-epoch, with blocks held and in flight
        used.reseed(7)
        got = await take(used, 8)
        used.close()
        return expected, got

    expected, got = asyncio.run(run())
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))


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

    monkeypatch.setattr("inkling.data.block_fetcher.asyncio.sleep", recording_sleep)
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
        from inkling.data.blocks import decode_block

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


# ---- stalls, starvation and recovery ------------------------------------------------------------


def test_a_stalled_fetch_times_out_and_counts_as_a_failure(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    fetch = fetch_factory(dataset)
    never = asyncio.Event()

    async def stalling(path: str) -> bytes:
        if path == "train-003.bin":
            await never.wait()  # the server holds the connection and never answers
        return await fetch(path)

    async def scenario() -> None:
        cache = _cache(stalling, dataset, cache_size=6, attempts=3, timeout=0.02)
        manifest = Manifest.from_json(dataset["manifest.json"])
        with pytest.raises(DataError, match="gave up on train-003.bin after 3 failed attempts; "
                                            "last: no complete answer within 0.02 s"):
            await cache.load(manifest.train[3])
        assert cache.errors == 3

    asyncio.run(scenario())


def test_a_block_that_failed_once_no_longer_holds_up_the_others(dataset: dict[str, bytes],
                                                                fetch_factory: Callable) -> None:
    fetch = fetch_factory(dataset)
    calls: list[str] = []
    never = asyncio.Event()

    async def first_stalls(path: str) -> bytes:
        calls.append(path)
        if path == calls[0]:
            await never.wait()  # the first block planned never arrives
        return await fetch(path)

    async def scenario() -> None:
        # Many attempts: giving up on the stalled block would take 100 timeouts, so the other
        # five blocks can only be read this soon by reading past it.
        cache = _cache(first_stalls, dataset, cache_size=6, attempts=100, timeout=0.02)
        x, y = await cache.take(250)  # the five other blocks
        assert len(y) == 250
        assert cache.skipped == 0 and cache.errors >= 1
        cache.close()

    asyncio.run(scenario())


def test_a_stalled_block_holds_up_the_others_only_for_its_patience(dataset: dict[str, bytes],
                                                                   fetch_factory: Callable) -> None:
    """The stalled head of the reading order: training reads the blocks behind it once its patience
    runs out, long before its timeout, and reads it too once it arrives."""
    fetch = fetch_factory(dataset)
    calls: list[str] = []
    release = asyncio.Event()
    manifest = Manifest.from_json(dataset["manifest.json"])

    async def first_stalls(path: str) -> bytes:
        calls.append(path)
        if path == calls[0]:
            await release.wait()  # the server holds the connection until the test lets go
        return await fetch(path)

    async def scenario() -> None:
        # A 60 s timeout: the five other blocks can only be read within the hang guard by reading past it.
        cache = _cache(first_stalls, dataset, cache_size=6, timeout=60, patience=0.05)
        _, y = await asyncio.wait_for(cache.take(250), timeout=20)  # a hang guard, not a speed bound
        assert len(y) == 250 and cache.errors == 0  # no timeout: still its first attempt
        stalled = decode_block(dataset[calls[0]], manifest.train[int(calls[0][6:9])])
        release.set()
        await _settle(cache)
        _, y = await asyncio.wait_for(cache.take(50), timeout=20)
        assert sorted(y.tolist()) == sorted(stalled.labels.tolist())  # came back to the slow one
        cache.close()

    asyncio.run(scenario())


def test_a_healthy_slow_block_still_keeps_its_place(dataset: dict[str, bytes], fetch_factory: Callable) -> None:
    """Without failures, reading order never depends on timing (see the same-seed test above)."""
    fetch = fetch_factory(dataset)
    calls: list[str] = []

    async def first_slow(path: str) -> bytes:
        calls.append(path)
        if path == calls[0]:
            await asyncio.sleep(0.05)
        return await fetch(path)

    async def scenario() -> None:
        cache = _cache(first_slow, dataset, cache_size=6)
        _, y = await cache.take(50)
        block = decode_block(dataset[calls[0]], Manifest.from_json(dataset["manifest.json"]).train[
            int(calls[0][6:9])])
        assert sorted(y.tolist()) == sorted(block.labels.tolist())  # the slow first block came first
        cache.close()

    asyncio.run(scenario())


def test_a_starved_cache_probes_one_block_at_a_time_and_refills_when_data_returns(
    dataset: dict[str, bytes], fetch_factory: Callable
) -> None:
    fetch = fetch_factory(dataset, delay=0.002)
    for i in range(6):
        fetch.fail[f"train-{i:03d}.bin"] = math.inf

    async def scenario() -> None:
        cache = _cache(fetch, dataset, cache_size=3, attempts=2, max_backoff=0.005)
        wake = asyncio.Event()
        assert await cache.take(10, interrupt=wake) is None  # a block was given up on: report it
        while not cache.starved:  # the cache's three blocks all fail
            cache.drain_failures()
            await cache.take(10, interrupt=wake)
        assert cache.skipped_in_row >= 3 and "network down" in cache.last_failure
        fetch.max_in_flight = 0
        errors = cache.errors
        waiting = asyncio.ensure_future(cache.take(10))  # no interrupt: it waits for data
        while cache.errors < errors + 20:  # twenty more failed attempts while starved ...
            await cache.next_change().wait()
            assert cache.starved and cache.data_futures_len <= 1
        assert fetch.max_in_flight == 1  # ... one probe at a time
        fetch.fail.clear()  # the data comes back
        x, y = await waiting
        assert len(y) == 10 and not cache.starved and cache.skipped_in_row == 0
        await _settle(cache)
        assert cache.data_len == 3  # back to a full cache
        cache.close()

    asyncio.run(scenario())


def test_a_fetch_that_hangs_does_not_hold_a_starved_cache_back_when_data_returns(
    dataset: dict[str, bytes], fetch_factory: Callable
) -> None:
    """The network goes while one block's answer hangs (its first attempt failed, its retry's timeout is a
    minute away): once the data is back, training reads it within a probe's pace and patience, not after
    that timeout."""
    fetch = fetch_factory(dataset, delay=0.002)
    never = asyncio.Event()
    calls: list[str] = []

    async def first_hangs(path: str) -> bytes:
        calls.append(path)
        if path == calls[0]:
            if calls.count(path) == 1:
                raise OSError(f"connection reset fetching {path}")
            await never.wait()  # the server holds this connection and never answers
        return await fetch(path)

    for i in range(6):
        fetch.fail[f"train-{i:03d}.bin"] = math.inf

    async def scenario() -> None:
        cache = _cache(first_hangs, dataset, cache_size=3, attempts=2, max_backoff=0.005, patience=0.05,
                       timeout=60)
        wake = asyncio.Event()
        while not cache.starved:  # the blocks planned beside the hung one all fail
            cache.drain_failures()
            await cache.take(10, interrupt=wake)
        assert cache.data_futures_len >= 1  # the hung fetch is still in flight
        fetch.fail.clear()  # the data comes back
        x, y = await asyncio.wait_for(cache.take(10), timeout=10)  # a hang guard: the timeout is 60 s
        assert len(y) == 10 and not cache.starved
        assert cache.errors < 40  # probing stayed gentle while starved
        cache.close()

    asyncio.run(scenario())


def test_a_block_whose_fetch_hangs_is_not_fetched_twice_at_once(dataset: dict[str, bytes],
                                                                fetch_factory: Callable) -> None:
    """A browser holds a second request for a URL behind the first: a block planned again while its
    fetch hangs would hang as well, so the next epoch passes over it until it answers."""
    fetch = fetch_factory(dataset)
    never = asyncio.Event()
    calls: list[str] = []

    async def first_hangs(path: str) -> bytes:
        calls.append(path)
        if path == calls[0]:
            await never.wait()
        return await fetch(path)

    async def scenario() -> None:
        cache = _cache(first_hangs, dataset, cache_size=3, patience=0.01, max_backoff=0.001, timeout=60)
        for _ in range(8):  # eight blocks' worth: the other five, and the next epoch's
            await asyncio.wait_for(cache.take(50), timeout=10)
        assert calls.count(calls[0]) == 1 and cache.epochs_started >= 2
        cache.close()

    asyncio.run(scenario())


def test_first_block_waits_past_failing_blocks(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    for i in range(5):  # only train-005 arrives
        fake_fetch.fail[f"train-{i:03d}.bin"] = math.inf

    async def scenario() -> None:
        cache = _cache(fake_fetch, dataset, cache_size=6, attempts=2)
        cache.replenish()
        await cache.first_block()
        assert cache.loaded == 1 and cache.available() == 50
        cache.close()

    asyncio.run(scenario())


def test_first_block_waits_past_a_failed_first_attempt(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    calls: list[str] = []

    async def first_call_fails(path: str) -> bytes:
        calls.append(path)
        if len(calls) == 1:
            raise OSError(f"connection reset fetching {path}")
        return await fake_fetch(path)

    async def scenario() -> None:
        cache = _cache(first_call_fails, dataset, cache_size=1, attempts=3)
        cache.replenish()
        await cache.first_block()  # the first attempt of the first block failed; its retry did not
        assert cache.loaded == 1 and cache.errors == 1 and cache.skipped == 0 and calls[0] == calls[1]
        cache.close()

    asyncio.run(scenario())


def test_first_block_says_why_when_not_one_block_arrives(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    for i in range(6):
        fake_fetch.fail[f"train-{i:03d}.bin"] = math.inf

    async def scenario() -> None:
        cache = _cache(fake_fetch, dataset, cache_size=4, attempts=2)
        cache.replenish()
        with pytest.raises(DataError, match=r"no training block could be fetched: the first 4 blocks tried all "
                                            r"failed \(last: gave up on train-00\d\.bin .*network down"):
            await cache.first_block()
        cache.close()

    asyncio.run(scenario())


def test_skipped_blocks_are_not_counted_as_held(dataset: dict[str, bytes], fake_fetch: Any) -> None:
    fake_fetch.fail["train-001.bin"] = math.inf

    async def scenario() -> None:
        cache = _cache(fake_fetch, dataset, cache_size=6, attempts=2)
        cache.replenish()
        await _settle(cache)
        assert cache.skipped == 1 and cache.data_len == 5
        cache.replenish()  # its place goes to a new fetch
        await _settle(cache)
        assert cache.data_len == 6
        cache.close()

    asyncio.run(scenario())


# ---- what a tab can afford ---------------------------------------------------------------------


def test_the_cache_size_is_capped_by_the_memory_budget(mnist_sized_dataset: dict[str, bytes],
                                                       fetch_factory: Callable) -> None:
    manifest = Manifest.from_json(mnist_sized_dataset["manifest.json"])
    most = max_cache_size(manifest.train)
    assert most == 85 == MEMORY_BUDGET // (16 + 1000 * 785)  # MNIST's blocks: 85 fit in 64 MiB
    fetch = fetch_factory(mnist_sized_dataset)
    with pytest.raises(ValueError, match="86 blocks are more than a tab can afford: at most 85 blocks of 785 KB "
                                         "fit the 64 MiB set aside for training data"):
        SampleCache(fetch, manifest.train, cache_size=86)

    async def scenario() -> None:
        cache = SampleCache(fetch, manifest.train, cache_size=85)
        with pytest.raises(ValueError, match="86 blocks are more than a tab can afford"):
            cache.resize(86)
        assert cache.cache_size == 85
        cache.resize(2)
        cache.close()

    asyncio.run(scenario())
    assert max_cache_size(manifest.train, budget=1) == 1  # never below one block
