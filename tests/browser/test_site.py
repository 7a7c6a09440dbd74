"""The built site loads its whole runtime from dist/, runs Python, and never leaves its origin."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

NUMPY_WHEEL = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"


@pytest.fixture(scope="module")
def loaded_site(page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
                site_url: str) -> Iterator[tuple[Any, Any]]:
    """One load of the site, waited until ready and until the network is quiet (shared by the tests)."""
    with page_factory() as (page, log):
        page.goto(site_url)
        page_ready(page, log)
        page.wait_for_load_state("networkidle")
        yield page, log


def test_page_loads_pyodide_pyscript_and_numpy_from_dist_and_runs_python(
        loaded_site: tuple[Any, Any], site_url: str) -> None:
    page, log = loaded_site
    paths = {urlsplit(url).path for url in log.requests}
    expected = {
        "/pyscript/core.js",
        "/pyodide/pyodide.mjs",
        "/pyodide/pyodide.asm.wasm",
        "/pyodide/python_stdlib.zip",
        "/pyodide/pyodide-lock.json",
        f"/pyodide/{NUMPY_WHEEL}",
    }
    assert expected <= paths, f"not loaded from dist/: {sorted(expected - paths)}"
    # PyScript hands its packages straight to Pyodide ("packages_cache": "passthrough"): micropip and
    # packaging, which it would otherwise load first to install them, stay on the shelf.
    assert not {p for p in paths if p.startswith(("/pyodide/micropip-", "/pyodide/packaging-"))}
    assert any(path.startswith("/wheels/inkling-") for path in paths), "the inkling wheel was not loaded"
    # "ready" is written by the page's Python after importing numpy and inkling.
    assert page.locator("[data-testid=status]").text_content().strip() == "ready"
    assert log.failed_requests == [], log.summary()
    assert log.console_errors == [], log.summary()


def test_no_request_leaves_the_sites_own_origin(loaded_site: tuple[Any, Any], site_url: str) -> None:
    _page, log = loaded_site
    origin = urlsplit(site_url)
    assert origin.hostname == "127.0.0.1"
    assert log.requests, "no request was recorded at all: the recorder is broken"
    assert f"{site_url}pyodide/pyodide.asm.wasm" in log.requests
    # data: and blob: URLs are made in the page itself; everything else must be our server.
    off_origin = [url for url in log.requests
                  if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != origin.netloc]
    assert off_origin == []
