"""The views that follow training on one page, in order: the page's main thread while training (it shows
the worker's progress at the pace people read it, and is not woken in every animation frame in
between), the first layer's weights as pictures (one tile per hidden unit, changing while the
network trains) and its response to the tile filled last, the confusion matrix (every test digit
counted by true and read digit, in agreement with the accuracy shown; a count, clicked, puts those very
digits in the grid), the test accuracy and matrix refreshing by themselves while training (nobody
presses Evaluate), predict on the command line reading a drawing as the page does, and, last (it
imports other weights), photos of a written digit opened, dropped and pasted, and junk refused.

One page (the fixture `module_page`) serves them all: each starts from a stopped page whose weights were
never evaluated. No speed is asserted. The frame counts can only be lower on a slower machine, never
higher: they bound how often the page's Python runs, which is what keeps the main thread free for drawing.
"""
from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from test_page import number, set_setting, wait_stat

WAIT_MS = 120_000
PERCENT = re.compile(r"\d+\.\d\d%")
CLASSES, TILES = 10, 12
WINDOW_MS = 3000
FRAMES_PER_S = 60  # a display's animation frames; the page's Python used to run in every one
PICTURE = "() => document.querySelector('[data-testid=weights-view]').toDataURL()"
READ_MATRIX = """() => [...Array(10).keys()].map(r => [...Array(10).keys()].map(c =>
    document.querySelector(`[data-testid=confusion-${r}-${c}]`).textContent))"""


def _python_frames(page: Any) -> int:
    return page.evaluate("() => window.inklingBridge.frameStats.frames")


def test_while_training_the_page_runs_a_few_times_a_second_and_still_shows_everything(module_page: Any) -> None:
    page = module_page
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 50", timeout=120_000)
    iteration, frames = number(page, "stat-iteration"), _python_frames(page)
    predictions = page.evaluate("() => [...document.querySelectorAll('[data-testid^=probs-]')].map(e => e.textContent)")
    page.wait_for_timeout(WINDOW_MS)
    woken = (_python_frames(page) - frames) / (WINDOW_MS / 1000)
    # Progress comes five times a second, weights and chart redraws in every other of those frames.
    assert woken < FRAMES_PER_S / 3, f"the page's Python ran {woken:.0f} times a second while training"
    assert number(page, "stat-iteration") > iteration  # the numbers still move ...
    # ... and the predictions follow the new weights (the grid's percentages change as the network learns).
    page.wait_for_function(
        "before => [...document.querySelectorAll('[data-testid^=probs-]')].map(e => e.textContent).join()"
        " !== before.join()", arg=predictions, timeout=60_000)
    page.get_by_test_id("stop").click()
    page.wait_for_function("() => document.querySelector('[data-testid=train-state]').textContent === 'idle'")
    # Once idle, the last progress is drawn, and the page stops waking.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-loss]').dataset.lastIteration === "
        "document.querySelector('[data-testid=stat-iteration]').textContent.replace(/,/g, '')", timeout=10_000)
    page.wait_for_timeout(500)
    frames = _python_frames(page)
    page.wait_for_timeout(1000)
    assert _python_frames(page) - frames <= 2, "the idle page's Python kept running"


