"""Data faults in the real page: blocks that 404, stall, arrive truncated, corrupt or with bad labels,
then the whole data server down and back. Served by a real HTTP server (faulty_site.py).

What the user must see: a data-error count that rises, a message per block given up on, training
that goes on over the good blocks; with no data at all one clear pause message, iterations that stop
and a "waiting for data" stat; once blocks arrive again, training that resumes by itself and says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest
from faulty_site import Faults, make_server
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from inkling.data.blocks import Manifest
from inkling.data.cache import SampleCache
from inkling.messages.protocol import ResponseSignal
from inkling.messages.tunables import DEFAULTS
from inkling.page.stats import DATA_OK, DATA_WAITING, data_news, stat_texts, train_state_text

# The worker's production retry policy (attempts 4, backoff 0.25..4 s, timeout 30 s) is kept:
# the waits below are generous hang guards, not speed bounds.
WAIT_MS = 150_000
PAUSED = "No training data could be fetched"
RESUMED = "Training data arrives again: training resumed by itself."


@pytest.fixture
def faulty_site(build_py: ModuleType, dist_dir: Path) -> Iterator[tuple[str, Faults]]:
    """(url, faults): the built site on a free port, its data files misbehaving as the test says."""
    faults = Faults(dist_dir / "data")
    server = make_server(build_py, dist_dir, faults)
    thread = threading.Thread(target=server.serve_forever, name="faulty-site", daemon=True)
    thread.start()
    try:
        yield server.url, faults
    finally:
        faults.release.set()  # free any stalled request
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def first_blocks(dist_dir: Path, n: int) -> list[str]:
    """The first ``n`` train blocks the worker's cache asks for: the same SampleCache, seed and
    cache size, run here with a fetch that only records what it is asked for."""
    manifest = Manifest.from_json((dist_dir / "data" / "manifest.json").read_bytes())
    asked: list[str] = []

    async def record(path: str) -> bytes:
        asked.append(path)
        raise OSError("recording only")

    async def run() -> None:
        cache = SampleCache(record, manifest.train, cache_size=DEFAULTS["cache_size"], seed=0, attempts=1)
        while len(asked) < n:
            cache.replenish()
            await asyncio.sleep(0)
            cache.drain_failures()
        cache.close()

    # In a thread of its own: Playwright's event loop runs in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    return list(dict.fromkeys(asked))[:n]


# ---- what the page shows, in CPython --------------------------------------------------------------


def _signal(**changes: Any) -> ResponseSignal:
    values = dict(seq=1, iteration=5, training=True, loss=0.5, acc=0.5, batch_size=32, lrate=0.05, lr_decay=0.3,
                  optimizer="momentum", hidden=(128,), data_len=0, data_futures_len=1, cache_size=8,
                  samples_per_s=0.0, cache_waits=1, data_errors=40, test_acc=None, samples_seen=160, epoch=0.01)
    values.update(changes)
    return ResponseSignal(**values)


def test_the_data_state_stat_and_the_resumed_news() -> None:
    assert stat_texts(_signal(waiting_for_data=True))["stat-data-state"] == DATA_WAITING == "waiting for data"
    assert stat_texts(_signal())["stat-data-state"] == DATA_OK
    assert data_news(_signal(waiting_for_data=True), _signal()) == RESUMED
    assert data_news(_signal(waiting_for_data=True), _signal(training=False)) == "Training data arrives again."
    assert data_news(None, _signal()) is None
    assert data_news(_signal(), _signal()) is None
    assert data_news(_signal(), _signal(waiting_for_data=True)) is None  # the worker's error says why
    assert train_state_text(_signal(waiting_for_data=True)) == "waiting for data"
    assert train_state_text(_signal()) == "training"
    assert train_state_text(_signal(training=False, waiting_for_data=True)) == "idle"


def test_faulty_site_serves_each_fault(build_py: ModuleType, dist_dir: Path,
                                       faulty_site: tuple[str, Faults]) -> None:
    """The fault server itself: each fault really reaches the wire."""
    import hashlib
    import http.client
    import json
    from urllib.error import HTTPError
    from urllib.request import urlopen

    url, faults = faulty_site
    good = (dist_dir / "data" / "train-000.bin").read_bytes()
    faults.set("train-000.bin", "flip")
    faults.set("train-001.bin", "404")
    faults.set("train-002.bin", "truncate")
    faults.set("train-003.bin", "labels")
    flipped = urlopen(url + "data/train-000.bin", timeout=30).read()
    assert len(flipped) == len(good) and flipped != good
    with pytest.raises(HTTPError, match="404"):
        urlopen(url + "data/train-001.bin", timeout=30)
    with pytest.raises(http.client.IncompleteRead):
        urlopen(url + "data/train-002.bin", timeout=30).read()
    relabelled = urlopen(url + "data/train-003.bin", timeout=30).read()
    manifest = json.loads(urlopen(url + "data/manifest.json", timeout=30).read())
    entry = next(e for e in manifest["train"] if e["file"] == "train-003.bin")
    assert hashlib.sha256(relabelled).hexdigest() == entry["sha256"] and max(relabelled[-entry["count"]:]) >= 10
    faults.down()
    with pytest.raises(HTTPError, match="503"):
        urlopen(url + "data/train-004.bin", timeout=30)
    faults.heal()
    assert urlopen(url + "data/train-004.bin", timeout=30).read() == (dist_dir / "data/train-004.bin").read_bytes()


# ---- the page ---------------------------------------------------------------------------------------

# Every text the message area shows, in order (it only ever shows the last one).
RECORD_MESSAGES = """() => {
  window.__messages = [];
  const node = document.querySelector('[data-testid=message]');
  // Each record, not the final text: several messages can be set within one task.
  new MutationObserver(records => {
    for (const record of records) for (const added of record.addedNodes) window.__messages.push(added.textContent);
  }).observe(node, {childList: true});
}"""


def _wait_message(page: Any, faults: Faults, *parts: str) -> None:
    """Wait until one recorded message holds every part; on timeout fail showing what happened."""
    try:
        page.wait_for_function("parts => window.__messages.some(m => parts.every(p => m.includes(p)))",
                               arg=list(parts), timeout=WAIT_MS)
    except PlaywrightTimeout:
        pytest.fail(f"no message says {parts}; data errors {_stat(page, 'stat-data-errors')}, iteration "
                    f"{_stat(page, 'stat-iteration')}, state {_stat(page, 'train-state')}; requests per block "
                    f"{dict(faults.requests)}; the messages: {page.evaluate('window.__messages')}")


def _stat(page: Any, testid: str) -> str:
    return page.get_by_test_id(testid).text_content().strip()


def _wait_stat(page: Any, testid: str, condition: str, arg: Any = None, timeout: int = WAIT_MS) -> None:
    """Wait until ``condition`` (a JS expression of ``text`` and ``arg``) holds for a stat's text."""
    page.wait_for_function(
        f"([id, arg]) => {{ const text = document.querySelector(`[data-testid=${{id}}]`).textContent.trim(); "
        f"return {condition}; }}", arg=[testid, arg], timeout=timeout)


