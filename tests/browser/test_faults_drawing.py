"""Drawing stress while training runs: over a thousand real input events (about 9,000 in the long form,
`--run-slow`): mouse, pen, one-finger and two-finger touch through CDP, two fingers on two tiles and
two on one tile. No console error, no stroke lost (ink along the centre line of every stroke),
predictions appear, and the page keeps painting: a requestAnimationFrame counter advances, and its
longest gap is measured and printed. Each event is one CDP round trip (about 17 ms here), so the
long form takes about 150 s and the short one about 20 s.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

WAIT_MS = 120_000
# (strokes per tile, input events along each stroke): strokes far enough apart (20 canvas px or more)
# that a lost one cannot hide under another. Short form, then long form.
SHAPES = {False: (8, 20), True: (12, 120)}

RAF_PROBE = """() => {
  const probe = { frames: 0, maxGap: 0, last: performance.now() };
  const tick = (now) => {
    probe.maxGap = Math.max(probe.maxGap, now - probe.last);
    probe.last = now;
    probe.frames += 1;
    if (!probe.stopped) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__raf = probe;
}"""

# For each stroke: the alpha of the tile's canvas at points along its centre line.
INK_ALONG = """([testid, strokes]) => {
  const canvas = document.querySelector(`[data-testid="${testid}"]`);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  return strokes.map(([[x0, y0], [x1, y1]]) => {
    const alphas = [];
    for (let i = 0; i <= 20; i++) {
      const x = Math.round((x0 + (x1 - x0) * i / 20) * (canvas.width - 1));
      const y = Math.round((y0 + (y1 - y0) * i / 20) * (canvas.height - 1));
      alphas.push(data[(y * canvas.width + x) * 4 + 3]);
    }
    return Math.min(...alphas);
  });
}"""


def _row(k: int, rows: int, x0: float = 0.08, x1: float = 0.92) -> tuple[tuple[float, float], tuple[float, float]]:
    y = 0.1 + 0.8 * k / (rows - 1)
    return (x0, y), (x1, y)


def _lerp(stroke: Any, i: int, n: int) -> tuple[float, float]:
    (x0, y0), (x1, y1) = stroke
    # A little wobble across the line's direction would hide a lost stroke under its neighbour, so none.
    return x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n


class _Log:
    """Console errors of the page (what page_ready and the assertions read)."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []

    def summary(self) -> str:
        return "console errors:\n" + "\n".join(self.console_errors[-20:])


@pytest.fixture(scope="module")
def lab(browser: Any, site_url: str, page_ready: Any) -> Iterator[tuple[Any, Any, Any]]:
    """A touch-capable page, tall enough to show every tile, ready and training."""
    context = browser.new_context(has_touch=True, viewport={"width": 1280, "height": 2400})
    log = _Log()
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and log.console_errors.append(m.text))
    page.on("pageerror", lambda error: log.console_errors.append(f"uncaught: {error}"))
    try:
        page.goto(site_url)
        page_ready(page, log)
        page.get_by_test_id("clear-all").click()
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("train-state")).to_have_text("training", timeout=WAIT_MS)
        yield page, log, context.new_cdp_session(page)
    finally:
        context.close()


def _box(page: Any, cell: int) -> dict[str, float]:
    box = page.get_by_test_id(f"cell-{cell}").bounding_box()
    assert box and box["y"] + box["height"] < 2400, f"cell-{cell} is not inside the viewport: {box}"
    return box


def _at(box: dict[str, float], point: tuple[float, float]) -> tuple[float, float]:
    return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]


def _assert_inked(page: Any, cell: int, strokes: list[Any], how: str) -> None:
    alphas = page.evaluate(INK_ALONG, [f"cell-{cell}", [list(map(list, s)) for s in strokes]])
    lost = [i for i, alpha in enumerate(alphas) if alpha < 128]
    assert not lost, f"{how}: strokes {lost} of {len(strokes)} on cell {cell} have gaps (min alpha {alphas})"


