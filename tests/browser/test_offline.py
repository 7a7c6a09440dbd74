"""Offline use: the service worker keeps the built site in this browser.

With the server gone, a reload is ready, trains, evaluates and predicts, and no request fails. A
rebuilt site is fetched at the next visit, the page says a new version is ready, and the version
after that (or "Update now") runs it. Each test serves its own copy of dist/ so it can stop the
server or rebuild files without touching the other tests' site.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from inkling.page.offline import OFFLINE_TEXTS, UPDATE_NEWS
from test_faults_persistence import wait_saved
from test_page import ONE_DIGIT, number, wait_stat

WAIT_MS = 120_000  # hang guards: keeping ~70 MB and booting two runtimes on 2 busy cores


class SiteCopy:
    """A copy of the built site served on a fixed 127.0.0.1 port (one origin across restarts)."""

    def __init__(self, build_py: ModuleType, dist: Path, root: Path, isolate: bool = True) -> None:
        self._build = build_py
        self._isolate = isolate
        self.root = root
        shutil.copytree(dist, root)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = self._build.SiteServer(self.root, self.port, isolate=self._isolate)
        self._thread = threading.Thread(target=self._server.serve_forever, name="offline-site", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None

    def rebuild(self, marker: str) -> None:
        """A new build: the page changed (it carries ``marker``), and a service worker made for it."""
        index = self.root / "index.html"
        index.write_text(index.read_text().replace("<head>", f"<head>\n  <meta name=\"build-marker\" content=\"{marker}\">", 1))
        files = [p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()]
        template = (self._build.Paths().web / self._build.SERVICE_WORKER).read_bytes()
        _, worker = self._build.service_worker(self.root, files, template)
        (self.root / self._build.SERVICE_WORKER).write_bytes(worker)


@pytest.fixture
def own_site(build_py: ModuleType, dist_dir: Path, tmp_path: Path) -> Iterator[SiteCopy]:
    site = SiteCopy(build_py, dist_dir, tmp_path / "site")
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def plain_site(build_py: ModuleType, dist_dir: Path, tmp_path: Path) -> Iterator[SiteCopy]:
    """The site on a static host that sends no cross-origin isolation headers."""
    site = SiteCopy(build_py, dist_dir, tmp_path / "site", isolate=False)
    site.start()
    try:
        yield site
    finally:
        site.stop()


def marker(page: Any) -> str | None:
    return page.evaluate("document.querySelector('meta[name=build-marker]')?.content ?? null")


def open_ready(page: Any, log: Any, url: str, page_ready: Callable[..., None]) -> None:
    page.goto(url)
    page_ready(page, log, timeout_ms=WAIT_MS)


def open_kept(page: Any, log: Any, url: str, page_ready: Callable[..., None]) -> None:
    """Open the site, ready, and wait until the service worker has kept it."""
    open_ready(page, log, url, page_ready)
    expect(page.get_by_test_id("offline")).to_have_text(OFFLINE_TEXTS["ready"], timeout=WAIT_MS)


def wait_until_the_waiting_version_serves(context: Any, timeout_s: float = WAIT_MS / 1000) -> None:
    """Wait until the site's registration has no version waiting, asked inside its service workers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for worker in context.service_workers:
            with contextlib.suppress(Exception):  # a version that has stopped cannot be asked
                if worker.evaluate("self.registration.waiting === null && self.registration.active !== null"):
                    return
        time.sleep(0.1)
    raise AssertionError("the waiting version never took over after its last tab closed")


READ_ICONS = """async manifest => Promise.all(manifest.icons.map(async icon => {
    const response = await fetch(new URL(icon.src, new URL('manifest.webmanifest', location.href)));
    const bitmap = await createImageBitmap(await response.blob());
    return [icon.src, response.status, response.headers.get('content-type'), `${bitmap.width}x${bitmap.height}`];
}))"""


def assert_installable(page: Any) -> None:
    """Installable like an app: the manifest names the app and its icons (fetched, PNG, of the sizes it
    declares), the service worker controls the page, and Chromium itself finds nothing that stops it
    installing (its own installability check, `Page.getInstallabilityErrors`)."""
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    manifest = page.evaluate("async () => (await fetch('manifest.webmanifest')).json()")
    assert manifest["short_name"] == "Inkling" and manifest["name"].startswith("Inkling")
    assert manifest["display"] == "standalone" and manifest["start_url"] == "./"
    for src, status, kind, size in page.evaluate(READ_ICONS, manifest):
        declared = next(icon for icon in manifest["icons"] if icon["src"] == src)
        assert (status, kind, size) == (200, "image/png", declared["sizes"]), src
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    expect(page.locator("meta[name=theme-color][media*=light]")).to_have_attribute("content", manifest["theme_color"])

    cdp = page.context.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["url"].endswith("/manifest.webmanifest") and parsed["errors"] == [], parsed["errors"]
    errors = [e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
    # The tests' browser contexts are off the record, where Chromium installs nothing for any site:
    # that one is the test's, not the site's; anything else (manifest, icons, worker) would be the site's.
    assert [e for e in errors if e != "in-incognito"] == [], errors
    cdp.detach()


def test_with_the_server_gone_a_reload_is_ready_trains_evaluates_and_predicts(
        page_factory: Callable[..., contextlib.AbstractContextManager], page_ready: Callable[..., None],
        plain_site: SiteCopy) -> None:
    """On a static host that sends no isolation headers, too: the first visit reloads itself once the
    site is kept, and from then on the service worker's headers make the page cross-origin isolated,
    so two workers train together, offline as well."""
    own_site = plain_site
    with page_factory(service_workers="allow") as (page, log):
        open_ready(page, log, own_site.url + "?workers=2&batch-size=256", page_ready)  # large enough to share
        assert page.evaluate("crossOriginIsolated") is False  # the host sends no COOP/COEP
        page.wait_for_function("crossOriginIsolated", timeout=WAIT_MS)  # the one reload, served isolated
        page_ready(page, log, timeout_ms=WAIT_MS)
        expect(page.get_by_test_id("offline")).to_have_text(OFFLINE_TEXTS["ready"], timeout=WAIT_MS)
        # (The reload may cut the first visit's fetches short: only what follows must not fail.)
        failed_before = len(log.failed_requests)
        own_site.stop()
        first_visit = len(log.requests)

        page.reload()
        page_ready(page, log, timeout_ms=WAIT_MS)
        assert page.evaluate("navigator.serviceWorker.controller !== null"), "the page is served by the worker"
        assert page.evaluate("crossOriginIsolated") is True
        expect(page.get_by_test_id("prediction-0")).to_have_text(ONE_DIGIT)
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("stat-workers-training")).to_have_text("2", timeout=WAIT_MS)
        wait_stat(page, "stat-iteration", "v >= 300", timeout=WAIT_MS)
        page.get_by_test_id("stop").click()
        expect(page.get_by_test_id("train-state")).to_have_text("idle")
        page.get_by_test_id("evaluate").click()
        expect(page.get_by_test_id("message")).to_contain_text("Test accuracy", timeout=WAIT_MS)
        assert number(page, "stat-test-acc") > 50
        assert number(page, "stat-data-errors") == 0
        served = log.requests[first_visit:]
        assert any(url.endswith("/data/manifest.json") for url in served)  # it did ask, and was answered
        assert log.failed_requests[failed_before:] == [], log.failed_requests
        assert {urlparse(url).netloc for url in log.requests} == {urlparse(own_site.url).netloc}
        assert log.console_errors == []


