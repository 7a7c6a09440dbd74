"""Several hidden layers, augmentation and the recipes, from the page: what a person sets is what trains."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from playwright.sync_api import expect
from test_faults_persistence import exported_weights
from inkling.data.blocks import Manifest, decode_block
from test_page import (CELLS, DIGITS, TRAIN_TIMEOUT_MS, WAIT_MS, draw, import_weights_and_expect, number, set_setting,
                       wait_predictions_settle, wait_stat)

MAPS = "() => document.querySelector('[data-testid=activation-view]').toDataURL()"


def _test_digit(dist_dir: Path, index: int) -> np.ndarray:
    """Test digit ``index`` as the page shows it: 784 values in [0, 1], from the site's own blocks."""
    manifest = Manifest.from_json((dist_dir / "data" / "manifest.json").read_bytes())
    entry = manifest.test[index // manifest.test[0].count]
    block = decode_block((dist_dir / "data" / entry.file).read_bytes(), entry)
    return block.pixels[index % manifest.test[0].count].astype(np.float32) / 255


def _onnx_reads_the_grid_as_the_page_does(page: Any, tmp_path: Path, dist_dir: Path) -> None:
    """Download ONNX; onnxruntime reads each test digit in the grid as the page shows it (digit and percents)."""
    import onnxruntime

    with page.expect_download() as info:
        page.get_by_test_id("export-onnx").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".onnx"
    expect(page.get_by_test_id("message")).to_contain_text(f"Exported {path.name}: ONNX opset 13")
    session = onnxruntime.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    checked = 0
    for cell in range(CELLS):
        badge = re.match(r"test #(\d+)", page.get_by_test_id(f"truth-{cell}").text_content() or "")
        if badge is None or not page.get_by_test_id(f"truth-{cell}").is_visible():
            continue
        x = _test_digit(dist_dir, int(badge.group(1))).reshape(1, 1, 28, 28)
        probs = session.run(["probabilities"], {"digits": x})[0][0]
        shown = re.findall(r"(\d)\s*(\d+)%", page.get_by_test_id(f"probs-{cell}").inner_text())
        assert page.get_by_test_id(f"prediction-{cell}").text_content() == str(int(probs.argmax()))
        assert [(d, f"{100 * probs[int(d)]:.0f}") for d, _ in shown] == shown, (cell, probs, shown)
        checked += 1
    assert checked >= 4


def _maps_version(page: Any) -> int:
    return int(page.get_by_test_id("activation-view").get_attribute("data-version"))


def _expect_maps_of_a_drawing(page: Any, cell: int, digit: str, units: str, side: str) -> str:
    """Draw ``digit`` on tile ``cell``: the activation view turns to it; returns its picture."""
    view = page.get_by_test_id("activation-view")
    draw(page, cell, DIGITS[digit])
    expect(view).to_have_attribute("data-tile", str(cell), timeout=WAIT_MS)
    expect(view).to_have_attribute("data-units", units)
    expect(view).to_have_attribute("data-side", side)
    expect(view).to_be_visible()
    expect(page.get_by_test_id("activation-caption")).to_contain_text(f"Tile {cell + 1} (your drawing)")
    return page.evaluate(MAPS)


def _query(page: Any) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(page.url).query))


def _stop(page: Any) -> None:
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("train-state")).to_have_text("idle", timeout=WAIT_MS)


