"""Command line: ``python -m inkling train`` (the web worker's Trainer, in CPython), ``predict`` (digits in
image files read by a weights file) and ``prepare``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .data.blocks import MANIFEST, prepare_mnist
from .errors import DataError, ProtocolError, WeightsError
from .export import export_onnx
from .messages import protocol as p
from .messages.tunables import LEARNING_RATE, TUNABLES, SettingError, Tunable
from .network.layers import format_hidden
from .network.optim import SUGGESTED_LRATES
from .network.weights_io import weights_to_npz
from .predict import run as run_predict
from .training.recipes import DEFAULT, RECIPES
from .training.trainer import Trainer

_NO_DATA = (
    "No prepared MNIST in {data}/ ({manifest} not found). Prepare it with `python build.py data`, "
    "or from the four MNIST IDX files with `python -m inkling prepare --idx <their folder> --out {data}`."
)

# The settings of the table the command line takes (it trains in one process: no workers).
FLAGS = tuple(t for t in TUNABLES if t.cli)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return _prepare(args)
    if args.command == "predict":
        return _predict(args)
    if args.command == "export":
        return export_onnx(Path(args.weights), None if args.out is None else Path(args.out))
    _fill_from_recipe(args)
    _check_settings(parser, args)
    data = Path(args.data)
    if not (data / MANIFEST).is_file():
        print(_NO_DATA.format(data=args.data.rstrip("/"), manifest=data / MANIFEST), file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(train(args, log=None if args.json else print))
    except (DataError, ProtocolError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"test accuracy {summary['test_accuracy']:.2%} after {summary['epochs']:g} epoch(s): "
              f"{summary['train_seconds']:.1f} s of training, {summary['samples_per_s']:,.0f} samples/s")
    return 0 if summary["error"] is None else 1


async def train(args: argparse.Namespace, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train through a `Trainer` fed by a file-reading fetch, as the web worker is fed by pyfetch.

    The run is steered with the wire commands the page sends: ``start``, ``evaluate``
    after each epoch, then ``stop`` and a last ``evaluate``.

    Returns:
        The JSON summary (``test_accuracy``, ``train_seconds`` (evaluations not
        counted), ``samples_per_s``, ``epochs``, the settings, and counters).
    """
    data = Path(args.data)

    async def fetch(path: str) -> bytes:
        if Path(path).name != path:
            raise DataError(f"refusing to read {path!r}: not a file name inside {data}", path)
        return (data / path).read_bytes()

    lrate = args.lrate
    run = _Run(log)
    trainer = Trainer(run.send, fetch, weights_in_signals=False, **{t.field: getattr(args, t.field) for t in FLAGS})
    await trainer.setup()
    assert trainer.manifest is not None
    run.trainer, run.target = trainer, round(args.epochs * trainer.manifest.train_count)
    start = time.perf_counter()
    trainer.submit(p.encode_command(p.Start(id=_Run.START)))
    await trainer.run()
    seconds = (run.end or time.perf_counter()) - start - run.eval_seconds
    if args.save and run.error is None:
        model = trainer.learner.model
        Path(args.save).write_bytes(weights_to_npz(model.get_weights(), model.hidden))
    last = run.last
    return {
        "test_accuracy": run.test_acc,
        "train_seconds": round(seconds, 3),
        "samples_per_s": round(trainer.learner.samples_seen / seconds, 1) if seconds > 0 else 0.0,
        "recipe": args.recipe,
        "epochs": args.epochs,
        # Every setting of the table, under its flag's name (--lr: "lr").
        **{t.cli.lstrip("-").replace("-", "_"): _plain(getattr(args, t.field)) for t in FLAGS},
        "iterations": trainer.learner.iteration,
        "samples_seen": trainer.learner.samples_seen,
        "final_lrate": _tidy(last.lrate if last else lrate),
        "cache_waits": last.cache_waits if last else 0,
        "data_errors": last.data_errors if last else 0,
        "epoch_log": run.epochs,
        "weights_file": args.save if args.save and run.error is None else None,
        "error": run.error,
    }


