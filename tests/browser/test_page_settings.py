"""Every setting of the table, through the page: its input (written by the build from the table),
the worker's stat, the address, the autosave after a reload, and training with it."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import expect
from setting_samples import SAMPLES
from test_page import WAIT_MS, set_setting, wait_stat

from inkling.messages.tunables import LIVE, RUN, TUNABLES, Tunable


def _give(page: Any, setting: Tunable, value: Any) -> None:
    """Set ``value`` the way a person does with this kind of input."""
    if setting.kind == "choice":
        page.get_by_test_id(setting.testid).select_option(value)
    elif setting.kind == "switch":
        page.get_by_test_id(setting.testid).set_checked(value)
    else:
        set_setting(page, setting.testid, setting.text(value))


def _shown(page: Any, setting: Tunable, value: Any) -> None:
    """The worker reports ``value`` and the input shows it."""
    expect(page.get_by_test_id(setting.stat)).to_have_text(setting.text(value), timeout=WAIT_MS)
    if setting.kind == "switch":
        expect(page.get_by_test_id(setting.testid)).to_be_checked(checked=value)
    else:
        expect(page.get_by_test_id(setting.testid)).to_have_value(setting.text(value))


def _machines(page: Any, setting: Tunable) -> Any:
    """A setting of the machine, which the autosave does not keep: what the page opens with here."""
    assert setting.field == "workers", setting.field
    return max(1, page.evaluate("navigator.hardwareConcurrency") - 1)


def test_every_setting_goes_from_its_input_to_the_worker_the_address_and_the_autosave(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str) -> None:
    assert set(SAMPLES) == {t.field for t in TUNABLES}
    with page_factory() as (page, log):
        page.goto(site_url)
        page_ready(page, log)
        for setting in LIVE:  # the table's order: the optimizer first, as it sets its own rate
            _give(page, setting, SAMPLES[setting.field])
            _shown(page, setting, SAMPLES[setting.field])
        for setting in RUN:
            _give(page, setting, SAMPLES[setting.field])
        page.get_by_test_id("reset").click()
        for setting in TUNABLES:
            expect(page.get_by_test_id(setting.stat)).to_have_text(setting.text(SAMPLES[setting.field]),
                                                                   timeout=WAIT_MS)
        query = dict(parse_qsl(urlsplit(page.url).query))
        assert query == {t.testid: t.text(SAMPLES[t.field]) for t in TUNABLES}

        page.get_by_test_id("start").click()  # it trains with all of them
        wait_stat(page, "stat-iteration", "v >= 30", timeout=WAIT_MS)
        page.get_by_test_id("stop").click()
        expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=WAIT_MS)

        page.goto(site_url)  # no address to apply: what comes back is the autosave's
        page_ready(page, log)
        for setting in TUNABLES:
            expect(page.get_by_test_id(setting.stat)).to_have_text(setting.text(SAMPLES[setting.field]) if setting.kept
                                                                   else setting.text(_machines(page, setting)),
                                                                   timeout=WAIT_MS)
        for setting in LIVE:
            _shown(page, setting, SAMPLES[setting.field] if setting.kept else _machines(page, setting))