def test_the_best_recipe_is_two_clicks_away_and_trains_with_augmentation(module_page: Any) -> None:
    page = module_page
    expect(page.get_by_test_id("stat-augment")).to_have_text("off")
    set_setting(page, "learning-rate", "0.3")  # the recipe replaces what was set before
    page.get_by_test_id("seed").fill("12")
    page.get_by_test_id("recipe-best").click()  # click one
    message = page.get_by_test_id("message")
    expect(message).to_contain_text("Press Start")
    expect(message).to_contain_text("seed 12")
    for testid, text in {"hidden": "512", "augment": "on", "lrate": "0.05", "lr-decay": "0.6",
                         "batch-size": "32", "optimizer": "momentum", "seed": "12"}.items():
        expect(page.get_by_test_id(f"stat-{testid}")).to_have_text(text)
    expect(page.get_by_test_id("augment")).to_be_checked()
    page.wait_for_function("() => new URLSearchParams(location.search).get('augment') === 'on'")
    assert {k: _query(page)[k] for k in ("hidden-size", "augment", "seed")} == {
        "hidden-size": "512", "augment": "on", "seed": "12"}

    page.get_by_test_id("start").click()  # click two
    wait_stat(page, "stat-iteration", "v >= 200", timeout=TRAIN_TIMEOUT_MS)
    wait_stat(page, "stat-loss", "v < 1.0", timeout=TRAIN_TIMEOUT_MS)

    # Augmentation off and on again while training, from its box: the worker follows.
    page.get_by_test_id("augment").uncheck()
    expect(page.get_by_test_id("stat-augment")).to_have_text("off")
    page.wait_for_function("() => new URLSearchParams(location.search).get('augment') === 'off'")
    page.get_by_test_id("augment").check()
    expect(page.get_by_test_id("stat-augment")).to_have_text("on")
    expect(page.get_by_test_id("train-state")).to_have_text("training")

    # The default recipe takes it all back.
    page.get_by_test_id("recipe-default").click()
    for testid, text in {"hidden": "256", "augment": "off", "lr-decay": "0.6"}.items():
        expect(page.get_by_test_id(f"stat-{testid}")).to_have_text(text)
    expect(page.get_by_test_id("augment")).not_to_be_checked()
    if page.get_by_test_id("train-state").text_content() == "training":
        _stop(page)  # the next test starts from a stopped page


def test_a_deeper_network_trains_and_its_weights_export_and_import(module_page: Any, tmp_path: Path) -> None:
    page = module_page
    set_setting(page, "hidden-size", "64, 32")
    expect(page.get_by_test_id("hidden-note")).to_contain_text("Hidden layers 64,32")
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("stat-hidden")).to_have_text("64,32")
    expect(page.get_by_test_id("message")).to_contain_text("hidden layers 64,32")
    page.wait_for_function("() => new URLSearchParams(location.search).get('hidden-size') === '64,32'")

    page.get_by_test_id("start").click()
    wait_stat(page, "stat-samples-seen", "v >= 60000", timeout=TRAIN_TIMEOUT_MS)  # one epoch
    _stop(page)
    shown = page.get_by_test_id("stat-test-acc").text_content()
    page.get_by_test_id("evaluate").click()
    page.wait_for_function(
        "shown => document.querySelector('[data-testid=\"stat-test-acc\"]').textContent !== shown",
        arg=shown, timeout=TRAIN_TIMEOUT_MS)
    assert number(page, "stat-test-acc") >= 90.0  # it learnt: a two-layer net after one epoch

    weights = exported_weights(page, tmp_path)
    assert {k: v.shape for k, v in weights.items()} == {
        "W1": (784, 64), "b1": (64,), "W2": (64, 32), "b2": (32,), "W3": (32, 10), "b3": (10,)}
    path = next(tmp_path.glob("*.npz"))
    assert path.name == "inkling-784-64-32-10.npz"
    predicted = wait_predictions_settle(page)

    set_setting(page, "hidden-size", "16")
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("stat-hidden")).to_have_text("16")
    import_weights_and_expect(page, path, "64,32", predicted)

    set_setting(page, "hidden-size", "64,,32")  # refused where it was typed, the network kept
    expect(page.get_by_test_id("hidden-size")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("message")).to_contain_text("not a list of layer widths")


