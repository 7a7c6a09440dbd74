"""Runs inside Pyodide (under Node, started by bytecode.mjs): Python sources in archives -> bytecode.

Python compiles every module it imports from source unless it finds bytecode, and in WebAssembly that
compile is most of a cold start (Pyodide's python_stdlib.zip and its numpy wheel ship sources only).
This compiles them with the very interpreter the site runs, so the bytecode always matches it.

Each bytecode file is an *unchecked* hash-based .pyc: the interpreter loads it without reading or
hashing the source, and a changed source would mean a new build, which compiles again.
Reads jobs.json from the working folder: [[mode, input archive, output archive, install prefix], ...].
"""
import importlib.util
import json
import sys
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same bytes from the same input, whenever it is built


def pyc_bytes(source: bytes, filename: str) -> bytes:
    """An unchecked hash-based .pyc of `source`, naming `filename` in tracebacks."""
    code = compile(source, filename, "exec", dont_inherit=True)
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


def add(zout: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zout.writestr(info, data)


def compile_archive(mode: str, src: str, dst: str, prefix: str) -> int:
    """Write `dst`: `src` with bytecode. mode "sourceless": each X.py becomes X.pyc (a zip on
    sys.path: zipimport reads X.pyc and has no __pycache__). mode "beside": each X.py keeps its
    source and gains __pycache__/X.<tag>.pyc (a wheel unpacked to site-packages)."""
    compiled = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            name = info.filename
            if not name.endswith(".py") or info.is_dir():
                add(zout, name, data)
                continue
            try:
                pyc = pyc_bytes(data, prefix + name)
            except (SyntaxError, ValueError):  # e.g. a test file that is meant not to compile
                add(zout, name, data)
                continue
            compiled += 1
            if mode == "sourceless":
                add(zout, name + "c", pyc)
            else:
                add(zout, name, data)
                add(zout, importlib.util.cache_from_source(name), pyc)
    return compiled


def main(work: str) -> None:
    jobs = json.load(open(f"{work}/jobs.json"))
    counts = [compile_archive(mode, f"{work}/{src}", f"{work}/{dst}", prefix) for mode, src, dst, prefix in jobs]
    json.dump({"compiled": counts, "magic": importlib.util.MAGIC_NUMBER.hex(), "version": sys.version},
              open(f"{work}/done.json", "w"))
