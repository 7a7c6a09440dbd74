"""data/: the MNIST blocks and their manifest, prepared from the pinned IDX files by inkling.data.blocks."""
from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from inkling_build.errors import BuildError
from inkling_build.fetcher import Fetcher
from inkling_build.files import sha256_file, write_atomic
from inkling_build.pins import MNIST_PINS
from inkling_build.workspace import Paths

DATA_STAMP = ".build-stamp.json"


def _data_stamp(paths: Paths) -> dict[str, object]:
    """What data/ was made from: the pinned IDX files and the block format code."""
    blocks_py = paths.py / "inkling" / "data" / "blocks.py"
    return {
        "idx": {pin.name: pin.sha256 for pin in MNIST_PINS},
        "blocks_py": sha256_file(blocks_py) if blocks_py.is_file() else None,
    }


def data_files(data_dir: Path) -> list[str]:
    """The files of prepared data: "manifest.json" and every block it lists.

    Raises:
        BuildError: the manifest is missing or unreadable.
    """
    manifest_path = data_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_bytes())
        entries = list(manifest["train"]) + list(manifest["test"])
        files = [str(entry["file"]) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"{manifest_path} is missing or unreadable ({exc}); "
                         "run `python build.py data`") from None
    for name in files:
        if "/" in name or "\\" in name or name.startswith("."):
            raise BuildError(f"{manifest_path} lists a bad block file name {name!r}; "
                             "run `python build.py data`")
    return ["manifest.json", *files]


def data_is_current(paths: Paths) -> bool:
    """True if data/ was prepared from the pinned inputs by the current block code and is whole."""
    try:
        stamp = json.loads((paths.data / DATA_STAMP).read_bytes())
        names = data_files(paths.data)
    except (OSError, ValueError, BuildError):
        return False
    return stamp == _data_stamp(paths) and all((paths.data / name).is_file() for name in names)


def prepare_data(paths: Paths, fetcher: Fetcher) -> None:
    """Write data/ (blocks + manifest) from the pinned MNIST IDX files with inkling.data.blocks."""
    fetched = fetcher.ensure_all(MNIST_PINS)
    idx_dir = next(iter(fetched.values())).parent
    prepare_mnist, inkling_error = _import_prepare_mnist(paths.py)
    fetcher.log(f"preparing {paths.data} from the MNIST IDX files ...")
    started = time.monotonic()
    paths.data.mkdir(parents=True, exist_ok=True)
    (paths.data / DATA_STAMP).unlink(missing_ok=True)
    try:
        prepare_mnist(idx_dir, paths.data)
    except inkling_error as exc:
        raise BuildError(f"preparing data/ failed: {exc}") from None
    names = data_files(paths.data)  # fails clearly if prepare_mnist wrote no manifest
    write_atomic(paths.data / DATA_STAMP, json.dumps(_data_stamp(paths), indent=2).encode())
    fetcher.log(f"data/: {len(names) - 1} blocks in {time.monotonic() - started:.1f} s")


def _import_prepare_mnist(py_dir: Path) -> tuple[Callable[[Path, Path], object], type[Exception]]:
    """`inkling.data.blocks.prepare_mnist` and the base class of the errors it raises."""
    if str(py_dir) not in sys.path:
        sys.path.insert(0, str(py_dir))
    try:
        blocks = importlib.import_module("inkling.data.blocks")
        errors = importlib.import_module("inkling.errors")
    except ModuleNotFoundError as exc:
        if exc.name == "numpy":
            raise BuildError("preparing data/ needs numpy in this Python: run "
                             "`pip install -e .` (or `pip install numpy`)") from None
        raise BuildError(f"cannot import inkling.data.blocks from {py_dir} ({exc})") from None
    return blocks.prepare_mnist, errors.InklingError
