"""Settings in the URL: a link applies its settings and seed (a bad value is refused by name, the rest
apply), the address follows every change, and "copy link" gives that address."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import expect
from test_page import set_setting

LINK = "?optimizer=adam&learning-rate=0.002&batch-size=48&lr-decay=2&hidden-size=64&seed=99&augment=sometimes"


def _query(page: Any) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(page.url).query))


def _expect_stats(page: Any, **stats: str) -> None:
    for testid, text in stats.items():
        expect(page.get_by_test_id(f"stat-{testid.replace('_', '-')}")).to_have_text(text)


def test_a_link_applies_its_settings_and_seed_and_the_address_follows_every_change(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str) -> None:
    with page_factory() as (page, log):
        page.goto(site_url + LINK)
        page_ready(page, log)
        _expect_stats(page, optimizer="adam", lrate="0.002", batch_size="48", hidden="64", seed="99")
        expect(page.get_by_test_id("stat-lr-decay")).not_to_have_text("2")  # refused by name, the rest applied
        expect(page.get_by_test_id("stat-augment")).to_have_text("off")  # so is a switch's bad value
        message = page.get_by_test_id("message")
        expect(message).to_contain_text("This link's lr-decay=2: ")
        expect(message).to_contain_text("augment=sometimes")
        expect(message).to_contain_text("could not be used")
        expect(message).to_have_class("message error")

        # The address follows the settings as they change ...
        set_setting(page, "batch-size", "80")
        page.wait_for_function("() => new URLSearchParams(location.search).get('batch-size') === '80'")
        query = _query(page)
        assert {k: query[k] for k in ("optimizer", "learning-rate", "hidden-size", "seed")} == {
            "optimizer": "adam", "learning-rate": "0.002", "hidden-size": "64", "seed": "99"}
        assert query["lr-decay"] != "2"
        # ... and "copy link" hands out exactly that address.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.get_by_test_id("share-link").click()
        expect(message).to_contain_text("Copied a link to these settings")
        assert page.evaluate("() => navigator.clipboard.readText()") == page.url
        shared = page.url

    # Opened in another browser (nothing saved there): the same run, at once.
    with page_factory() as (page, log):
        page.goto(shared)
        page_ready(page, log)
        _expect_stats(page, optimizer="adam", lrate="0.002", batch_size="80", hidden="64", seed="99",
                      iteration="0")
        expect(page.get_by_test_id("message")).to_contain_text("This link's settings apply")


def test_a_link_never_replaces_weights_restored_in_this_browser(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str) -> None:
    with page_factory() as (page, log):
        page.goto(site_url)
        page_ready(page, log)
        set_setting(page, "batch-size", "40")  # a change: autosaved at once
        expect(page.get_by_test_id("autosave")).to_contain_text("Autosaved")
        page.goto(site_url + "?hidden-size=32&seed=5&batch-size=56")
        page_ready(page, log)
        message = page.get_by_test_id("message")
        expect(message).to_contain_text("Restored the 784-256-10")
        expect(message).to_contain_text("This link's settings apply: batch size 56")
        expect(message).to_contain_text("starts when you press Reset weights")
        _expect_stats(page, hidden="256", seed="0", batch_size="56")  # the saved run (its seed too), the link's settings
        expect(page.get_by_test_id("hidden-size")).to_have_value("32")
        expect(page.get_by_test_id("seed")).to_have_value("5")
        page.get_by_test_id("reset").click()
        _expect_stats(page, hidden="32", seed="5")
        page.wait_for_function("() => new URLSearchParams(location.search).get('seed') === '5'")


# Each setting at the largest value it allows, alone or together; and a network far beyond the limits.
LARGEST = "batch-size=4096&cache-size=1024&learning-rate=10&lr-decay=1&weight-decay=0.1&optimizer=adam&augment=on" \
          "&seed=4294967295"
TOO_LARGE_LINKS = {
    # Eight layers of 4096 (the widest a layer may be) with Adam: 118 million weights.
    "?hidden-size=4096,4096,4096,4096,4096,4096,4096,4096&optimizer=adam": "weights; the page holds at most",
    # The widest layers with every other setting at its largest: refused by their weights ...
    f"?hidden-size=c256:9:same,c256:9:same,4096&{LARGEST}": "weights; the page holds at most",
    # ... or, by the worker, by their memory at batch 4096; the rest of the link applies.
    f"?hidden-size=c64:3:same,c64:3:same,16&{LARGEST}": "at batch size 4096 needs about",
}


def _start_and_stop_work(page: Any) -> None:
    """Start trains (the count moves), Stop stops: whatever the link did, the page is not stuck."""
    from test_page import number, wait_stat

    before = number(page, "stat-iteration")
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("train-state")).to_have_text("training", timeout=120_000)
    wait_stat(page, "stat-iteration", f"v >= {int(before)} + 2", timeout=180_000)
    expect(page.get_by_test_id("stop")).to_be_enabled()
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=120_000)
    expect(page.get_by_test_id("start")).to_be_enabled()


def test_a_network_too_large_for_the_page_is_refused_by_its_size_and_start_and_stop_still_work(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str) -> None:
    for link, said in TOO_LARGE_LINKS.items():
        with page_factory() as (page, log):
            page.goto(site_url + link)
            page_ready(page, log)
            message = page.get_by_test_id("message")
            expect(message).to_contain_text("could not be used")
            expect(message).to_contain_text(said)
            expect(message).to_have_class("message error")
            expect(page.get_by_test_id("stat-hidden")).to_have_text("256")  # the network it had stays
            set_setting(page, "learning-rate", "0.001")  # the largest rate diverges: see the test below
            _start_and_stop_work(page)


def test_every_setting_at_its_largest_still_trains_and_stops(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str) -> None:
    with page_factory() as (page, log):
        page.goto(f"{site_url}?{LARGEST}")
        page_ready(page, log)
        _expect_stats(page, batch_size="4096", lrate="10", optimizer="adam", augment="on", seed="4294967295")
        # The table allows 1,024 blocks; the worker's data budget holds fewer of MNIST's: refused by name and
        # size, the cache stays as it was, and the message does not claim it applied.
        message = page.get_by_test_id("message")
        expect(message).to_contain_text("This link's cache size 1024 could not be used: ")
        expect(message).to_contain_text("MiB set aside for training data")
        expect(message).not_to_contain_text("cache size 1024.")
        _expect_stats(page, cache_size="8")
        # A rate of 10 with Adam diverges at once: training stops by itself, says why, keeps sane weights ...
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("message")).to_contain_text("with learning rate 10; training stopped and the last "
                                                               "weights with a sane loss were restored",
                                                               timeout=120_000)
        expect(page.get_by_test_id("train-state")).to_have_text("idle")
        expect(page.get_by_test_id("start")).to_be_enabled()
        # ... and with a rate that works, the same largest batch, cache and augmentation train and stop.
        set_setting(page, "learning-rate", "0.001")
        _start_and_stop_work(page)
