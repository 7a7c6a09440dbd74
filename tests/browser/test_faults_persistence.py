"""Weights and settings kept in the browser survive a reload and a crashed tab; a bad stored record,
or storage that does not work, is reported (storage problems once) and the page works without it.

Every test uses a fresh browser context (its own IndexedDB). Records are read and written with
plain IndexedDB calls from a same-origin page that is not the app (the data manifest), so the
test never races the app's own autosave, and they are checked with the CPython `saved_state`.
"""
from __future__ import annotations

import base64
import contextlib
import json
import math
import struct
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect
from test_page import ONE_DIGIT, number, set_setting, wait_predictions_settle, wait_stat

from inkling.messages.curve import MAX_POINTS
from inkling.messages.saved_state import FORMAT_VERSION, MAGIC, SavedState, TrainingSettings, from_bytes, to_bytes
from inkling.network.mlp import MLP
from inkling.network.weights_io import weights_to_npz

WAIT_MS = 120_000  # start-up of two Pyodides on shared cores; a guard against hangs only
FIRST_DIGITS = 8  # cells the page fills with test digits at start-up

_OPEN = """const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('inkling', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('weights');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });"""
READ_RECORD = """async (key) => { %s
  const value = await new Promise((resolve, reject) => {
    const request = db.transaction('weights').objectStore('weights').get(key);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
  if (value === undefined) return null;
  const bytes = new Uint8Array(value);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}""" % _OPEN
WRITE_RECORD = """async ([key, data]) => { %s
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  await new Promise((resolve, reject) => {
    const tx = db.transaction('weights', 'readwrite');
    tx.objectStore('weights').put(bytes.buffer, key);
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}""" % _OPEN
# Every text the message area shows, in order (one entry per message, repeats included).
RECORD_MESSAGES = """window.__messages = [];
document.addEventListener('DOMContentLoaded', () => {
  const node = document.querySelector('[data-testid=message]');
  if (!node) return;  // not the app (the same-origin page used to read and write records)
  new MutationObserver(() => window.__messages.push(node.textContent))
    .observe(node, { childList: true, characterData: true, subtree: true });
});"""
# No decay (1, not the default 0.3): with the kernel an epoch takes seconds, and the rate a record keeps is the
# one in use when it was saved, so a decaying rate would differ from the one typed here by the time of any save.
SETTINGS = {"batch-size": "40", "learning-rate": "0.03", "lr-decay": "1", "cache-size": "5"}


# ---- helpers ------------------------------------------------------------------------------------


def stored(page: Any, site_url: str, key: str = "state") -> bytes | None:
    """The bytes stored under ``key`` in this context's IndexedDB (read from a same-origin non-app page)."""
    page.goto(site_url + "data/manifest.json")
    data = page.evaluate(READ_RECORD, key)
    return None if data is None else base64.b64decode(data)


def store(page: Any, site_url: str, data: bytes, key: str = "state") -> None:
    """Put ``data`` under ``key`` in this context's IndexedDB, with the app not running."""
    page.goto(site_url + "data/manifest.json")
    page.evaluate(WRITE_RECORD, [key, base64.b64encode(data).decode()])


def open_app(page: Any, log: Any, site_url: str, page_ready: Callable[..., None]) -> None:
    page.goto(site_url)
    page_ready(page, log, timeout_ms=WAIT_MS)


def first_predictions(page: Any) -> list[str]:
    """The settled predictions of the cells the page fills at start-up."""
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=\"prediction-{FIRST_DIGITS - 1}\"]').textContent !== ''")
    return wait_predictions_settle(page)[:FIRST_DIGITS]


TUNED_SEED = 41


def tune_and_train(page: Any, iterations: int) -> None:
    """A run of our own seed, settings of our own (not the defaults), then training for a while."""
    page.get_by_test_id("seed").fill(str(TUNED_SEED))
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("stat-seed")).to_have_text(str(TUNED_SEED))
    page.get_by_test_id("augment").check()
    expect(page.get_by_test_id("stat-augment")).to_have_text("on")
    # The optimizer first: choosing one sets its suggested rate, which our own rate then replaces.
    page.get_by_test_id("optimizer").select_option("adam")
    expect(page.get_by_test_id("stat-optimizer")).to_have_text("adam")
    for testid, value in SETTINGS.items():
        set_setting(page, testid, value)
    wait_stat(page, "stat-cache-size", "v === 5")
    wait_stat(page, "stat-lrate", "v === 0.03")
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", f"v >= {iterations}", timeout=WAIT_MS)