def _mouse_like(cdp: Any, box: dict[str, float], strokes: list[Any], pointer: str, moves: int) -> int:
    """Strokes with CDP mouse events of pointerType `pointer` (mouse or pen); returns events sent."""
    sent = 0
    for stroke in strokes:
        x, y = _at(box, stroke[0])
        cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "pointerType": pointer})
        cdp.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x, "y": y, "button": "left",
                                              "buttons": 1, "clickCount": 1, "pointerType": pointer})
        for i in range(1, moves + 1):
            x, y = _at(box, _lerp(stroke, i, moves))
            cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "left",
                                                  "buttons": 1, "pointerType": pointer})
        cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x, "y": y, "button": "left",
                                              "buttons": 0, "clickCount": 1, "pointerType": pointer})
        sent += moves + 3
    return sent


def _touch(cdp: Any, fingers: list[tuple[dict[str, float], list[Any]]], moves: int) -> int:
    """Each finger (a tile's box and its strokes) draws its k-th stroke at the same time as the others."""
    sent = 0
    for k in range(len(fingers[0][1])):
        def points(i: int) -> list[dict[str, float]]:
            return [{"x": x, "y": y, "id": f, "radiusX": 1, "radiusY": 1, "force": 1}
                    for f, (box, strokes) in enumerate(fingers)
                    for x, y in [_at(box, _lerp(strokes[k], i, moves))]]

        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0)})
        for i in range(1, moves + 1):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(i)})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        sent += (moves + 2) * len(fingers)
    return sent


def test_a_thousand_input_events_while_training_lose_no_stroke_and_keep_the_page_live(
        lab: Any, long_form: bool) -> None:
    page, log, cdp = lab
    rows, moves = SHAPES[long_form]
    strokes = [_row(k, rows) for k in range(rows)]
    left = [_row(k, rows, 0.06, 0.44) for k in range(rows)]
    right = [_row(k, rows, 0.56, 0.94) for k in range(rows)]
    boxes = {cell: _box(page, cell) for cell in range(6)}
    iteration = int(page.get_by_test_id("stat-iteration").text_content() or 0)
    page.evaluate(RAF_PROBE)

    sent = {
        "mouse (cell 0)": _mouse_like(cdp, boxes[0], strokes, "mouse", moves),
        "pen (cell 1)": _mouse_like(cdp, boxes[1], strokes, "pen", moves),
        "one finger (cell 2)": _touch(cdp, [(boxes[2], strokes)], moves),
        "two fingers on cells 3 and 4": _touch(cdp, [(boxes[3], strokes), (boxes[4], strokes)], moves),
        "two fingers on cell 5": _touch(cdp, [(boxes[5], left), (boxes[5], right)], moves),
    }
    probe = page.evaluate("() => { window.__raf.stopped = true; return window.__raf; }")
    print(f"\ninput events sent: {sent} (total {sum(sent.values())}); animation frames during the stress: "
          f"{probe['frames']}, longest gap between frames: {probe['maxGap']:.0f} ms")

    _assert_inked(page, 0, strokes, "mouse")
    _assert_inked(page, 1, strokes, "pen")
    _assert_inked(page, 2, strokes, "one finger")
    _assert_inked(page, 3, strokes, "two fingers, first tile")
    _assert_inked(page, 4, strokes, "two fingers, second tile")
    _assert_inked(page, 5, left + right, "two fingers on one tile")
    untouched = page.evaluate(INK_ALONG, ["cell-6", [list(map(list, s)) for s in strokes]])
    assert max(untouched) == 0, "ink appeared on a tile nobody drew on"

    assert probe["frames"] > 10, "the page stopped painting while it took the input"
    for cell in range(6):
        expect(page.get_by_test_id(f"truth-{cell}")).to_have_text("your drawing")
        expect(page.get_by_test_id(f"prediction-{cell}")).to_have_text(re.compile(r"^[0-9]$"), timeout=WAIT_MS)
    expect(page.get_by_test_id("prediction-6")).to_have_text("")
    # Training went on throughout, and the drawings' thumbnails hold the drawn input.
    expect(page.get_by_test_id("train-state")).to_have_text("training")
    page.wait_for_function(f"() => Number(document.querySelector('[data-testid=stat-iteration]').textContent) > {iteration + 10}",
                           timeout=WAIT_MS)
    assert page.evaluate("""() => { const t = document.querySelector('[data-testid=thumb-5]');
        return t.getContext('2d').getImageData(0, 0, 28, 28).data.some((v, i) => i % 4 === 3 && v > 0); }""")
    assert log.console_errors == [], log.summary()
