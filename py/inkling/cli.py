"""Command line: ``python -m inkling train`` (the web worker's Trainer, in CPython) and ``prepare``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from . import protocol as p
from .blocks import MANIFEST, prepare_mnist
from .errors import DataError, ProtocolError
from .optim import OPTIMIZERS
from .trainer import (DEFAULT_BATCH_SIZE, DEFAULT_CACHE_SIZE, DEFAULT_LR_DECAY, DEFAULT_OPTIMIZER,
                      SUGGESTED_LRATES, Trainer)
from .weights_io import weights_to_npz

_EVALUATE_ID = 1
_NO_DATA = (
    "No prepared MNIST in {data}/ ({manifest} not found). Prepare it with `python build.py data`, "
    "or from the four MNIST IDX files with `python -m inkling prepare --idx <their folder> --out {data}`."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return _prepare(args)
    _check_settings(parser, args)
    data = Path(args.data)
    if not (data / MANIFEST).is_file():
        print(_NO_DATA.format(data=args.data.rstrip("/"), manifest=data / MANIFEST), file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(train(args, log=None if args.json else print))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"test accuracy {summary['test_accuracy']:.2%} after {summary['epochs']} epoch(s): "
              f"{summary['train_seconds']:.1f} s of training, {summary['samples_per_s']:,.0f} samples/s")
    return 0 if summary["error"] is None else 1


async def train(args: argparse.Namespace, log: Any = None) -> dict[str, Any]:
    """Train through a `Trainer` fed by a file-reading fetch, as the web worker does.

    The run is steered with the same wire commands the page sends: ``start``,
    then ``stop`` and ``evaluate`` once the epochs are done.

    Returns:
        The JSON summary (``test_accuracy``, ``train_seconds``, ``samples_per_s``,
        ``epochs``, the settings, and counters).
    """
    data = Path(args.data)

    async def fetch(path: str) -> bytes:
        if Path(path).name != path:
            raise DataError(f"refusing to read {path!r}: not a file name inside {data}", path)
        return (data / path).read_bytes()

    state: dict[str, Any] = {"error": None, "test_acc": None, "end": None, "last": None,
                             "epoch_shown": 0, "epoch_loss": [], "epochs_log": []}

    def send(message: dict[str, Any]) -> None:
        if message["type"] == "error":
            state["error"] = state["error"] or message["message"]
            print(f"{message['kind']} error: {message['message']}", file=sys.stderr)
            if message["kind"] in ("divergence", "internal") or message.get("reply_to") == _EVALUATE_ID:
                trainer.close()
            return
        signal = p.decode_signal(message)
        assert isinstance(signal, p.ResponseSignal)
        state["last"] = signal
        if signal.training and signal.loss is not None:
            state["epoch_loss"].append((signal.loss, signal.acc))
            if int(signal.epoch) > state["epoch_shown"]:
                _log_epoch(state, signal, log)
            if signal.samples_seen >= target and state["end"] is None:
                state["end"] = time.perf_counter()
                trainer.submit({"type": "stop"})
                trainer.submit({"type": "evaluate", "id": _EVALUATE_ID})
        if signal.reply_to == _EVALUATE_ID:
            state["test_acc"] = signal.test_acc
            trainer.close()

    lrate = args.lr if args.lr is not None else SUGGESTED_LRATES[args.optimizer]
    trainer = Trainer(
        send, fetch, sizes=(784, args.hidden, 10), seed=args.seed, batch_size=args.batch_size, lrate=lrate,
        lr_decay=args.lr_decay, optimizer=args.optimizer, cache_size=args.cache_size, weights_in_signals=False,
    )
    await trainer.setup()
    assert trainer.manifest is not None
    target = round(args.epochs * trainer.manifest.train_count)
    start = time.perf_counter()
    trainer.submit({"type": "start"})
    await trainer.run()
    seconds = (state["end"] or time.perf_counter()) - start
    last = state["last"]
    if args.save and state["error"] is None:
        Path(args.save).write_bytes(weights_to_npz(trainer.model.get_weights()))
    return {
        "test_accuracy": state["test_acc"],
        "train_seconds": round(seconds, 3),
        "samples_per_s": round(trainer.samples_seen / seconds, 1) if seconds > 0 else 0.0,
        "epochs": args.epochs,
        "hidden": args.hidden,
        "batch_size": args.batch_size,
        "lr": lrate,
        "lr_decay": args.lr_decay,
        "optimizer": args.optimizer,
        "seed": args.seed,
        "cache_size": args.cache_size,
        "iterations": trainer.iteration,
        "samples_seen": trainer.samples_seen,
        "final_lrate": last.lrate if last else lrate,
        "cache_waits": last.cache_waits if last else 0,
        "data_errors": last.data_errors if last else 0,
        "epoch_log": state["epochs_log"],
        "weights_file": args.save if args.save and state["error"] is None else None,
        "error": state["error"],
    }


def _log_epoch(state: dict[str, Any], signal: p.ResponseSignal, log: Any) -> None:
    losses = state["epoch_loss"]
    entry = {
        "epoch": int(signal.epoch),
        "train_loss": round(sum(l for l, _ in losses) / len(losses), 4),
        "train_acc": round(sum(a for _, a in losses) / len(losses), 4),
        "lrate": signal.lrate,
    }
    state["epochs_log"].append(entry)
    state["epoch_shown"], state["epoch_loss"] = int(signal.epoch), []
    if log:
        log(f"epoch {entry['epoch']}: train loss {entry['train_loss']:.4f}, train acc {entry['train_acc']:.2%}, "
            f"next lrate {signal.lrate:g}, {signal.samples_per_s:,.0f} samples/s")


def _prepare(args: argparse.Namespace) -> int:
    try:
        manifest = prepare_mnist(args.idx, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(manifest.train)} train and {len(manifest.test)} test blocks "
          f"({manifest.train_count} + {manifest.test_count} samples) and {MANIFEST} to {args.out}")
    return 0


def _check_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Hold the settings to the protocol's limits, so the CLI accepts what the page accepts."""
    checks = [
        {"type": "reset", "hidden": args.hidden, "seed": args.seed},
        {"type": "set_batch_size", "batch_size": args.batch_size},
        {"type": "set_lr_decay", "lr_decay": args.lr_decay},
        {"type": "set_cache_size", "cache_size": args.cache_size},
    ]
    if args.lr is not None:
        checks.append({"type": "set_learning_rate", "lrate": args.lr})
    for command in checks:
        try:
            p.decode_command(command)
        except ProtocolError as exc:
            parser.error(f"--{exc.field.replace('_', '-').replace('lrate', 'lr')}: {exc.reason}")
    if not args.epochs > 0:
        parser.error("--epochs: must be greater than 0")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inkling", description="Inkling: train an MNIST MLP in numpy.")
    parser.add_argument("--version", action="version", version=f"inkling {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train on prepared MNIST blocks and report test accuracy")
    train.add_argument("--epochs", type=float, default=3, help="passes over the training set (default 3)")
    train.add_argument("--hidden", type=int, default=128, help="hidden layer width (default 128)")
    train.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="samples per step (default 64)")
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default: 0.1 for sgd and momentum, 0.001 for adam)")
    train.add_argument("--lr-decay", type=float, default=DEFAULT_LR_DECAY,
                       help=f"learning rate factor applied after each epoch (default {DEFAULT_LR_DECAY})")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULT_OPTIMIZER,
                       help=f"default {DEFAULT_OPTIMIZER}")
    train.add_argument("--seed", type=int, default=0, help="seed of the weights and data order (default 0)")
    train.add_argument("--cache-size", type=int, default=DEFAULT_CACHE_SIZE, help="blocks kept cached (default 8)")
    train.add_argument("--data", default="data", help="folder of prepared blocks (default data)")
    train.add_argument("--save", metavar="FILE.npz", help="write the trained weights as .npz")
    train.add_argument("--json", action="store_true", help="print only a JSON summary")

    prepare = commands.add_parser("prepare", help="turn the four MNIST IDX files into blocks + manifest")
    prepare.add_argument("--idx", required=True, help="folder with train-images-idx3-ubyte and the others")
    prepare.add_argument("--out", default="data", help="output folder (default data)")
    return parser
