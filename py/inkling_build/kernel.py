"""The engine's kernel: py/inkling/network/engine/kernel.c compiled to WebAssembly side modules with zig."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from inkling_build.errors import BuildError
from inkling_build.fetcher import Fetcher
from inkling_build.files import sha256_bytes, write_atomic
from inkling_build.pins import ZIGLANG_PINS, ZIGLANG_VERSION
from inkling_build.sources import Pin
from inkling_build.workspace import Paths

KERNEL_SOURCE = "inkling/network/engine/kernel.c"  # below py/
# Emscripten-style side modules (a dylink.0 section; they import only env.memory, __memory_base and
# __table_base) that Pyodide's ctypes loads, built without Emscripten (shared/RUNTIME.md).
KERNEL_CFLAGS = ("--target=wasm32-unknown-emscripten", "-fPIC", "-fvisibility=hidden", "-nostdlib", "-O3",
                 "-msimd128", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror")
KERNEL_LDFLAGS = ("--experimental-pic", "-shared", "--no-entry")
# Shipped in the wheel beside kernel.c, under these names (inkling.network.engine.select loads them).
KERNEL_BUILDS: dict[str, tuple[str, ...]] = {
    "inkling/network/engine/kernel-simd128.wasm": (),
    "inkling/network/engine/kernel-relaxed.wasm": ("-mrelaxed-simd", "-DINKLING_RELAXED"),
}


def _ziglang_pin() -> Pin:
    import platform

    machine = platform.machine().lower()
    machine = {"amd64": "x86_64"}.get(machine, machine)
    if sys.platform != "linux" or machine not in ZIGLANG_PINS:
        raise BuildError(f"no kernel compiler is pinned for {sys.platform}/{machine}: add the sha256 of its "
                         f"ziglang=={ZIGLANG_VERSION} wheel to ZIGLANG_PINS in py/inkling_build/pins.py "
                         f"(pinned: {', '.join(f'linux/{m}' for m in ZIGLANG_PINS)})")
    return ZIGLANG_PINS[machine]


def _ziglang(paths: Paths, fetcher: Fetcher) -> Path:
    """The `zig` executable of the pinned ziglang wheel, unpacked once into the cache."""
    pin = _ziglang_pin()
    home = paths.cache / "tools" / f"ziglang-{pin.sha256[:16]}"
    zig = home / "ziglang" / "zig"
    if (home / ".unpacked").is_file() and zig.is_file():
        return zig
    wheel = fetcher.ensure(pin)
    fetcher.log(f"unpacking the kernel compiler {wheel.name} ...")
    shutil.rmtree(home, ignore_errors=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(home)
    zig.chmod(0o755)
    (home / ".unpacked").write_text(pin.sha256)
    return zig


def _kernel_key(source: bytes) -> str:
    """What a kernel build depends on: its source, the flags and the compiler."""
    recipe = json.dumps([KERNEL_CFLAGS, KERNEL_LDFLAGS, KERNEL_BUILDS, ZIGLANG_VERSION,
                         sorted(pin.sha256 for pin in ZIGLANG_PINS.values())])
    return sha256_bytes(source + recipe.encode())[:16]


def build_kernel(paths: Paths, fetcher: Fetcher) -> dict[str, bytes]:
    """Compile kernel.c once per build in `KERNEL_BUILDS` (cached by source, flags and compiler).

    Returns:
        {path inside the wheel: the side module's bytes}.
    Raises:
        BuildError: no compiler for this machine, or the kernel does not compile.
    """
    source_path = paths.py / KERNEL_SOURCE
    source = source_path.read_bytes()
    out_dir = paths.cache / "kernel" / _kernel_key(source)
    outputs = {arc: out_dir / Path(arc).name for arc in KERNEL_BUILDS}
    if all(path.is_file() for path in outputs.values()):
        return {arc: path.read_bytes() for arc, path in outputs.items()}
    zig = _ziglang(paths, fetcher)
    include = zig.parent / "lib" / "include"  # wasm_simd128.h: not on clang's default path here
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(paths.cache / "zig-cache"),
           "ZIG_LOCAL_CACHE_DIR": str(paths.cache / "zig-cache")}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kernel-", dir=paths.cache) as tmp:
        for arc, extra in KERNEL_BUILDS.items():
            obj, wasm = Path(tmp) / (Path(arc).stem + ".o"), Path(tmp) / Path(arc).name
            for cmd in ([str(zig), "clang", *KERNEL_CFLAGS, *extra, "-isystem", str(include), "-c",
                         str(source_path), "-o", str(obj)],
                        [str(zig), "wasm-ld", *KERNEL_LDFLAGS, str(obj), "-o", str(wasm)]):
                result = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if result.returncode != 0:
                    raise BuildError(f"compiling {KERNEL_SOURCE} ({Path(arc).name}) failed:\n"
                                     f"{(result.stderr or result.stdout).strip()}\ncommand: {' '.join(cmd)}")
            write_atomic(outputs[arc], wasm.read_bytes())
    fetcher.log(f"kernel: {', '.join(f'{Path(a).name} {p.stat().st_size} B' for a, p in outputs.items())} "
                f"in {time.monotonic() - started:.1f} s")
    return {arc: path.read_bytes() for arc, path in outputs.items()}
