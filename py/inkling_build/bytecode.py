"""The site's Python as bytecode: the runtime's standard library, numpy and the inkling wheel, compiled
by the pinned Pyodide itself (under Node) so the browser does not compile them at every start.

Pyodide 0.27 ships sources only, and compiling them was most of a cold start in WebAssembly (README,
"Start-up"). The outputs depend only on their inputs, so they are cached by them.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inkling_build.errors import BuildError
from inkling_build.files import sha256_bytes, write_atomic
from inkling_build.pins import PYODIDE

HERE = Path(__file__).parent
RUNNER = HERE / "bytecode.mjs"
JOB = HERE / "bytecode_job.py"
STDLIB_PREFIX = "/lib/python312.zip/"  # python_stdlib.zip on sys.path (zipimport), as Pyodide places it
SITE_PACKAGES = "/lib/python3.12/site-packages/"  # where it unpacks a wheel


@dataclass(frozen=True)
class Archive:
    """One archive to compile. `sourceless` replaces each X.py by X.pyc (the runtime's own files: smaller
    downloads, and nobody reads their source in the page); otherwise the sources stay beside the bytecode
    (inkling's own, whose tracebacks should show their lines). `prefix` is where its files land in the
    runtime, so tracebacks name them there."""

    data: bytes
    sourceless: bool
    prefix: str = SITE_PACKAGES


def _key(archive: Archive, tools: bytes) -> str:
    recipe = json.dumps([PYODIDE.version, archive.sourceless, archive.prefix]).encode()
    return sha256_bytes(archive.data + recipe + tools)[:24]


def compile_archives(cache: Path, pyodide_dir: Path, archives: dict[str, Archive],
                     log: Callable[[str], None] = print) -> dict[str, bytes]:
    """{name: archive with bytecode} for every archive, compiled once per input (cached in `cache`).

    `pyodide_dir` holds the pinned Pyodide (pyodide.mjs and its files) that compiles them.
    Raises:
        BuildError: Node.js is missing, or Pyodide failed to compile.
    """
    out_dir = cache / "bytecode"
    tools = JOB.read_bytes() + RUNNER.read_bytes()
    outputs = {name: out_dir / f"{_key(archive, tools)}.zip" for name, archive in archives.items()}
    todo = {name: archive for name, archive in archives.items() if not outputs[name].is_file()}
    if todo:
        _run(pyodide_dir, todo, outputs, cache, log)
    return {name: path.read_bytes() for name, path in outputs.items()}


def _run(pyodide_dir: Path, todo: dict[str, Archive], outputs: dict[str, Path], cache: Path,
         log: Callable[[str], None]) -> None:
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is not installed: the build runs Pyodide under Node.js (18 or newer; it comes "
                         "with npm, which the build also needs) to compile the site's Python to bytecode")
    started = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bytecode-", dir=cache) as tmp:
        work = Path(tmp)
        jobs = []
        for i, archive in enumerate(todo.values()):
            (work / f"in-{i}.zip").write_bytes(archive.data)
            jobs.append(["sourceless" if archive.sourceless else "beside", f"in-{i}.zip", f"out-{i}.zip",
                         archive.prefix])
        (work / "jobs.json").write_text(json.dumps(jobs))
        result = subprocess.run([node, str(RUNNER), str(pyodide_dir.resolve()), str(work)],
                                capture_output=True, text=True)
        if result.returncode != 0 or not (work / "done.json").is_file():
            raise BuildError(f"compiling Python to bytecode with Pyodide under Node failed:\n"
                             f"{(result.stderr or result.stdout).strip()[-2000:]}")
        done = json.loads((work / "done.json").read_text())
        for i, name in enumerate(todo):
            write_atomic(outputs[name], (work / f"out-{i}.zip").read_bytes())
    log(f"bytecode: {', '.join(f'{Path(n).name} ({c} modules)' for n, c in zip(todo, done['compiled']))} "
        f"in {time.monotonic() - started:.1f} s")