def wait_saved(page: Any, predicate: Callable[[SavedState], bool], what: str) -> SavedState:
    """Poll the app's own copy of the record (via its bridge) until ``predicate`` holds."""
    for _ in range(120):
        data = page.evaluate("""async () => {
          const bytes = await inklingBridge.load('state');
          if (bytes === null) return null;
          let text = '';
          for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
          return btoa(text);
        }""")
        if data is not None:
            state = from_bytes(base64.b64decode(data))
            if predicate(state):
                return state
        page.wait_for_timeout(500)
    raise AssertionError(f"the autosaved record never showed {what}")


def assert_settings_shown(page: Any) -> None:
    """The controls show the tuned settings, and the worker reports them (so it has them)."""
    for testid, value in SETTINGS.items():
        expect(page.get_by_test_id(testid)).to_have_value(value)
    expect(page.get_by_test_id("optimizer")).to_have_value("adam")
    expect(page.get_by_test_id("stat-batch-size")).to_have_text("40")
    expect(page.get_by_test_id("stat-cache-size")).to_have_text("5")
    expect(page.get_by_test_id("stat-optimizer")).to_have_text("adam")
    expect(page.get_by_test_id("stat-lr-decay")).to_have_text("1")
    expect(page.get_by_test_id("augment")).to_be_checked()
    expect(page.get_by_test_id("stat-augment")).to_have_text("on")
    expect(page.get_by_test_id("stat-seed")).to_have_text(str(TUNED_SEED))  # the run's seed is kept too


def assert_trains_and_predicts(page: Any) -> None:
    """The page works: training moves (30 iterations past the count shown), test digits get predictions."""
    expect(page.get_by_test_id("prediction-0")).to_have_text(ONE_DIGIT)
    shown = number(page, "stat-iteration")  # a restored run counts on from its saved count
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", f"v >= {0 if math.isnan(shown) else int(shown)} + 30", timeout=WAIT_MS)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")


def exported_weights(page: Any, tmp_path: Any) -> dict[str, np.ndarray]:
    with page.expect_download() as info:
        page.get_by_test_id("export-weights").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def storage_messages(page: Any) -> list[str]:
    return [text for text in page.evaluate("window.__messages") if "storage does not work" in text]


@pytest.fixture
def fresh(page_factory: Callable[[], contextlib.AbstractContextManager]) -> Iterator[tuple[Any, Any]]:
    """A page in a context of its own that records every message the page shows."""
    with page_factory() as (page, log):
        page.add_init_script(RECORD_MESSAGES)
        yield page, log


# ---- reload and tab crash -------------------------------------------------------------------


def test_a_reload_restores_the_weights_and_settings(fresh: tuple[Any, Any], site_url: str,
                                                    page_ready: Callable[..., None]) -> None:
    page, log = fresh
    open_app(page, log, site_url, page_ready)
    tune_and_train(page, 150)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    iteration = int(number(page, "stat-iteration"))
    samples = page.get_by_test_id("stat-samples-seen").text_content()
    wait_saved(page, lambda s: s.iteration == iteration, f"the stopped run's iteration {iteration}")
    before = first_predictions(page)
    chart = page.get_by_test_id("chart-loss")
    expect(chart).to_have_attribute("data-last-iteration", str(iteration))
    points = int(chart.get_attribute("data-points"))

    page.reload()
    page_ready(page, log, timeout_ms=WAIT_MS)
    expect(page.get_by_test_id("message")).to_contain_text(
        "Restored the 784-256-10 weights and settings saved in this browser")
    expect(page.get_by_test_id("message")).to_contain_text(f"{iteration:,} iterations in")
    assert_settings_shown(page)
    assert first_predictions(page) == before
    # The run goes on where it was: its counts and its curve, not 0 and an empty chart.
    expect(page.get_by_test_id("stat-iteration")).to_have_text(str(iteration))
    expect(page.get_by_test_id("stat-samples-seen")).to_have_text(samples)
    expect(chart).to_have_attribute("data-last-iteration", str(iteration))
    assert int(chart.get_attribute("data-points")) == min(points, MAX_POINTS)
    expect(page.locator("#charts")).not_to_have_attribute("data-empty", "")
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", f"v >= {iteration + 50}", timeout=WAIT_MS)
    page.get_by_test_id("stop").click()
    page.wait_for_function(  # the same curve, continued
        "n => Number(document.querySelector('[data-testid=chart-loss]').dataset.lastIteration) > n", arg=iteration)
    assert int(chart.get_attribute("data-points")) > min(points, MAX_POINTS)
    assert log.console_errors == []


