"""Security: the page runs under its Content-Security-Policy with no violation, nothing reaches
another origin (from the page or the worker), and user-supplied names and files are shown as
plain text, never run."""

from __future__ import annotations

import functools
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator
from urllib.request import urlopen

import numpy as np
import pytest
from playwright.sync_api import expect

from inkling.network.mlp import MLP

WAIT_MS = 60_000
# Recorded from the first script on: every violation the page's document reports.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber}));
"""
# Pasted into file names and inputs: each would set window.__pwned if it ever ran as code or HTML.
PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '"><svg onload="window.__pwned=3">',
]
INJECTED = "() => document.querySelectorAll('img[src=x], svg[onload], [onerror], script:not([src]):not([type=py])').length"


class _OtherOrigin(BaseHTTPRequestHandler):
    """Another origin that would answer anyone (CORS open): only the CSP can keep requests away."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (base class name)
        _OtherOrigin.hits.append(self.path)
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"window.__pwned = 9")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherOrigin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with urlopen(url + "alive") as response:  # it does answer requests that the browser is allowed to make
        assert response.status == 200
    _OtherOrigin.hits.clear()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


REPORTS: list[dict[str, Any]] = []  # CSP violation reports the browser posted, from the page and its worker


@pytest.fixture(scope="module")
def reporting_site(build_py: ModuleType, dist_dir: Path) -> Iterator[str]:
    """The built site served by build.py's handler, its policy plus a report-uri, so that violations
    in the worker (where no test can listen before its script runs) are reported too."""

    class Reporting(build_py.SiteHandler):
        def send_header(self, keyword: str, value: str) -> None:
            if keyword == "Content-Security-Policy":
                value += "; report-uri /csp-report"
            super().send_header(keyword, value)

        def do_POST(self) -> None:  # noqa: N802 (base class name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            REPORTS.append(json.loads(body or b"{}").get("csp-report", {}))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Reporting, directory=str(dist_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def lab(page_factory: Any, page_ready: Any, reporting_site: str) -> Iterator[tuple[Any, Any]]:
    """The page under its CSP, recording the violations its document sees."""
    with page_factory() as (page, log):
        page.add_init_script(RECORD_VIOLATIONS)
        response = page.goto(reporting_site)
        assert response is not None
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "'unsafe-inline'" not in policy
        page_ready(page, log)
        yield page, log