def test_the_weights_view_shows_every_unit_and_changes_while_training(module_page: Any) -> None:
    page = module_page
    view = page.get_by_test_id("weights-view")
    expect(view).to_have_attribute("data-units", "256")
    # The first layer's response to the tile filled last: of 256 units, the 32 it moves most.
    expect(page.get_by_test_id("activation-view")).to_have_attribute("data-of", "256")
    expect(page.get_by_test_id("activation-view")).to_have_attribute("data-units", "32")
    expect(page.get_by_test_id("activation-caption")).to_contain_text("the 32 of its 256 hidden units this drawing moves most")
    assert view.evaluate("c => [c.width, c.height]") == [23 * 29 - 1, 12 * 29 - 1]  # 276 places for 256
    before = page.evaluate(PICTURE)
    page.get_by_test_id("start").click()
    page.wait_for_function(f"before => ({PICTURE})() !== before", arg=before, timeout=60_000, polling=500)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    # Another network, another picture: 32 units.
    set_setting(page, "hidden-size", "32")
    page.get_by_test_id("reset").click()
    expect(view).to_have_attribute("data-units", "32")
    assert view.evaluate("c => [c.width, c.height]") == [8 * 29 - 1, 4 * 29 - 1]
    # The tile filled last, through the new network's 32 units (ink times weight, 28x28 each); emptied,
    # the view says so.
    maps = page.get_by_test_id("activation-view")
    expect(maps).to_have_attribute("data-of", "32")
    expect(maps).to_have_attribute("data-units", "32")
    expect(maps).to_have_attribute("data-side", "28")
    tile = int(maps.get_attribute("data-tile"))
    expect(page.get_by_test_id("activation-caption")).to_contain_text(f"Tile {tile + 1} (test digit #")
    page.get_by_test_id(f"clear-{tile}").click()
    expect(maps).to_have_attribute("data-empty", "")
    expect(maps).to_be_hidden()
    expect(page.get_by_test_id("activation-caption")).to_have_text(f"Tile {tile + 1} is empty: draw a digit or show a test digit.")


def test_the_matrix_counts_every_test_digit_and_a_click_shows_that_pairs_digits(module_page: Any) -> None:
    page = module_page
    card = page.locator("#confusion")
    expect(card).to_have_attribute("data-empty", "")
    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 200", timeout=120_000)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle")
    page.get_by_test_id("evaluate").click()
    expect(page.get_by_test_id("message")).to_contain_text("Test accuracy", timeout=120_000)
    expect(card).not_to_have_attribute("data-empty", "")

    counts = [[int(n) for n in row] for row in page.evaluate(READ_MATRIX)]
    assert sum(map(sum, counts)) == 10_000
    right = sum(counts[r][r] for r in range(CLASSES))
    expect(page.get_by_test_id("stat-test-acc")).to_have_text(f"{100 * right / 10_000:.2f}%")
    for r in range(CLASSES):
        expect(page.get_by_test_id(f"class-acc-{r}")).to_have_text(f"{100 * counts[r][r] / sum(counts[r]):.1f}%")

    # The pair the network confuses most: its digits fill the grid, each labelled r and read as c.
    true, read = max(((r, c) for r in range(CLASSES) for c in range(CLASSES) if r != c),
                     key=lambda pair: counts[pair[0]][pair[1]])
    shown = min(TILES, counts[true][read])
    assert shown > 0, counts
    page.get_by_test_id(f"confusion-{true}-{read}").click()
    expect(page.get_by_test_id("message")).to_contain_text(
        f"{shown} of the {counts[true][read]:,} test digits that are {true}, read as {read}")
    for i in range(TILES):
        if i < shown:
            expect(page.get_by_test_id(f"truth-{i}")).to_contain_text(f"label {true}")
            expect(page.get_by_test_id(f"prediction-{i}")).to_have_text(str(read))
            expect(page.get_by_test_id(f"card-{i}")).to_have_class("cell wrong")
        else:
            expect(page.get_by_test_id(f"prediction-{i}")).to_have_text("")
    # A count of zero has nothing to show.
    zero = next(((r, c) for r in range(CLASSES) for c in range(CLASSES) if counts[r][c] == 0), None)
    if zero is not None:
        expect(page.get_by_test_id(f"confusion-{zero[0]}-{zero[1]}")).to_be_disabled()

    # New weights were never evaluated: the matrix goes, until the next Evaluate.
    page.get_by_test_id("reset").click()
    expect(card).to_have_attribute("data-empty", "")
    expect(page.get_by_test_id("stat-test-acc")).to_have_text("–")