def test_a_crashed_tab_restores_the_last_autosave_in_a_new_tab(fresh: tuple[Any, Any], site_url: str,
                                                               page_ready: Callable[..., None], tmp_path: Any) -> None:
    page, log = fresh
    open_app(page, log, site_url, page_ready)
    tune_and_train(page, 100)
    # A save made while training (every 10 s), then the whole tab dies mid-run.
    wait_saved(page, lambda s: s.iteration > 0 and s.settings.optimizer == "adam", "a save during training")
    expect(page.get_by_test_id("train-state")).to_have_text("training")
    context = page.context
    crashed: list[Any] = []
    page.on("crash", lambda crashed_page: crashed.append(crashed_page))
    # Chromium's debug URL kills the tab's renderer process at once (CDP's Page.crash does the
    # same, but never answers, so Playwright's synchronous send would wait forever).
    with contextlib.suppress(Exception):  # the navigation is aborted by the crash
        page.goto("chrome://crash", timeout=10_000)
    tab = context.new_page()
    for _ in range(100):  # waiting in the new tab lets Playwright deliver the old tab's crash event
        if crashed:
            break
        tab.wait_for_timeout(100)
    assert crashed, "the tab did not crash"
    record = from_bytes(stored(tab, site_url))  # what the crashed tab left: at most 10 s old
    assert record.settings == TrainingSettings(batch_size=40, lrate=0.03, lr_decay=1.0, optimizer="adam",
                                               cache_size=5, augment=True)
    assert record.seed == TUNED_SEED

    open_app(tab, log, site_url, page_ready)
    expect(tab.get_by_test_id("message")).to_contain_text("Restored the 784-256-10 weights and settings")
    assert_settings_shown(tab)
    first_predictions(tab)
    weights = exported_weights(tab, tmp_path)
    for name, array in record.weights.items():
        np.testing.assert_array_equal(weights[name], array, err_msg=f"{name} differs from the saved record")


# ---- bad records ------------------------------------------------------------------------------


def record_bytes(**settings: Any) -> bytes:
    """A good record of a 784-16-10 network and these settings (else tuned ones), as the page stores it."""
    values = dict(batch_size=40, lrate=0.03, lr_decay=0.95, optimizer="adam", cache_size=5)
    values.update(settings)
    return to_bytes(SavedState(MLP((784, 16, 10), seed=1).get_weights(), TrainingSettings(**values), 1.7e9))


def _other_version(data: bytes, version: int) -> bytes:
    return data[:len(MAGIC)] + struct.pack(">H", version) + data[len(MAGIC) + 2:]


BAD_RECORDS = {
    "junk": (bytes(range(256)) * 40, "not an Inkling saved state"),
    "truncated": (record_bytes()[:5000], "truncated or damaged"),
    "damaged weights": (record_bytes()[:-300] + b"\x00" * 300, "sha256 does not match"),
    "refused setting": (record_bytes(batch_size=0), "settings.batch_size"),
    "newer version": (_other_version(record_bytes(), FORMAT_VERSION + 1),
                      f"saved in format version {FORMAT_VERSION + 1}; this version of Inkling reads version 1, 2, 3"),
}


# Each kind's reason reaches the message through the same code (`Autosave.restore`), which
# test_page_logic.py runs in CPython on every kind; the page's whole path is driven here for two.
IN_THE_PAGE = ("junk", "newer version")


@pytest.mark.parametrize("case", IN_THE_PAGE)
def test_a_bad_stored_record_is_rejected_and_the_page_starts_fresh(
        fresh: tuple[Any, Any], site_url: str, page_ready: Callable[..., None], case: str) -> None:
    page, log = fresh
    data, reason = BAD_RECORDS[case]
    store(page, site_url, data)
    open_app(page, log, site_url, page_ready)
    message = page.get_by_test_id("message")
    expect(message).to_contain_text("were rejected, so the page starts fresh")
    expect(message).to_contain_text(reason)
    expect(page.get_by_test_id("stat-hidden")).to_have_text("256")  # fresh network, not the record's 16
    expect(page.get_by_test_id("stat-batch-size")).not_to_have_text("40")
    assert_trains_and_predicts(page)
    # The bad record is replaced by a good one at the next save.
    expect(page.get_by_test_id("autosave")).to_contain_text("Autosaved")
    # The app's own; the JSON pages that store and read the record may log a missing favicon, at any time.
    assert [error for error in log.console_errors if "/favicon.ico" not in error] == [], log.summary()
    assert from_bytes(stored(page, site_url)).settings is not None