def _reports_from(url_part: str, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """The violation reports whose document is ``url_part`` (reports are posted asynchronously)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [r for r in REPORTS if url_part in r.get("document-uri", "")]
        if found:
            return found
        time.sleep(0.1)
    return []


def test_the_page_trains_and_predicts_under_its_csp_without_a_violation(lab: Any) -> None:
    page, log = lab
    meta = page.evaluate("() => document.querySelector('meta[http-equiv=Content-Security-Policy]')?.content")
    assert meta and "default-src 'self'" in meta and "connect-src 'self'" in meta
    page.get_by_test_id("start").click()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=stat-iteration]').textContent) >= 20",
                           timeout=WAIT_MS)
    page.get_by_test_id("samples-all").click()
    page.wait_for_function("() => document.querySelector('[data-testid=prediction-11]').textContent !== ''",
                           timeout=WAIT_MS)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=WAIT_MS)
    assert page.evaluate("() => window.__violations") == []
    page.wait_for_timeout(1000)  # reports are posted asynchronously
    assert REPORTS == [], "violations reported by the page or its worker"
    assert log.console_errors == [], log.summary()


def test_a_worker_gets_its_policy_from_its_own_response(site_url: str) -> None:
    with urlopen(site_url + "workers/worker.js") as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy and "'unsafe-eval'" not in policy.split()


def test_nothing_reaches_another_origin_from_the_page(lab: Any, other_origin: str) -> None:
    page, _ = lab
    before = len(page.evaluate("() => window.__violations"))
    result = page.evaluate("""async (url) => {
        let fetched;
        try { await fetch(url + 'page-fetch'); fetched = 'loaded'; } catch (error) { fetched = 'blocked'; }
        const image = new Image();
        const loaded = new Promise((resolve) => { image.onload = () => resolve('loaded'); image.onerror = () => resolve('blocked'); });
        image.src = url + 'page-image';
        const script = document.createElement('script');
        const ran = new Promise((resolve) => { script.onload = () => resolve('loaded'); script.onerror = () => resolve('blocked'); });
        script.src = url + 'page-script.js';
        document.head.append(script);
        return {fetched, image: await loaded, script: await ran};
    }""", other_origin)
    assert result == {"fetched": "blocked", "image": "blocked", "script": "blocked"}
    violations = page.evaluate("() => window.__violations")[before:]
    assert {v["directive"] for v in violations} >= {"connect-src", "img-src", "script-src-elem"}
    assert _OtherOrigin.hits == [] and page.evaluate("() => window.__pwned") is None


def test_nothing_reaches_another_origin_from_the_worker(lab: Any, other_origin: str) -> None:
    page, _ = lab
    assert page.workers, "the page runs no worker"
    worker = page.workers[0]
    result = worker.evaluate("""async (url) => {
        const violations = [];
        self.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
        let fetched;
        try { await fetch(url + 'worker-fetch'); fetched = 'loaded'; } catch (error) { fetched = 'blocked'; }
        let imported;
        try { await import(url + 'worker-import.js'); imported = 'loaded'; } catch (error) { imported = 'blocked'; }
        let evaluated;
        try { evaluated = (0, eval)('1 + 1'); } catch (error) { evaluated = 'blocked'; }
        await new Promise((resolve) => setTimeout(resolve, 100));  // violation events are queued
        return {fetched, imported, evaluated, violations};
    }""", other_origin)
    assert result["fetched"] == "blocked" and result["imported"] == "blocked"
    assert result["evaluated"] == "blocked", "the worker may eval text: its CSP is missing"
    assert "connect-src" in result["violations"]
    assert _OtherOrigin.hits == []
    # The worker's violations reach the report endpoint: the check of the boot above is not blind.
    assert any(r.get("violated-directive", "").startswith("connect-src") for r in _reports_from("workers/worker.js"))


def _weights_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **MLP(seed=12).get_weights())
    return buffer.getvalue()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_file_named_like_html_with_code_inside_is_shown_as_text(lab: Any, payload: str) -> None:
    page, log = lab
    before = page.evaluate(INJECTED)
    violations = len(page.evaluate("() => window.__violations"))
    errors = len(log.console_errors)
    message = page.get_by_test_id("message")
    code = f"import js\njs.window.__pwned = 5\n{payload}\n".encode()
    name = f"{payload}.npz"
    page.get_by_test_id("import-weights").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": code}])
    expect(message).to_contain_text(f"{name} was not loaded", timeout=WAIT_MS)
    expect(message).to_have_class("message error")
    # A real weights file under such a name is loaded, and its name still shown as text.
    good = f"{payload}-good.npz"
    page.get_by_test_id("import-weights").set_input_files(
        files=[{"name": good, "mimeType": "application/octet-stream", "buffer": _weights_npz()}])
    expect(message).to_contain_text(f"Loaded {good}", timeout=WAIT_MS)
    assert page.evaluate("() => document.querySelector('[data-testid=message]').children.length") == 0
    assert page.evaluate(INJECTED) == before
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => window.__violations")[violations:] == []
    assert log.console_errors[errors:] == [], log.summary()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_setting_typed_as_html_is_refused_as_text(lab: Any, payload: str) -> None:
    page, log = lab
    violations = len(page.evaluate("() => window.__violations"))
    errors = len(log.console_errors)
    field = page.get_by_test_id("learning-rate")
    field.fill(payload)
    field.press("Enter")
    message = page.get_by_test_id("message")
    expect(message).to_have_class("message error", timeout=WAIT_MS)
    expect(field).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("() => document.querySelector('[data-testid=message]').children.length") == 0
    assert page.evaluate(INJECTED) == 0
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => window.__violations")[violations:] == []
    field.fill("0.05")
    field.press("Enter")
    expect(field).not_to_have_attribute("aria-invalid", "true", timeout=WAIT_MS)
