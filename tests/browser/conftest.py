"""Browser test fixtures: the built site served on 127.0.0.1 and a headless Chromium driving it.

Fixtures (all tests under tests/browser/ are marked `browser`):
    dist_dir      (session) the built site: $INKLING_DIST (set by `python build.py test`) or ./dist,
                  built here if that variable is not set
    site_url      (session) "http://127.0.0.1:<free port>/" serving dist_dir
    browser       (session) Playwright Chromium ($INKLING_CHROMIUM or the one build.py finds);
                  if there is none, every browser test fails with the install command
    page_factory  (session) `with page_factory() as (page, log):` a page in a fresh context
    page          a page in a fresh context (per test); `page_log` holds what it recorded
    page_log      PageLog: every request URL, console errors, failed requests of `page`
    wait_ready    `wait_ready(page)` waits until [data-testid=status] reads "ready"
    page_ready    (session) `page_ready(page, log)`: the same for pages from page_factory
    ready_page    `page` opened on site_url and waited ready
    module_page   (module) a page opened on site_url and waited ready, shared by a module's tests in order
    axe           (session) `axe(page)`: axe-core's serious and critical violations on the page as it is now
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# The flags RUNTIME.md found to work for a system Chromium here; Playwright adds --headless.
INSECURE_HOST = "inkling.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A host name of the site's own server that is not localhost: pages served under it are not a
    # secure context (no Web Locks, no WebCrypto), as on a LAN over plain http.
    f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",
]
# Cold start of Pyodide + numpy + the inkling wheel is ~5 s alone; 2 shared cores can be slower.
READY_TIMEOUT_MS = 120_000
STATUS = "[data-testid=status]"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)
            if _shares_module_state(item):
                # One page (a module fixture) serves the module's tests in order: under pytest-xdist
                # (`--dist loadgroup`) they run in one worker; every other test goes wherever one is free.
                item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def _shares_module_state(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


@dataclass
class PageLog:
    """What one page (and its workers) did: every request URL, errors on the console."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A readable account for failure messages."""
        lines = [f"console errors ({len(self.console_errors)}):"]
        lines += [f"  {text}" for text in self.console_errors[-20:]]
        lines.append(f"failed requests ({len(self.failed_requests)}):")
        lines += [f"  {text}" for text in self.failed_requests[-20:]]
        lines.append(f"requests made: {len(self.requests)}")
        return "\n".join(lines)


@pytest.fixture(scope="session")
def dist_dir(build_py: ModuleType) -> Path:
    """The built site (built now unless `python build.py test` already did and said where)."""
    given = os.environ.get("INKLING_DIST")
    if given:
        dist = Path(given)
    else:
        build = build_py
        paths = build.Paths()
        try:
            with build.Fetcher(paths.cache) as fetcher, build.build_lock(paths.cache):
                build.build_site(paths, fetcher)
        except build.BuildError as exc:
            pytest.fail(f"building the site failed: {exc}", pytrace=False)
        dist = paths.dist
    if not (dist / "index.html").is_file():
        pytest.fail(f"{dist} holds no built site: run `python build.py`", pytrace=False)
    return dist


@pytest.fixture(scope="session")
def site_url(build_py: ModuleType, dist_dir: Path) -> Iterator[str]:
    """The built site served on a free 127.0.0.1 port."""
    server = build_py.SiteServer(dist_dir, 0)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def insecure_site_url(site_url: str) -> str:
    """The same server under a name that is not localhost: its pages are not a secure context."""
    return site_url.replace("127.0.0.1", INSECURE_HOST)