def test_training_survives_bad_blocks_pauses_without_data_and_resumes_by_itself(
    page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
    dist_dir: Path, faulty_site: tuple[str, Faults],
) -> None:
    url, faults = faulty_site
    order = first_blocks(dist_dir, 12)
    # The first eight are what the worker fetches at start-up (the very first one 404s: start-up
    # must not fail for it); the next ones come as training uses up the good ones. At most seven
    # blocks in a row are given up on, one short of the cache's eight: however slowly the good
    # ones arrive, the cache never starves in part 1 (eight in a row would rightly pause training).
    assert DEFAULTS["cache_size"] == 8
    plan = {order[0]: "404", order[1]: "truncate", order[2]: "flip", order[3]: "labels", order[4]: "stall",
            order[8]: "404", order[9]: "truncate", order[10]: "flip"}
    for file, fault in plan.items():
        faults.set(file, fault)
    bad = [f for f, k in plan.items() if k != "stall"]

    with page_factory() as (page, log):
        page.goto(url)
        page.evaluate(RECORD_MESSAGES)
        page_ready(page, log)
        page.get_by_test_id("start").click()

        # 1. Seven bad blocks, each tried 4 times and then named, and one stalled (its 30 s timeout runs
        # through parts 2 and 3: checked at the end); training goes on meanwhile. Each message is waited
        # for: the error count says little about which blocks are done (the test set's fetches count too).
        for file in bad:
            _wait_message(page, faults, f"gave up on {file} after 4 failed attempts", "skipped it")
        _wait_stat(page, "stat-data-errors", "Number(text) >= arg", 4 * len(bad))
        _wait_stat(page, "stat-iteration", "Number(text) >= arg", 200)
        messages = page.evaluate("window.__messages")
        why = {"404": "HTTP 404", "truncate": "could not fetch", "flip": "sha256 does not match",
               "labels": "outside 0..9"}
        for file in bad:
            assert any(file in m and why[plan[file]] in m for m in messages), (file, plan[file], messages)
        # A body that breaks off is told as the browser's reason, not as a Python slip.
        assert not any("NoneType" in m for m in messages), messages
        assert not any(PAUSED in m for m in messages)
        assert _stat(page, "stat-data-state") == "ok" and _stat(page, "train-state") == "training"
        assert _stat(page, "status") == "ready"

        # 2. The data server goes down: training uses up its cache, then pauses with one message.
        # The stalled block stays stalled: a fetch that hangs must not keep training paused once data is back.
        faults.down(release=False)
        down_at = time.monotonic()
        page.wait_for_function(f"() => window.__messages.some(m => m.includes({PAUSED!r}))", timeout=WAIT_MS)
        pause_s = time.monotonic() - down_at
        _wait_stat(page, "stat-data-state", "text === arg", DATA_WAITING)
        _wait_stat(page, "train-state", "text === arg", DATA_WAITING)
        shown = page.get_by_test_id("message").text_content()
        assert "Training is paused and resumes by itself when blocks arrive" in shown
        assert re.search(r"train-\d+\.bin.*(HTTP 503|could not fetch)", shown), shown
        iteration = int(_stat(page, "stat-iteration"))
        errors = int(_stat(page, "stat-data-errors"))
        # The probes go on (one every few seconds): the count climbs while the iterations stand still.
        _wait_stat(page, "stat-data-errors", "Number(text) > arg", errors)
        requests, probe_from = sum(faults.requests.values()), time.monotonic()
        time.sleep(3)
        assert int(_stat(page, "stat-iteration")) == iteration, "no progress is possible without data"
        assert _stat(page, "stat-data-state") == DATA_WAITING

        # 3. Healed: training resumes by itself and says so.
        probes_per_s = (sum(faults.requests.values()) - requests) / (time.monotonic() - probe_from)
        faults.heal(release=False)
        heal_at = time.monotonic()
        page.wait_for_function(f"() => window.__messages.includes({RESUMED!r})", timeout=WAIT_MS)
        resume_s = time.monotonic() - heal_at
        _wait_stat(page, "stat-iteration", "Number(text) > arg", iteration + 50)
        _wait_stat(page, "stat-data-state", "text === arg", DATA_OK)
        messages = page.evaluate("window.__messages")
        paused_at = [n for n, m in enumerate(messages) if PAUSED in m]
        assert len(paused_at) == 1, f"one pause message, not one per block: {messages}"
        resumed_at = [n for n, m in enumerate(messages) if m == RESUMED]
        assert resumed_at and resumed_at[0] > paused_at[0], messages
        # While paused the page said nothing else: no flood of per-block errors.
        assert messages[paused_at[0] + 1 : resumed_at[0]] == [], messages
        assert _stat(page, "train-state") == "training"
        assert re.fullmatch(r"\d+\.\d{4}", _stat(page, "stat-loss"))
        # Training resumed while the stalled block still hung; its fetch goes on (stopped or not) until its
        # own timeout, and it is tried again.
        page.get_by_test_id("stop").click()
        deadline = time.monotonic() + 60
        while faults.requests[order[4]] < 2 and time.monotonic() < deadline:  # a hang guard
            time.sleep(0.2)
        assert faults.requests[order[4]] >= 2, "the stalled block was tried again after its timeout"
        # Measured, not asserted (shared machines are noisy): printed with -s.
        print(f"\ndata faults: {len(bad)} bad blocks + 1 stalled; data errors at the pause {errors}, at the end "
              f"{_stat(page, 'stat-data-errors')}; iterations {_stat(page, 'stat-iteration')}; data down -> pause "
              f"message {pause_s:.1f} s; block requests while paused {probes_per_s:.2f}/s; healed -> resumed "
              f"{resume_s:.1f} s")


def test_a_stalled_first_block_does_not_hold_training_up(
    page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
    dist_dir: Path, faulty_site: tuple[str, Faults],
) -> None:
    """The block at the head of the reading order never answers: training goes on with the blocks
    behind it while that block's first attempt is still waiting for its 30 s timeout."""
    url, faults = faulty_site
    head = first_blocks(dist_dir, 1)[0]
    faults.set(head, "stall")
    faults.requests.clear()
    with page_factory() as (page, log):
        page.goto(url)
        page.evaluate(RECORD_MESSAGES)
        page_ready(page, log)
        page.get_by_test_id("start").click()
        _wait_stat(page, "stat-iteration", "Number(text) >= arg", 200)
        # Still its first attempt: reaching here did not need the timeout (which would count a data error).
        assert faults.requests[head] == 1, faults.requests
        assert _stat(page, "stat-data-errors") == "0"
        assert _stat(page, "train-state") == "training" and _stat(page, "stat-data-state") == DATA_OK
        assert page.evaluate("window.__messages") == []  # a slow block is not an error to report
