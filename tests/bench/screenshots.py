"""The README's screenshots, light and dark: `python -m tests.bench.screenshots` after `python build.py`.

Not a benchmark (nothing is timed): it lives beside them for their harness (the built site served, the
system Chromium). The page trains a few seconds, evaluates, a 7 and a 3 are drawn, then each theme is
photographed whole at 1400 px wide into docs/screenshot.png and docs/screenshot-dark.png.
"""
from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from .harness import CHROMIUM_ARGS, ROOT, load_build, make_server, wait_ready

SEVEN = [[(0.28, 0.22), (0.72, 0.22), (0.45, 0.82)]]
THREE = [[(0.32, 0.24), (0.45, 0.18), (0.6, 0.2), (0.66, 0.3), (0.6, 0.42), (0.46, 0.47),
          (0.62, 0.52), (0.68, 0.64), (0.6, 0.76), (0.45, 0.8), (0.3, 0.75)]]


def _draw(page, cell: int, strokes: list[list[tuple[float, float]]]) -> None:
    canvas = page.get_by_test_id(f"cell-{cell}")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6)
        page.mouse.up()


def main() -> None:
    """Photograph the page in both themes."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", type=Path, default=os.environ.get("INKLING_CHROMIUM") or load_build().find_chromium())
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = make_server(args.dist)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(args.chromium), args=CHROMIUM_ARGS)
        context = browser.new_context(service_workers="block", viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(server.url)
        wait_ready(page)
        page.get_by_test_id("start").click()
        page.wait_for_timeout(8_000)
        page.get_by_test_id("evaluate").click()
        page.wait_for_timeout(4_000)
        page.get_by_test_id("stop").click()
        page.wait_for_function("document.querySelector('[data-testid=train-state]').textContent === 'idle'")
        _draw(page, 8, SEVEN)
        _draw(page, 9, THREE)
        page.wait_for_timeout(1_500)
        for theme, name in (("light", "screenshot.png"), ("dark", "screenshot-dark.png")):
            if page.evaluate("document.documentElement.dataset.theme") != theme:
                page.get_by_test_id("theme-toggle").click()
                page.wait_for_timeout(2_500)  # the weights picture redraws at its 1 s pace
            page.mouse.move(0, 0)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(args.out / name), full_page=True)
            print(f"wrote {args.out / name}")
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