class _Run:
    """Steers one training run through the Trainer's messages and keeps its record."""

    START, FINAL = 0, 1  # command ids; the evaluate after epoch k has id 1 + k

    def __init__(self, log: Callable[[str], None] | None) -> None:
        self.log = log
        self.trainer: Trainer | None = None
        self.target = 0  # samples to train on
        self.end: float | None = None  # when training reached the target
        self.last: p.ResponseSignal | None = None
        self.test_acc: float | None = None
        self.error: str | None = None
        self.epochs: list[dict[str, Any]] = []
        self.eval_seconds = 0.0
        self._batches: list[tuple[float, float]] = []  # (loss, acc) of this epoch's batches
        self._evaluating: dict[int, tuple[float, dict[str, Any] | None]] = {}  # id -> (since, epoch entry)

    def send(self, message: dict[str, Any]) -> None:
        """The Trainer's ``send``: react to each message it emits."""
        assert self.trainer is not None
        if message["type"] == "error":
            self.error = self.error or message["message"]
            print(f"{message['kind']} error: {message['message']}", file=sys.stderr)
            if message["kind"] in ("divergence", "internal") or message["reply_to"] == self.FINAL:
                self.trainer.close()
            return
        signal = p.decode_signal(message)
        assert isinstance(signal, p.ResponseSignal)
        self.last = signal
        if signal.waiting_for_data:
            # The page waits for the network to come back; local files that all fail will not.
            self.error = self.error or "no training block could be read"
            self.trainer.close()
            return
        if signal.reply_to in self._evaluating:
            self._evaluated(signal)
        elif signal.training and signal.reply_to is None:
            self._trained(signal)

    def _trained(self, signal: p.ResponseSignal) -> None:
        assert self.trainer is not None and signal.loss is not None and signal.acc is not None
        self._batches.append((signal.loss, signal.acc))
        entry = None
        if int(signal.epoch) > len(self.epochs):
            entry = {
                "epoch": int(signal.epoch),
                "train_loss": round(sum(loss for loss, _ in self._batches) / len(self._batches), 4),
                "train_acc": round(sum(acc for _, acc in self._batches) / len(self._batches), 4),
                "test_acc": None,
                "next_lrate": _tidy(signal.lrate),
            }
            self.epochs.append(entry)
            self._batches = []
        if signal.samples_seen >= self.target and self.end is None:
            self.end = time.perf_counter()
            self.trainer.submit(p.encode_command(p.Stop()))
            self._evaluate(self.FINAL, entry)
        elif entry is not None:
            self._evaluate(1 + int(signal.epoch), entry)

    def _evaluate(self, ident: int, entry: dict[str, Any] | None) -> None:
        assert self.trainer is not None
        self._evaluating[ident] = (time.perf_counter(), entry)
        self.trainer.submit(p.encode_command(p.Evaluate(id=ident)))

    def _evaluated(self, signal: p.ResponseSignal) -> None:
        assert self.trainer is not None and signal.reply_to is not None
        since, entry = self._evaluating.pop(signal.reply_to)
        if self.end is None:
            self.eval_seconds += time.perf_counter() - since
        if entry is not None:
            entry["test_acc"] = signal.test_acc
            if self.log:
                self.log(f"epoch {entry['epoch']}: train loss {entry['train_loss']:.4f}, "
                         f"train acc {entry['train_acc']:.2%}, test acc {signal.test_acc:.2%}, "
                         f"next lrate {entry['next_lrate']:.3g}")
        if signal.reply_to == self.FINAL:
            self.test_acc = signal.test_acc
            self.trainer.close()


def _prepare(args: argparse.Namespace) -> int:
    try:
        manifest = prepare_mnist(args.idx, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(manifest.train)} train and {len(manifest.test)} test blocks "
          f"({manifest.train_count} + {manifest.test_count} samples) and {MANIFEST} to {args.out}")
    return 0


def _fill_from_recipe(args: argparse.Namespace) -> None:
    """Every setting not given on the command line comes from the recipe (the default one if none)."""
    recipe = RECIPES[args.recipe]
    chosen_rate = args.lrate is not None
    for name, value in {**{t.field: recipe.value(t.field) for t in FLAGS}, "epochs": recipe.epochs}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not chosen_rate and args.optimizer != recipe.value("optimizer"):
        # The recipe's rate goes with its optimizer; another optimizer gets that one's own rate.
        args.lrate = SUGGESTED_LRATES[args.optimizer]


