"""The command line: trains through the Trainer, reports JSON, and says how to get data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inkling.cli import main
from inkling.network.mlp import MLP

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, dataset: dict[str, bytes]) -> Path:
    for name, raw in dataset.items():
        (tmp_path / name).write_bytes(raw)
    return tmp_path


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["train", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_prints_a_json_summary(data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "w.npz"
    summary = _run_json(capsys, "--data", str(data_dir), "--epochs", "2", "--batch-size", "10", "--seed", "3",
                        "--save", str(out))
    assert summary["test_accuracy"] >= 0.95
    assert summary["epochs"] == 2 and summary["samples_seen"] == 600 and summary["iterations"] == 60
    assert summary["train_seconds"] > 0 and summary["samples_per_s"] > 0
    assert (summary["hidden"], summary["batch_size"], summary["optimizer"], summary["seed"]) == ([256], 10, "momentum", 3)
    assert summary["lr"] == 0.05 and summary["final_lrate"] == pytest.approx(0.05 * 0.6**2)
    assert (summary["recipe"], summary["augment"], summary["weight_decay"]) == ("default", False, 0.0)
    assert [e["epoch"] for e in summary["epoch_log"]] == [1, 2] and summary["error"] is None
    assert summary["epoch_log"][-1]["test_acc"] == summary["test_accuracy"]
    assert all(0 < e["test_acc"] <= 1 and e["train_loss"] > 0 for e in summary["epoch_log"])
    with np.load(out, allow_pickle=False) as npz:
        assert MLP.from_weights({k: npz[k] for k in npz.files}).sizes == (784, 256, 10)


def test_adam_gets_its_own_default_rate(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _run_json(capsys, "--data", str(data_dir), "--epochs", "0.5", "--optimizer", "adam", "--hidden", "16")
    assert (summary["optimizer"], summary["lr"], summary["hidden"]) == ("adam", 0.001, [16])


def test_several_hidden_layers_train_and_save(data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "deep.npz"
    summary = _run_json(capsys, "--data", str(data_dir), "--epochs", "2", "--hidden", "32, 16", "--save", str(out))
    assert summary["hidden"] == [32, 16] and summary["test_accuracy"] >= 0.8
    with np.load(out, allow_pickle=False) as npz:
        assert MLP.from_weights({k: npz[k] for k in npz.files}).sizes == (784, 32, 16, 10)


def test_a_recipe_sets_what_is_not_given_and_augmentation_repeats_from_the_seed(
        data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def weights(*extra: str) -> tuple[dict, bytes]:
        out = tmp_path / "w.npz"
        summary = _run_json(capsys, "--data", str(data_dir), "--recipe", "best", "--epochs", "1", "--hidden", "16",
                            "--save", str(out), *extra)
        return summary, out.read_bytes()

    summary, first = weights("--seed", "4")
    assert (summary["augment"], summary["lr_decay"], summary["hidden"]) == (True, 0.6, [16])
    assert weights("--seed", "4")[1] == first  # the distortions come from the seed too
    assert weights("--seed", "4", "--no-augment")[1] != first


def test_human_output(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(data_dir), "--epochs", "1", "--batch-size", "50"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1: train loss" in out and "test acc" in out and "after 1 epoch(s)" in out


def test_help_names_every_recipe_and_what_it_reaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # as one line, however argparse wraps it
    assert done.value.code == 0
    assert "default: 256 hidden" in out and "best: 512 hidden" in out and "98.5% in about" in out


def test_missing_data_says_how_to_prepare_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "python build.py data" in err and "python -m inkling prepare" in err


def test_unreadable_blocks_end_the_run_with_an_error(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for block in data_dir.glob("train-*"):
        block.write_bytes(b"not a block")
    assert main(["train", "--data", str(data_dir), "--json"]) == 1
    captured = capsys.readouterr()
    assert "No training data could be fetched" in captured.err
    assert json.loads(captured.out)["error"] is not None


@pytest.mark.parametrize(
    "args, option",
    [(["--batch-size", "0"], "--batch-size"), (["--lr", "nan"], "--lr"), (["--lr", "-1"], "--lr"),
     (["--hidden", "5000"], "--hidden"), (["--cache-size", "0"], "--cache-size"), (["--seed", "-2"], "--seed"),
     (["--lr-decay", "2"], "--lr-decay"), (["--epochs", "0"], "--epochs"), (["--optimizer", "lbfgs"], "--optimizer")],
)
def test_bad_settings_are_refused_naming_the_option(args: list[str], option: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", *args])
    assert info.value.code == 2 and option in capsys.readouterr().err


def test_a_cache_larger_than_the_memory_budget_is_refused_saying_why(
        tmp_path: Path, mnist_sized_dataset: dict[str, bytes], capsys: pytest.CaptureFixture[str]) -> None:
    for name, raw in mnist_sized_dataset.items():
        (tmp_path / name).write_bytes(raw)
    assert main(["train", "--data", str(tmp_path), "--cache-size", "86"]) == 1
    assert "at most 85 blocks of 785 KB fit the 64 MiB set aside" in capsys.readouterr().err


def test_prepare_refuses_idx_files_that_are_not_mnist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(b"\0\0\x08\x01\0\0\0\x01\x05")
    assert main(["prepare", "--idx", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "pinned" in capsys.readouterr().err


def test_python_dash_m_inkling_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "py"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "inkling", "train", "--data", str(tmp_path)], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 2 and "python build.py data" in result.stderr


# ---- real MNIST (prepared by `python build.py data`; CI prepares it before the tests) --------------


def _python_m_inkling(*args: str) -> dict:
    """Run the real command line in a fresh process, from the repository root, and parse its JSON."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "py"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "inkling", "train", *args, "--json"], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=1800)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_one_epoch_on_real_mnist_reaches_95_percent(mnist_dir: Path) -> None:
    summary = _python_m_inkling("--epochs", "1", "--seed", "0")
    assert summary["test_accuracy"] >= 0.95
    assert summary["samples_seen"] >= 60000 and summary["data_errors"] == 0


def test_acceptance_the_default_recipe_reaches_98_percent(mnist_dir: Path) -> None:
    summary = _python_m_inkling("--seed", "0")  # every setting the default recipe's
    assert (summary["hidden"], summary["optimizer"], summary["epochs"]) == ([256], "momentum", 6)
    assert summary["test_accuracy"] >= 0.98


def test_acceptance_the_best_recipe_reaches_98_5_percent(mnist_dir: Path) -> None:
    summary = _python_m_inkling("--recipe", "best", "--seed", "0")
    assert (summary["hidden"], summary["augment"], summary["epochs"]) == ([512], True, 6)
    assert summary["test_accuracy"] >= 0.985
