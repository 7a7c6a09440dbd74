"""The package itself: the core never touches the browser, each thread's code keeps to its place,
and its public names are there."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import inkling

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "py" / "inkling"
BROWSER_ONLY = {"js", "pyodide", "pyodide_js", "pyscript"}


THREADS = ("page", "worker")  # the subpackages that run on one browser thread each
BROWSER_ADAPTERS = {"wire.py"}  # shared by both threads' adapters


def _core_files() -> list[Path]:
    """The modules that run anywhere: neither thread's subpackage nor a shared browser adapter."""
    return [f for f in sorted(PACKAGE.rglob("*.py"))
            if f.relative_to(PACKAGE).parts[0] not in THREADS and f.name not in BROWSER_ADAPTERS]


def _inkling_imports(file: Path) -> set[str]:
    """The inkling modules ``file`` imports, absolute names (relative imports resolved)."""
    package = ".".join(("inkling", *file.relative_to(PACKAGE).parent.parts))
    names = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module and node.module.startswith("inkling"):
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("inkling")}
    return names


def test_each_thread_keeps_to_its_place() -> None:
    """The core never reaches into a thread's code, and the page and the worker share only the core
    and `inkling.messages.wire`: what runs where is visible from the layout alone."""
    offenders = []
    for file in sorted(PACKAGE.rglob("*.py")):
        parts = file.relative_to(PACKAGE).parts
        home = parts[0] if parts[0] in THREADS else None
        for name in _inkling_imports(file):
            thread = name.split(".")[1] if name.count(".") else None
            if thread in THREADS and thread != home:
                offenders.append(f"{file.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_no_core_module_imports_browser_modules_anywhere() -> None:
    files = _core_files()
    assert len(files) >= 12
    offenders = []
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
            offenders += [f"{file.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in BROWSER_ONLY]
    assert offenders == []


def test_messages_become_dicts_only_in_the_protocol() -> None:
    """Every sender builds a typed command or signal; only `messages.protocol` writes a ``{"type": ...}`` dict."""
    offenders = []
    for file in sorted(PACKAGE.rglob("*.py")):
        if file.name == "protocol.py":
            continue
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "type" for k in node.keys):
                offenders.append(f"{file.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_importing_every_core_module_loads_nothing_from_the_browser() -> None:
    modules = [".".join(("inkling", *f.relative_to(PACKAGE).with_suffix("").parts)) for f in _core_files()]
    modules = [m.removesuffix(".__init__") for m in modules if not m.endswith("__main__")]
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(set(sys.modules) & set({sorted(BROWSER_ONLY)!r})))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "py"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_names() -> None:
    assert inkling.__version__
    for name in inkling.__all__:
        assert getattr(inkling, name) is not None
