"""Installable like an app: the manifest names the app and its icons (fetched, PNG, of the sizes it
declares), the service worker controls the page, and Chromium itself finds nothing that stops it
installing (its own installability check, `Page.getInstallabilityErrors`)."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from test_offline import open_kept

WAIT_MS = 180_000
READ_ICONS = """async manifest => Promise.all(manifest.icons.map(async icon => {
    const response = await fetch(new URL(icon.src, new URL('manifest.webmanifest', location.href)));
    const bitmap = await createImageBitmap(await response.blob());
    return [icon.src, response.status, response.headers.get('content-type'), `${bitmap.width}x${bitmap.height}`];
}))"""


def test_the_site_installs_as_an_app(page_factory: Callable[..., contextlib.AbstractContextManager],
                                     page_ready: Callable[..., None], site_url: str) -> None:
    with page_factory(service_workers="allow") as (page, log):
        open_kept(page, log, site_url, page_ready)
        page.reload()  # the first visit installed the service worker; from now on it controls the page
        page_ready(page, log, timeout_ms=WAIT_MS)
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