def test_the_test_accuracy_and_matrix_refresh_while_training(module_page: Any) -> None:
    page = module_page
    expect(page.get_by_test_id("stat-test-acc")).to_have_text("–")
    page.get_by_test_id("start").click()
    expect(page.locator("#confusion")).not_to_have_attribute("data-empty", "", timeout=WAIT_MS)
    expect(page.get_by_test_id("stat-test-acc")).to_have_text(PERCENT)
    first, iteration = page.evaluate(READ_MATRIX), number(page, "stat-iteration")
    assert sum(int(n) for row in first for n in row) == 10_000
    # Another refresh, of weights trained further: other counts (the network keeps learning).
    page.wait_for_function(f"before => JSON.stringify(({READ_MATRIX})()) !== JSON.stringify(before)",
                           arg=first, timeout=WAIT_MS)
    assert number(page, "stat-iteration") > iteration
    assert page.get_by_test_id("train-state").text_content() == "training"
    # The accuracy chart's test curve has points: its last series counts values.
    page.wait_for_function(
        "() => Number((document.querySelector('[data-testid=chart-acc]').dataset.values || '0').split(',').pop()) > 0",
        timeout=WAIT_MS)
    page.get_by_test_id("stop").click()


def test_predict_on_the_command_line_reads_a_drawing_as_the_page_does(module_page: Any, tmp_path: Any) -> None:
    """One drawing through both: the page's grid, and `python -m inkling predict` on its pixels (as
    .npy, ink bright) and on a PNG of the canvas (dark ink, as a scan), with the page's weights."""
    import json
    import os
    import subprocess
    import sys
    from base64 import b64decode
    from pathlib import Path

    import numpy as np
    from test_faults_persistence import exported_weights
    from test_page import DIGITS, draw, wait_predictions_settle

    page = module_page
    page.get_by_test_id("clear-1").click()
    draw(page, 1, DIGITS["7"])
    wait_predictions_settle(page)
    shown = [page.get_by_test_id("prediction-1").text_content(),
             re.findall(r"(\d)\s*(\d+)%", page.get_by_test_id("probs-1").inner_text())]
    exported_weights(page, tmp_path)
    weights = next(tmp_path.glob("*.npz"))
    size, alpha, png = page.evaluate("""() => {
        const canvas = document.querySelector('[data-testid=cell-1]');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        return [canvas.width, Array.from(data.filter((_, i) => i % 4 === 3)), canvas.toDataURL('image/png')];
    }""")
    np.save(tmp_path / "drawing.npy", np.array(alpha, np.uint8).reshape(size, size))
    (tmp_path / "drawing.png").write_bytes(b64decode(png.split(",", 1)[1]))
    py = Path(__file__).resolve().parents[2] / "py"  # this checkout's inkling, whatever pip installed
    out = subprocess.run([sys.executable, "-m", "inkling", "predict", "--weights", str(weights), "--json",
                          str(tmp_path / "drawing.npy"), str(tmp_path / "drawing.png")],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(py)})
    assert out.returncode == 0, out.stderr
    for line in out.stdout.splitlines():
        answer = json.loads(line)
        assert str(answer["digit"]) == shown[0], (line, shown)
        percents = {str(d): f"{100 * answer['probabilities'][d]:.0f}" for d in range(10)}
        assert [(d, percents[d]) for d, _ in shown[1]] == shown[1], (line, shown)


def _photo_of_a_seven(path: Any, fmt: str) -> None:
    """A phone-like photo: a 7 in blue-black pen on paper lit from one side, with grain, 480x360."""
    import numpy as np
    from PIL import Image, ImageDraw

    ink = Image.new("L", (480, 360), 0)
    pen = ImageDraw.Draw(ink)
    pen.line([(170, 90), (300, 84), (226, 290)], fill=255, width=16, joint="curve")
    strokes = np.asarray(ink, np.float64) / 255
    rng = np.random.default_rng(7)
    x = np.linspace(0, 1, 480)[None, :]
    paper = 0.93 - 0.3 * x + rng.normal(0, 0.015, (360, 480))  # a shadow falling across the right side
    grey = paper * (1 - 0.7 * strokes)
    rgb = np.stack([grey * 0.85, grey * 0.9, grey], axis=-1)
    Image.fromarray(np.clip(rgb * 255, 0, 255).astype(np.uint8), "RGB").save(path, fmt)


