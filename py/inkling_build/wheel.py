"""The inkling wheel, written directly in memory (no network, no build backend) and reproducibly."""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import re
import zipfile
from pathlib import Path

from inkling_build.errors import BuildError
from inkling_build.workspace import read_pyproject

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps make the wheel reproducible


def wheel_name(project: dict) -> str:
    """The wheel file name for a pure-Python project."""
    name = re.sub(r"[-_.]+", "_", project["name"]).lower()
    return f"{name}-{project['version']}-py3-none-any.whl"


def _metadata(project: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    license_ = project.get("license")
    if isinstance(license_, dict) and "text" in license_:
        lines.append(f"License: {license_['text']}")
    lines += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {req}; extra == "{extra}"' for req in reqs]
    return "\n".join(lines) + "\n"


def _is_package(folder: Path) -> bool:
    """A top-level folder of Python code (with or without __init__.py), not build clutter."""
    return (folder.is_dir() and not folder.name.startswith((".", "_")) and "." not in folder.name
            and any(folder.rglob("*.py")))


def _shipped(config: dict) -> list[str]:
    """Name patterns of the top-level packages to ship: those setuptools installs, so that the site's
    wheel and `pip install .` hold the same code (py/ also holds the build's own package)."""
    packages = config.get("tool", {}).get("setuptools", {}).get("packages", {})
    if isinstance(packages, list):  # `packages = [...]` names them outright
        return packages
    return packages.get("find", {}).get("include", ["*"])


def _package_files(py_dir: Path, shipped: list[str]) -> list[tuple[str, Path]]:
    """(archive path, file) for every top-level package under py/ named by `shipped`, without caches."""
    files = []
    for package in sorted(p for p in py_dir.iterdir()
                          if _is_package(p) and any(fnmatch.fnmatchcase(p.name, name) for name in shipped)):
        for path in sorted(package.rglob("*")):
            rel = path.relative_to(py_dir)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in (".pyc", ".pyo"):
                files.append((rel.as_posix(), path))
    return files


def build_wheel(py_dir: Path, pyproject: Path, extra: dict[str, bytes] | None = None) -> tuple[str, bytes]:
    """Build the project's pure-Python wheel from `py_dir` in memory, plus `extra` {archive path: bytes}.

    Returns:
        (wheel file name, wheel bytes); the bytes depend only on the sources and pyproject.
    Raises:
        BuildError: there is no package under `py_dir`.
    """
    config = read_pyproject(pyproject)
    project = config["project"]
    name = wheel_name(project)
    dist_info = name.split("-py3-")[0] + ".dist-info"
    entries = [(arc, path.read_bytes()) for arc, path in _package_files(py_dir, _shipped(config))
               if arc not in (extra or {})]
    if not entries:
        raise BuildError(f"no Python package (a folder of .py files) under {py_dir}")
    entries += sorted((extra or {}).items())
    entries.append((f"{dist_info}/METADATA", _metadata(project).encode()))
    wheel_meta = "Wheel-Version: 1.0\nGenerator: inkling build.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries.append((f"{dist_info}/WHEEL", wheel_meta.encode()))
    scripts = project.get("scripts", {})
    if scripts:
        text = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
        entries.append((f"{dist_info}/entry_points.txt", text.encode()))
    record = "".join(f"{arc},sha256={_record_hash(data)},{len(data)}\n" for arc, data in entries)
    entries.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in entries:
            info = zipfile.ZipInfo(arc, _ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return name, buffer.getvalue()


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
