"""Settings in the URL: a link applies its settings and seed (a bad value is refused by name, the rest
apply), the address follows every change, and "copy link" gives that address."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import expect
from test_page import set_setting

LINK = "?optimizer=adam&learning-rate=0.002&batch-size=48&lr-decay=2&hidden-size=64&seed=99"


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
        message = page.get_by_test_id("message")
        expect(message).to_contain_text("This link's lr-decay=2: ")
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