def test_a_convnet_typed_in_the_settings_trains_shows_its_filters_and_exports_and_imports(
        module_page: Any, tmp_path: Path, dist_dir: Path) -> None:
    page = module_page
    set_setting(page, "hidden-size", "C8:5, p2, 32")
    expect(page.get_by_test_id("hidden-note")).to_contain_text("Hidden layers c8:5,p2,32")
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("stat-hidden")).to_have_text("c8:5,p2,32")
    expect(page.get_by_test_id("message")).to_contain_text("hidden layers c8:5,p2,32")
    page.wait_for_function("() => new URLSearchParams(location.search).get('hidden-size') === 'c8:5,p2,32'")

    page.get_by_test_id("start").click()
    wait_stat(page, "stat-iteration", "v >= 150", timeout=TRAIN_TIMEOUT_MS)
    wait_stat(page, "stat-loss", "v < 1.0", timeout=TRAIN_TIMEOUT_MS)
    view = page.get_by_test_id("weights-view")
    expect(view).to_have_attribute("data-units", "8", timeout=WAIT_MS)  # the 8 filters, as 5x5 pictures
    first_version = int(view.get_attribute("data-version"))
    page.wait_for_function("v => +document.querySelector('[data-testid=weights-view]').dataset.version > v",
                           arg=first_version, timeout=WAIT_MS)  # and they change as it learns
    # Each filter's activation map of the digit just drawn: 8 maps of 24x24 (5x5 'valid' on 28x28) ...
    seven = _expect_maps_of_a_drawing(page, 9, "7", "8", "24")
    expect(page.get_by_test_id("activation-caption")).to_contain_text("8 filters of 5×5")
    zero = _expect_maps_of_a_drawing(page, 10, "0", "8", "24")
    assert zero != seven  # ... another drawing, other maps
    version = _maps_version(page)  # ... and as the filters learn, the same drawing's maps change
    page.wait_for_function(f"a => +document.querySelector('[data-testid=activation-view]').dataset.version > a.v "
                           f"&& ({MAPS})() !== a.before", arg={"v": version, "before": zero}, timeout=WAIT_MS)
    _stop(page)

    weights = exported_weights(page, tmp_path)
    assert str(weights.pop("network")) == "c8:5,p2,32"
    assert {k: v.shape for k, v in weights.items()} == {
        "W1": (8, 1, 5, 5), "b1": (8,), "W2": (12 * 12 * 8, 32), "b2": (32,), "W3": (32, 10), "b3": (10,)}
    path = next(tmp_path.glob("*.npz"))
    assert path.name == "inkling-784-c8_5-p2-32-10.npz"
    predicted = wait_predictions_settle(page)
    _onnx_reads_the_grid_as_the_page_does(page, tmp_path, dist_dir)

    set_setting(page, "hidden-size", "16")
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("stat-hidden")).to_have_text("16")
    import_weights_and_expect(page, path, "c8:5,p2,32", predicted)

    # Too large: refused where typed with its size, or by the worker at this batch size; the page goes on.
    set_setting(page, "hidden-size", "c256:3:same,c256:3:same,128")
    expect(page.get_by_test_id("hidden-size")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("message")).to_contain_text("has 26,284,170 weights; the page holds at most")
    set_setting(page, "batch-size", "4096")
    expect(page.get_by_test_id("stat-batch-size")).to_have_text("4096")
    set_setting(page, "hidden-size", "c64:3:same,c64:3:same,16")
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("message")).to_contain_text("at batch size 4096 needs about")
    expect(page.get_by_test_id("stat-hidden")).to_have_text("c8:5,p2,32")
    set_setting(page, "batch-size", "32")
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("train-state")).to_have_text("training", timeout=WAIT_MS)
    _stop(page)


def test_the_convnet_recipe_is_two_clicks_away(module_page: Any) -> None:
    page = module_page
    page.get_by_test_id("recipe-convnet").click()  # click one
    expect(page.get_by_test_id("message")).to_contain_text("Press Start")
    for testid, text in {"hidden": "c16:5,p2,c32:5,p2,128", "augment": "on", "lrate": "0.03", "batch-size": "32",
                         "optimizer": "momentum"}.items():
        expect(page.get_by_test_id(f"stat-{testid}")).to_have_text(text)
    page.wait_for_function("() => new URLSearchParams(location.search).get('hidden-size') === 'c16:5,p2,c32:5,p2,128'")
    page.get_by_test_id("start").click()  # click two
    wait_stat(page, "stat-iteration", "v >= 60", timeout=TRAIN_TIMEOUT_MS)
    wait_stat(page, "stat-loss", "v < 2.0", timeout=TRAIN_TIMEOUT_MS)
    expect(page.get_by_test_id("weights-view")).to_have_attribute("data-units", "16", timeout=WAIT_MS)
    _stop(page)


def test_a_link_turns_augmentation_on_for_a_convnet(
        page_factory: Callable[[], contextlib.AbstractContextManager], page_ready: Callable[..., None],
        site_url: str) -> None:
    with page_factory() as (page, log):
        page.goto(site_url + "?augment=on&hidden-size=c8:5,p2,32")  # a convnet from a link
        page_ready(page, log)
        expect(page.get_by_test_id("stat-augment")).to_have_text("on")
        expect(page.get_by_test_id("stat-hidden")).to_have_text("c8:5,p2,32")
        expect(page.get_by_test_id("augment")).to_be_checked()
        page.get_by_test_id("start").click()
        wait_stat(page, "stat-iteration", "v >= 30", timeout=TRAIN_TIMEOUT_MS)
        _stop(page)
    # A bad value (augment=sometimes) is refused by name: test_page_link.py's link carries one.