@pytest.fixture(scope="session")
def chromium_path(build_py: ModuleType) -> Path:
    """The Chromium executable; fails (never skips) when there is none."""
    found = build_py.find_chromium()
    if found is None:
        pytest.fail(build_py.chromium_missing_message(), pytrace=False)
    return found


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    """A headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def page_factory(browser: Any) -> Callable[..., contextlib.AbstractContextManager]:
    """`with page_factory() as (page, log):` a page in a fresh context that records its traffic.

    Other keyword arguments go to Playwright's `new_context` (``color_scheme="dark"``, ``viewport=...``).
    Service workers are blocked unless `page_factory(service_workers="allow")`: otherwise every
    fresh context would keep the whole site (~70 MB) in its storage, and a page served from that
    copy would hide what the test's server does (faults, rebuilt files). test_offline.py allows them.
    """

    @contextlib.contextmanager
    def open_page(service_workers: str = "block", **context_options: Any) -> Iterator[tuple[Any, PageLog]]:
        context = browser.new_context(service_workers=service_workers, **context_options)
        log = PageLog()
        # Context-level events also see requests made by the page's workers.
        context.on("request", lambda request: log.requests.append(request.url))
        context.on("requestfailed", lambda request: log.failed_requests.append(
            f"{request.url}: {request.failure}"))
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and log.console_errors.append(
            f"{message.text} ({message.location.get('url', '')})"))
        page.on("pageerror", lambda error: log.console_errors.append(f"uncaught: {error}"))
        try:
            yield page, log
        finally:
            context.close()

    return open_page


@pytest.fixture
def _page_and_log(page_factory: Callable[[], contextlib.AbstractContextManager]) -> Iterator[tuple[Any, PageLog]]:
    with page_factory() as pair:
        yield pair


@pytest.fixture
def page(_page_and_log: tuple[Any, PageLog]) -> Any:
    """A fresh page (new browser context) for one test."""
    return _page_and_log[0]


@pytest.fixture
def page_log(_page_and_log: tuple[Any, PageLog]) -> PageLog:
    """What `page` recorded: requests, console errors, failed requests."""
    return _page_and_log[1]


def wait_for_ready(page: Any, log: PageLog, timeout_ms: int = READY_TIMEOUT_MS) -> None:
    """Wait until the status element reads "ready"; on timeout fail with the status and errors."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "sel => document.querySelector(sel)?.textContent.trim() === 'ready'",
            arg=STATUS, timeout=timeout_ms)
    except PlaywrightTimeout:
        status = page.evaluate("sel => document.querySelector(sel)?.textContent ?? '<no status element>'",
                               STATUS)
        pytest.fail(f"the page did not reach status 'ready' in {timeout_ms / 1000:.0f} s; "
                    f"status is {status.strip()!r}\n{log.summary()}", pytrace=False)


@pytest.fixture(scope="session")
def page_ready() -> Callable[..., None]:
    """`page_ready(page, log, timeout_ms=...)`: wait_for_ready for pages from page_factory."""
    return wait_for_ready


@pytest.fixture
def wait_ready(page_log: PageLog) -> Callable[..., None]:
    """`wait_ready(page, timeout_ms=...)` for the test's `page`."""
    return lambda page, timeout_ms=READY_TIMEOUT_MS: wait_for_ready(page, page_log, timeout_ms)


@pytest.fixture(scope="module")
def module_page(page_factory: Callable[[], contextlib.AbstractContextManager], site_url: str) -> Iterator[Any]:
    """One page, opened on the site and waited ready, shared by a module's tests in order (each leaves
    it stopped for the next; under pytest-xdist the module's tests stay in one worker)."""
    with page_factory() as (page, log):
        page.goto(site_url)
        wait_for_ready(page, log)
        yield page


@pytest.fixture
def ready_page(page: Any, page_log: PageLog, site_url: str) -> Any:
    """`page` opened on the site and waited until it is ready."""
    page.goto(site_url)
    wait_for_ready(page, page_log)
    return page


AXE_IMPACTS = ("serious", "critical")
AXE_RUN = """async impacts => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    return result.violations.filter(v => impacts.includes(v.impact)).map(v =>
        `${v.id} (${v.impact}): ${v.help}\\n` + v.nodes.slice(0, 8).map(n =>
            `    ${n.target.join(' ')}: ${n.failureSummary.replaceAll('\\n', ' ')}`).join('\\n'));
}"""


@pytest.fixture(scope="session")
def axe(build_py: ModuleType) -> Callable[[Any], list[str]]:
    """`axe(page)`: the serious and critical violations axe-core (pinned, test-only) finds on ``page`` now,
    one readable text each (empty: none). Injected through the DevTools protocol, which the page's
    Content-Security-Policy does not govern."""
    paths = build_py.Paths()
    try:
        with build_py.Fetcher(paths.cache) as fetcher, build_py.build_lock(paths.cache):
            source = fetcher.ensure(build_py.AXE_PIN).read_text(encoding="utf-8")
    except build_py.BuildError as exc:
        pytest.fail(f"axe-core is not available: {exc}", pytrace=False)

    def violations(page: Any) -> list[str]:
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.evaluate(source)
        return page.evaluate(AXE_RUN, list(AXE_IMPACTS))

    return violations