def _predict(args: argparse.Namespace) -> int:
    """Print each input's digit; 2 if the weights cannot be used, 1 if an input could not be read."""
    try:
        lines, problems = run_predict(Path(args.weights), [Path(i) for i in args.inputs], args.ink, args.json)
    except WeightsError as error:
        print(f"error: {args.weights}: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _check_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Hold the settings to the protocol's limits, so the CLI accepts what the page accepts."""
    for setting in FLAGS:
        try:
            p.setting_command(setting, getattr(args, setting.field))
        except SettingError as error:
            parser.error(f"{setting.cli}: {error}")
    if not args.epochs > 0:
        parser.error("--epochs: must be greater than 0")


def _plain(value: Any) -> Any:
    """A setting's value as JSON writes it (hidden layers as a list)."""
    return list(value) if isinstance(value, tuple) else value


def _tidy(rate: float) -> float:
    """0.0013499999999999999 -> 0.00135: repeated decay leaves float noise in the last digits."""
    return float(f"{rate:.6g}")


def _epochs(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _add_option(parser: argparse.ArgumentParser, setting: Tunable) -> None:
    """The option of a setting, read the page's way (`Tunable.parse`); None when not given."""
    def read(text: str) -> Any:
        try:
            return setting.parse(text)
        except SettingError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    chosen_by_recipes = any(setting.field in recipe.changes for recipe in RECIPES.values()) or setting.live
    origin = "recipe's" if chosen_by_recipes and setting.field != "cache_size" else f"default {setting.text(setting.default)}"
    about = f"{setting.about} ({origin})"
    if setting is LEARNING_RATE:
        about += "; with an optimizer not the recipe's, that one's own: " + ", ".join(
            f"{rate:g} for {name}" for name, rate in SUGGESTED_LRATES.items())
    if setting.kind == "switch":
        parser.add_argument(setting.cli, dest=setting.field, action=argparse.BooleanOptionalAction, help=about)
    else:
        metavar = "{" + ",".join(setting.choices) + "}" if setting.kind == "choice" else setting.field.upper()
        parser.add_argument(setting.cli, dest=setting.field, type=read, help=about, metavar=metavar)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inkling", description="Inkling: train an MNIST network (MLP or convnet) in numpy, and read digits with it.")
    parser.add_argument("--version", action="version", version=f"inkling {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train on prepared MNIST blocks and report test accuracy")
    recipes = "; ".join(f"{r.name}: {format_hidden(r.hidden)} hidden, {r.value('optimizer')} at "
                        f"{r.value('lrate'):g}, decay {r.value('lr_decay'):g}, batch {r.value('batch_size')}, "
                        f"augmentation {'on' if r.value('augment') else 'off'}, {r.epochs:g} epochs ({r.reaches})"
                        for r in RECIPES.values())
    train.add_argument("--recipe", choices=RECIPES, default=DEFAULT.name,  # argparse formats help with %
                       help=f"settings for every option not given ({recipes})".replace("%", "%%"))
    train.add_argument("--epochs", type=_epochs, default=None, help="passes over the training set (recipe's)")
    for setting in FLAGS:
        _add_option(train, setting)
    train.add_argument("--data", default="data", help="folder of prepared blocks (default data)")
    train.add_argument("--save", metavar="FILE.npz", help="write the trained weights as .npz")
    train.add_argument("--json", action="store_true", help="print only a JSON summary")

    predict = commands.add_parser("predict", help="read the digit in each image file with a weights file")
    predict.add_argument("--weights", required=True, metavar="FILE.npz", help="weights exported by the page or train --save")
    predict.add_argument("inputs", nargs="+", metavar="INPUT",
                         help=".npy (one grey image or a batch, ink bright) or an image file (PNG ...; needs Pillow)")
    predict.add_argument("--ink", choices=("auto", "dark", "bright"), default="auto",
                         help="auto: .npy ink bright, image files dark ink on light paper")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")

    export = commands.add_parser("export", help="write a weights file as an ONNX model")
    export.add_argument("--onnx", action="store_true", required=True, help="the format (ONNX, opset 13)")
    export.add_argument("--weights", required=True, metavar="FILE.npz", help="weights exported by the page or train --save")
    export.add_argument("--out", metavar="FILE.onnx", help="where to write it (default: FILE.onnx beside the weights)")

    prepare = commands.add_parser("prepare", help="turn the four MNIST IDX files into blocks + manifest")
    prepare.add_argument("--idx", required=True, help="folder with train-images-idx3-ubyte and the others")
    prepare.add_argument("--out", default="data", help="output folder (default data)")
    return parser