def _tile_of(message: str) -> int:
    return int(re.search(r"Tile (\d+) shows", message).group(1)) - 1


def test_a_photo_of_a_written_digit_is_read_and_junk_is_refused(module_page: Any, tmp_path: Any, dist_dir: Any) -> None:
    """A photo opened, dropped or pasted becomes a tile's drawing and is read; a file that is no picture,
    or an empty one, is refused by name and no tile changes."""
    import base64

    from test_page import DIGITS, draw, import_weights_and_expect, wait_predictions_settle

    page = module_page
    weights = _trained_mlp_file(dist_dir / "data", tmp_path)
    page.get_by_test_id("clear-all").click()
    import_weights_and_expect(page, weights, "128", wait_predictions_settle(page))
    jpeg, png = tmp_path / "seven.jpg", tmp_path / "seven.png"
    _photo_of_a_seven(jpeg, "JPEG")
    _photo_of_a_seven(png, "PNG")
    message = page.get_by_test_id("message")

    page.get_by_test_id("open-image").set_input_files(str(jpeg))  # opened: the first empty tile
    expect(message).to_contain_text("Tile 1 shows seven.jpg as a drawing")
    expect(page.get_by_test_id("prediction-0")).to_have_text("7")
    expect(page.get_by_test_id("truth-0")).to_have_text("your drawing")  # taught like a drawing
    expect(page.get_by_test_id("teach-0")).to_be_enabled()

    data = base64.b64encode(png.read_bytes()).decode()
    page.evaluate("""([data, testid]) => {  // dropped on tile 5
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'seven.png', {type: 'image/png'}));
        const canvas = document.querySelector(`[data-testid=${testid}]`);
        canvas.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
        canvas.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", [data, "cell-4"])
    expect(message).to_contain_text("Tile 5 shows seven.png as a drawing")
    expect(page.get_by_test_id("prediction-4")).to_have_text("7")

    page.evaluate("""data => {  // pasted: the first empty tile, tile 2
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'image.png', {type: 'image/png'}));
        document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
    }""", data)
    expect(message).to_contain_text("Tile 2 shows image.png as a drawing")
    expect(page.get_by_test_id("prediction-1")).to_have_text("7")

    before = wait_predictions_settle(page)
    (tmp_path / "junk.png").write_text("this is not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    for name, said in (("junk.png", "it is not a picture this browser can read"), ("empty.png", "the file is empty")):
        page.get_by_test_id("open-image").set_input_files(str(tmp_path / name))
        expect(message).to_contain_text(f"{name} was not used (no tile changed): {said}")
        expect(message).to_have_class("message error")
    assert wait_predictions_settle(page) == before
    draw(page, 2, DIGITS["1"])  # drawing goes on as before
    expect(page.get_by_test_id("prediction-2")).not_to_have_text("")


def _trained_mlp_file(data: Any, folder: Any) -> Any:
    """A 784-128-10 MLP trained in CPython on 10,000 of the site's training digits (two epochs), as .npz."""
    from pathlib import Path

    import numpy as np

    from inkling.data.blocks import Manifest, decode_block
    from inkling.network.mlp import MLP
    from inkling.network.optim import make_optimizer
    from inkling.network.weights_io import weights_to_npz

    manifest = Manifest.from_json((data / "manifest.json").read_bytes())
    blocks = [decode_block((data / e.file).read_bytes(), e) for e in manifest.train[:10]]
    x = np.concatenate([b.pixels for b in blocks]).astype(np.float32) / 255
    y = np.concatenate([b.labels for b in blocks]).astype(np.int64)
    model, optimizer = MLP((784, 128, 10), seed=0), make_optimizer("momentum", 0.05)
    for _ in range(2):
        for i in range(0, len(y), 32):
            optimizer.step(model.params, model.loss_and_grads(x[i:i + 32], y[i:i + 32]).grads)
    path = Path(folder) / "trained.npz"
    path.write_bytes(weights_to_npz(model.get_weights()))
    return path
