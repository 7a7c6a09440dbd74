"""drawn_digits: how well each recipe, with augmentation and without, reads digits drawn with a pen,
overall and per style MNIST's writers rarely use (`drawn_strokes.STYLES`: a 1 with a flag and a
base, a 7 with a bar, open and closed 4s, a curly 9, slanted, very thick and very thin strokes,
small off-centre digits).

Trains with the command line (`python -m inkling train --recipe R [--no-]augment --seed S --save`),
then reads synthetic pen drawings (`drawn_strokes`: tilted, slanted, squeezed, thin and bold,
through the page's own preprocessing) and the MNIST test set with the saved weights. CPython only:
the page trains the same way, and this measures what was learnt, not how fast.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .harness import ROOT, Bench, summary

NAME = "drawn_digits"
WAYS = (("default", False), ("default", True), ("best", False), ("best", True), ("convnet", True))


def _train(recipe: str, augment: bool, seed: int, epochs: float | None, out: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "py"), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "inkling", "train", "--recipe", recipe, "--augment" if augment else "--no-augment",
               "--seed", str(seed), "--save", str(out), "--json"]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(done.stdout)


def _accuracy(weights: Path, x: np.ndarray, y: np.ndarray) -> float:
    from inkling.network.models import network_from_weights
    from inkling.network.weights_io import weights_from_npz

    model = network_from_weights(*weights_from_npz(weights.read_bytes()))
    return float(np.mean(model.predict(x) == y))


def run(bench: Bench) -> dict[str, Any]:
    """Each recipe trained with and without augmentation, then read drawn digits."""
    if str(ROOT / "py") not in sys.path:
        sys.path.insert(0, str(ROOT / "py"))  # the drawings go through the page's own preprocessing
    from .drawn_strokes import drawn_digits, styled_digits

    epochs = bench.settings.pick(1, None)  # quick: one epoch each; else each recipe's own length
    seeds = range(bench.settings.long_runs)
    x, y = drawn_digits()
    styles = styled_digits()
    result: dict[str, Any] = {"drawings": len(y), "styled_drawings": sum(len(sy) for _, sy in styles.values())}
    with tempfile.TemporaryDirectory() as folder:
        for recipe, augment in WAYS:
            drawn, test = [], []
            by_style: dict[str, list[float]] = {name: [] for name in styles}
            for seed in seeds:
                out = Path(folder) / f"{recipe}-{augment}-{seed}.npz"
                trained = _train(recipe, augment, seed, epochs, out)
                drawn.append(_accuracy(out, x, y))
                test.append(trained["test_accuracy"])
                for name, (sx, sy) in styles.items():
                    by_style[name].append(_accuracy(out, sx, sy))
            key = f"{recipe}_{'augmented' if augment else 'plain'}"
            result[key] = {"drawn_acc": summary(drawn, "acc"), "test_acc": summary(test, "acc"),
                           "styles_acc": {name: summary(accs, "acc") for name, accs in by_style.items()}}
    result["note"] = (f"{len(y)} synthetic pen drawings ({', '.join(str(d) for d in range(10))}; 1-2 stroke templates "
                      f"each, tilted up to 15 degrees, slanted, squeezed, pen 5-12 px on a 112 px canvas), read "
                      f"after the page's preprocessing; seeds {list(seeds)}; "
                      f"{'1 epoch each' if epochs else 'each recipe its own epochs'}")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table: each way overall, then each style for the default and the convnet."""
    lines = [(f"{recipe} {'with' if augment else 'without'} augmentation: drawn / MNIST test accuracy",
              [result[f"{recipe}_{'augmented' if augment else 'plain'}"]["drawn_acc"],
               result[f"{recipe}_{'augmented' if augment else 'plain'}"]["test_acc"]])
             for recipe, augment in WAYS]
    for name in result["default_plain"]["styles_acc"]:
        lines.append((f"style '{name}': default / convnet", [result["default_plain"]["styles_acc"][name],
                                                            result["convnet_augmented"]["styles_acc"][name]]))
    return lines