def test_a_kept_site_installs_as_an_app_and_a_rebuilt_one_is_picked_up_next_visit_or_with_update_now(
        page_factory: Callable[..., contextlib.AbstractContextManager], page_ready: Callable[..., None],
        own_site: SiteCopy) -> None:
    with page_factory(service_workers="allow") as (page, log):
        open_kept(page, log, own_site.url, page_ready)
        expect(page.get_by_test_id("update-now")).to_be_hidden()

        # The site is rebuilt while the person is away; their next visit still runs the kept
        # version (it starts from local storage), fetches the new one and says it is ready.
        own_site.rebuild("second")
        page.reload()
        page_ready(page, log, timeout_ms=WAIT_MS)
        assert marker(page) is None
        assert_installable(page)  # from the second visit on, the service worker controls the page
        expect(page.get_by_test_id("offline")).to_have_text(OFFLINE_TEXTS["update"], timeout=WAIT_MS)
        expect(page.get_by_test_id("message")).to_contain_text(UPDATE_NEWS)
        expect(page.get_by_test_id("update-now")).to_be_visible()

        # The visit after that runs the new build. The kept version steps down once its last tab is
        # gone, which the browser learns a moment after the tab closes: a visit in that moment is
        # still served by it (a person reopening the tab that fast sees the new build one visit later).
        context = page.context
        page.close()
        wait_until_the_waiting_version_serves(context)
        page = context.new_page()
        open_ready(page, log, own_site.url, page_ready)
        assert marker(page) == "second"
        expect(page.get_by_test_id("offline")).to_have_text(OFFLINE_TEXTS["ready"], timeout=WAIT_MS)

        # Rebuilt again: "Update now" keeps the weights and switches this very tab.
        page.get_by_test_id("start").click()
        wait_stat(page, "stat-iteration", "v >= 100", timeout=WAIT_MS)
        page.get_by_test_id("stop").click()
        expect(page.get_by_test_id("train-state")).to_have_text("idle")
        iteration = int(number(page, "stat-iteration"))
        # The save on Stop lands a moment later: a reload before it would restore the save made at Start.
        wait_saved(page, lambda state: state.iteration == iteration, f"the stopped run's iteration {iteration}")
        own_site.rebuild("third")
        page.reload()
        page_ready(page, log, timeout_ms=WAIT_MS)
        expect(page.get_by_test_id("update-now")).to_be_visible(timeout=WAIT_MS)
        with page.expect_navigation(timeout=WAIT_MS):
            page.get_by_test_id("update-now").click()
        page_ready(page, log, timeout_ms=WAIT_MS)
        assert marker(page) == "third"
        expect(page.get_by_test_id("message")).to_contain_text("Restored the 784-256-10 weights and settings")
        expect(page.get_by_test_id("stat-iteration")).to_have_text(str(iteration))
        assert log.failed_requests == [], log.failed_requests


def test_a_file_that_does_not_match_its_sha256_is_not_kept_and_the_page_says_so(
        page_factory: Callable[..., contextlib.AbstractContextManager], page_ready: Callable[..., None],
        own_site: SiteCopy) -> None:
    block = own_site.root / "data" / "test-009.bin"  # altered on the server after the build listed it
    data = bytearray(block.read_bytes())
    data[100] ^= 0xFF
    block.write_bytes(bytes(data))
    with page_factory(service_workers="allow") as (page, log):
        open_ready(page, log, own_site.url, page_ready)
        expect(page.get_by_test_id("offline")).to_have_text(
            OFFLINE_TEXTS["failed"].format(detail="a file of the site could not be fetched, or did not match its "
                                                  "sha256"), timeout=WAIT_MS)
        assert page.evaluate("navigator.serviceWorker.getRegistration().then(r => !r || !r.active)")
        expect(page.get_by_test_id("prediction-0")).to_have_text(ONE_DIGIT)  # online, the page works as before