def test_a_version_1_record_restores_its_weights_settings_and_counts(
        fresh: tuple[Any, Any], site_url: str, page_ready: Callable[..., None]) -> None:
    """Records saved before the curve was kept (format version 1) still restore, with an empty chart."""
    data = to_bytes(SavedState(MLP((784, 16, 10), seed=1).get_weights(),
                               TrainingSettings(batch_size=40, lrate=0.03, lr_decay=1.0, optimizer="adam",
                                                cache_size=5), 1.7e9, 321, 20_544, 0.34))
    (header_len,) = struct.unpack_from(">I", data, len(MAGIC) + 2)
    start = len(MAGIC) + 6
    header = json.loads(data[start:start + header_len])
    del header["curve"], header["seed"], header["settings"]["augment"]  # what version 1 did not have
    raw = json.dumps(header).encode()
    store(page := fresh[0], site_url, MAGIC + struct.pack(">HI", 1, len(raw)) + raw + data[start + header_len:])
    log = fresh[1]
    open_app(page, log, site_url, page_ready)
    expect(page.get_by_test_id("message")).to_contain_text("Restored the 784-16-10 weights and settings")
    expect(page.get_by_test_id("stat-iteration")).to_have_text("321")
    expect(page.get_by_test_id("stat-optimizer")).to_have_text("adam")
    expect(page.locator("#charts")).to_have_attribute("data-empty", "")
    assert_trains_and_predicts(page)  # from 321 on: the counts carry on


def test_a_record_of_the_previous_release_restores_its_weights(
        fresh: tuple[Any, Any], site_url: str, page_ready: Callable[..., None]) -> None:
    page, log = fresh
    store(page, site_url, weights_to_npz(MLP((784, 16, 10), seed=1).get_weights()), key="weights.npz")
    open_app(page, log, site_url, page_ready)
    expect(page.get_by_test_id("message")).to_contain_text("Restored the 784-16-10 weights saved in this browser")
    expect(page.get_by_test_id("stat-hidden")).to_have_text("16")
    assert_trains_and_predicts(page)


# ---- storage that does not work ----------------------------------------------------------------

# Private mode as Firefox had it: indexedDB.open fails (asynchronously, as the real one does).
# Only the page's own database: PyScript 0.6.66 opens one of its own while it boots and never
# gets ready when that fails (two unhandled rejections), which no code of this page can catch.
NO_INDEXEDDB = """window.__storageAttempts = 0;
const open = IDBFactory.prototype.open;
IDBFactory.prototype.open = function (name, ...rest) {
  if (name !== 'inkling') return open.call(this, name, ...rest);
  window.__storageAttempts += 1;
  const request = new EventTarget();
  request.result = undefined;
  request.error = new DOMException('A mutation operation was attempted on a database that did not allow mutations.',
                                   'InvalidStateError');
  setTimeout(() => {
    const event = new Event('error');
    Object.defineProperty(event, 'target', { value: request });
    if (typeof request.onerror === 'function') request.onerror(event);
  });
  return request;
};"""
# A full quota: every write to the page's store fails.
QUOTA_FULL = """window.__storageAttempts = 0;
const put = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (...args) {
  if (this.name !== 'weights') return put.apply(this, args);
  window.__storageAttempts += 1;
  throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
};"""


@pytest.mark.parametrize("fault, shown", [(NO_INDEXEDDB, "InvalidStateError"), (QUOTA_FULL, "QuotaExceededError")],
                         ids=["private mode", "quota exceeded"])
def test_storage_that_fails_is_reported_once_and_the_page_works(
        fresh: tuple[Any, Any], site_url: str, page_ready: Callable[..., None], fault: str, shown: str) -> None:
    page, log = fresh
    page.add_init_script(fault)
    open_app(page, log, site_url, page_ready)
    page.get_by_test_id("start").click()  # the first save (a fresh page has nothing to save before)
    expect(page.get_by_test_id("message")).to_contain_text("storage does not work")
    expect(page.get_by_test_id("message")).to_contain_text(shown)
    # Two more saves while training, each due at once because a setting changed (the timed saves every
    # 10 s take the same path, `Autosave._save`): every one fails, none is reported again.
    for attempts, batch_size in ((2, "48"), (3, "56")):
        set_setting(page, "batch-size", batch_size)
        page.wait_for_function(f"window.__storageAttempts >= {attempts}", timeout=WAIT_MS)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    page.wait_for_function("window.__storageAttempts >= 4", timeout=WAIT_MS)  # the save on stop
    assert len(storage_messages(page)) == 1, page.evaluate("window.__messages")
    expect(page.get_by_test_id("autosave")).to_contain_text("Autosave is off")
    assert number(page, "stat-iteration") > 0
    first_predictions(page)
    assert_trains_and_predicts(page)
    assert len(storage_messages(page)) == 1
