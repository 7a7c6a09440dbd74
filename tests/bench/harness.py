"""What every benchmark shares: the bench's own static server, Chromium, fresh pages, summaries.

The server is build.py's `SiteHandler` (same MIME types and caching as `build.py serve`) plus what
only a benchmark needs: a delay it can switch on for every MNIST block it serves, and bench-only
pages beside `dist/`: the bare-Pyodide floor under `/bench-floor/` (`tests/bench/floor/`), the
kernel timing page under `/bench-kernel/` (`tests/bench/kernel/`), Pyodide as published under
`/bench-stock-pyodide/` (the build's cached downloads) and TensorFlow.js training a convnet under
`/bench-tfjs/` (`tests/bench/tfjs/`, the pinned library under `/bench-tfjs/lib/`).
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROBE_JS = (HERE / "probe.js").read_text()
FLOOR_PREFIX = "/bench-floor/"
KERNEL_PREFIX = "/bench-kernel/"
STOCK_PYODIDE_PREFIX = "/bench-stock-pyodide/"
TFJS_PREFIX = "/bench-tfjs/"
# Pyodide exactly as published (the build's checked downloads): the floor is measured with it, since the
# site ships the runtime's Python compiled to bytecode (py/inkling_build/bytecode.py).
STOCK_PYODIDE = ROOT / ".cache" / "files" / "pyodide"
# TensorFlow.js as pinned (py/inkling_build/pins.py BENCH_PINS), fetched by `python build.py bench`.
TFJS_FILES = ROOT / ".cache" / "files" / "bench" / "tfjs"
# Bench-only pages served beside dist/, under the site's CSP: URL prefix -> folder.
BENCH_PAGES = {FLOOR_PREFIX: HERE / "floor", KERNEL_PREFIX: HERE / "kernel", STOCK_PYODIDE_PREFIX: STOCK_PYODIDE,
               TFJS_PREFIX + "lib/": TFJS_FILES, TFJS_PREFIX: HERE / "tfjs"}
# The flags RUNTIME.md found to work for a system Chromium here (the same as tests/browser).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
READY_TIMEOUT_MS = 180_000


class Unavailable(Exception):
    """A benchmark (or one of its numbers) cannot be measured here; the message says why."""


def load_build() -> ModuleType:
    """./build.py as a module (the bare name `build` may belong to an installed package).

    Loaded as `build_py` (as tests/conftest.py does), not `inkling_build`: that is the name of the
    package build.py imports its work from.
    """
    name = "build_py"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass
class Settings:
    """How long and how often to measure."""

    quick: bool
    runs: int
    dist: Path
    chromium: Path
    long_runs: int = 1  # runs of the minutes-long benchmarks (time_to_accuracy, memory)
    smoke: bool = False  # --smoke: windows too short for figures, for the test that the numbers are written

    def pick(self, quick: Any, full: Any, smoke: Any = None) -> Any:
        """`smoke` under --smoke (where a benchmark names one), `quick` under --quick, else `full`."""
        if self.smoke and smoke is not None:
            return smoke
        return quick if self.quick else full


def make_server(dist: Path) -> Any:
    """A SiteServer for `dist` whose `data_delay_s` delays every MNIST block it serves."""
    build = load_build()

    class BenchHandler(build.SiteHandler):
        def translate_path(self, path: str) -> str:
            for prefix, folder in BENCH_PAGES.items():
                if path.startswith(prefix):
                    return str(folder / path[len(prefix):].split("?", 1)[0])
            return super().translate_path(path)

        def do_GET(self) -> None:
            if self.path.startswith("/data/") and self.path.endswith(".bin"):
                delay = self.server.data_delay_s
                if delay:
                    time.sleep(delay)
            super().do_GET()

    class BenchServer(build.SiteServer):
        def __init__(self, root: Path) -> None:
            ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), functools.partial(BenchHandler, directory=str(root)))
            self.data_delay_s = 0.0

    return BenchServer(dist)


class Bench:
    """One Chromium and one server for the whole bench; fresh contexts per run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Bench:
        from playwright.sync_api import sync_playwright

        self.server = make_server(self.settings.dist)
        thread = threading.Thread(target=self.server.serve_forever, name="bench-server", daemon=True)
        thread.start()
        self._stack.callback(self.server.server_close)
        self._stack.callback(self.server.shutdown)
        self.playwright = self._stack.enter_context(sync_playwright())
        self.browser = self.playwright.chromium.launch(
            executable_path=str(self.settings.chromium), args=CHROMIUM_ARGS, headless=True)
        self._stack.callback(self.browser.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def url(self) -> str:
        """The site's root URL."""
        return self.server.url

    @contextlib.contextmanager
    def context(self, service_workers: str = "block") -> Iterator[Any]:
        """A fresh browser context (empty cache and storage) with the probe installed.

        Service workers are blocked unless asked for: keeping the site (~70 MB, fetched and
        hashed just after the page is ready) would run inside the other benchmarks' windows.
        """
        context = self.browser.new_context(service_workers=service_workers)
        context.add_init_script(PROBE_JS)
        try:
            yield context
        finally:
            context.close()

    @contextlib.contextmanager
    def ready_page(self, query: str = "") -> Iterator[Any]:
        """A page of the site (URL query `query`, e.g. "?engine=numpy") in a fresh context, waited until ready."""
        with self.context() as context:
            page = context.new_page()
            page.on("dialog", lambda dialog: dialog.accept())
            page.goto(self.url + query)
            wait_ready(page)
            yield page


def result_page(bench: Bench, path: str, timeout_ms: int = 600_000) -> dict[str, Any]:
    """Open a bench page (``path`` below the site's root) that writes "done" or "error: ..." into
    ``[data-testid=status]`` and its JSON into ``[data-testid=result]``; that JSON.

    Raises:
        RuntimeError: The page says it failed.
    """
    with bench.context() as context:
        page = context.new_page()
        page.goto(bench.url + path.lstrip("/"))
        page.wait_for_function(
            "() => /^(done|error)/.test(document.querySelector('[data-testid=status]').textContent)",
            timeout=timeout_ms)
        status = page.get_by_test_id("status").text_content()
        if status != "done":
            raise RuntimeError(f"the page {path.split('?')[0]} says {status!r}")
        return json.loads(page.get_by_test_id("result").text_content())


def wait_ready(page: Any, timeout_ms: int = READY_TIMEOUT_MS) -> None:
    """Wait for status "ready"; raise with the status shown if it never comes."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => document.querySelector('[data-testid=status]')?.textContent.trim() === 'ready'",
            timeout=timeout_ms)
    except PlaywrightTimeout:
        status = page.evaluate("() => document.querySelector('[data-testid=status]')?.textContent")
        raise RuntimeError(f"the page never became ready in {timeout_ms / 1000:.0f} s; status {status!r}") from None


def last_signal(page: Any) -> dict[str, Any] | None:
    """The newest signal the worker sent (compact: no weights), with its arrival time `t` (ms)."""
    return page.evaluate("() => window.__bench.last")


def wait_signal(page: Any, predicate: str, timeout_ms: int = 60_000) -> dict[str, Any]:
    """Wait until the newest signal `s` satisfies the JS expression `predicate` (over `s`)."""
    page.wait_for_function(f"() => {{ const s = window.__bench.last; return !!s && ({predicate}); }}",
                           timeout=timeout_ms)
    return last_signal(page)


def set_field(page: Any, testid: str, value: object) -> None:
    """Type a value into a settings field and apply it (Enter), as a user does."""
    field = page.get_by_test_id(testid)
    field.fill(str(value))
    field.press("Enter")


def start_training(page: Any) -> None:
    """Press Start and wait until the worker reports training."""
    page.get_by_test_id("start").click()
    wait_signal(page, "s.training === true")


def stop_training(page: Any) -> None:
    """Press Stop and wait until the worker reports idle."""
    page.get_by_test_id("stop").click()
    wait_signal(page, "s.training === false")


def measure_rate(page: Any, seconds: float) -> dict[str, float]:
    """Samples/s, iterations and cache waits over `seconds`, from the worker's own counters."""
    a = last_signal(page)
    page.wait_for_timeout(seconds * 1000)
    b = last_signal(page)
    dt = (b["t"] - a["t"]) / 1000
    if dt <= 0:
        raise RuntimeError("the worker sent no signal during the measuring window")
    return {"samples_per_s": (b["samples_seen"] - a["samples_seen"]) / dt,
            "iterations": b["iteration"] - a["iteration"],
            "cache_waits": b["cache_waits"] - a["cache_waits"], "seconds": dt}


def summary(values: Sequence[float | None], unit: str) -> dict[str, Any]:
    """Median and min-max over runs (None values, e.g. a level never reached, are left out)."""
    got = [v for v in values if v is not None]
    if not got:
        return {"median": None, "min": None, "max": None, "unit": unit, "runs": list(values)}
    return {"median": statistics.median(got), "min": min(got), "max": max(got), "unit": unit,
            "runs": list(values)}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
