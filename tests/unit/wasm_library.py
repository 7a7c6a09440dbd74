"""The kernel's shipped side modules, run in CPython under wasmtime: a `Library` for the tests.

Pyodide's dynamic linker gives a side module its memory and the bases of its data
and table; here wasmtime does. Arrays are copied into the module's memory before a
call (the whole span of memory a view covers, so strides stay valid) and the ones a
function writes are copied back after it.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import wasmtime

MEMORY_BASE = 1024  # where the module's own data goes (it has none today)
FIRST_ARRAY = 64 * 1024


class WasmtimeLibrary:
    """One kernel build, instantiated by wasmtime with its own linear memory."""

    def __init__(self, path: str, pages: int = 2048) -> None:
        """Instantiate the side module at ``path`` with ``pages`` of 64 KiB memory (128 MiB)."""
        self.store = wasmtime.Store(wasmtime.Engine())
        module = wasmtime.Module.from_file(self.store.engine, path)
        self.memory = wasmtime.Memory(self.store, wasmtime.MemoryType(wasmtime.Limits(pages, None)))
        i32 = wasmtime.ValType.i32()
        provided = {
            "memory": self.memory,
            "__memory_base": wasmtime.Global(self.store, wasmtime.GlobalType(i32, False), wasmtime.Val.i32(MEMORY_BASE)),
            "__table_base": wasmtime.Global(self.store, wasmtime.GlobalType(i32, False), wasmtime.Val.i32(0)),
            "__stack_pointer": wasmtime.Global(self.store, wasmtime.GlobalType(i32, True),
                                               wasmtime.Val.i32(FIRST_ARRAY)),
        }
        imports = []
        for item in module.imports:
            if item.module != "env" or item.name not in provided:
                raise RuntimeError(f"{Path(path).name} imports {item.module}.{item.name}, which a side module "
                                   "loaded by Pyodide may not rely on")
            imports.append(provided[item.name])
        self.imports = [(item.module, item.name) for item in module.imports]
        instance = wasmtime.Instance(self.store, module, imports)
        self.exports = instance.exports(self.store)
        self.calls: list[str] = []

    def call(self, name: str, *args: Any, outputs: Sequence[np.ndarray] = ()) -> int:
        """Call export ``name``, arrays copied in (and ``outputs`` copied back out)."""
        self.calls.append(name)
        base = self.memory.data_ptr(self.store)
        size = self.memory.data_len(self.store)
        cursor = FIRST_ARRAY
        placed: dict[int, tuple[int, int, int]] = {}  # id(array) -> (wasm offset of its span, span start, length)
        values = []
        for arg in args:
            if isinstance(arg, np.ndarray):
                low, high = np.lib.array_utils.byte_bounds(arg)
                length = max(high - low, 1)
                if cursor + length > size:
                    raise MemoryError(f"{name}: arrays need more than {size} bytes of wasm memory")
                ctypes.memmove(ctypes.addressof(base.contents) + cursor, low, high - low)
                placed[id(arg)] = (cursor, low, high - low)
                values.append(cursor + (arg.__array_interface__["data"][0] - low))
                cursor += (length + 15) // 16 * 16
            else:
                values.append(arg)
        result = self.exports[name](self.store, *values)
        for array in outputs:
            offset, low, length = placed[id(array)]
            ctypes.memmove(low, ctypes.addressof(base.contents) + offset, length)
        return 0 if result is None else int(result)
