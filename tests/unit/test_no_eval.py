"""No code path turns text into code or markup: the Python package, the page's JS and the worker
are scanned for eval/exec, runPython, new Function, innerHTML and friends, pickle, inline handlers.

Each scanner is itself tested on snippets that must be flagged, so the check cannot pass vacuously.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from inkling_build.server import CSP_PAGE, CSP_WORKER

ROOT = Path(__file__).resolve().parents[2]

# Python: calls and attributes that evaluate text as code or HTML, or unpickle.
_PY_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "run_js", "eval_code", "eval_code_async"}
_PY_ATTRIBUTES = {
    "runPython", "runPythonAsync", "run_js", "eval_code", "eval_code_async", "innerHTML", "outerHTML",
    "insertAdjacentHTML", "createContextualFragment", "Function", "setHTMLUnsafe", "parseFromString",
}
_PY_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle"}

# JS (comments removed first): the same ideas.
_JS_PATTERNS = {
    "eval": r"(?<![\w$])eval\s*\(",
    "new Function": r"\bnew\s+Function\b|(?<![\w.$])Function\s*\(",
    "runPython": r"\brunPython(Async)?\b",
    "innerHTML": r"\.(innerHTML|outerHTML)\s*[+]?=",
    "insertAdjacentHTML": r"\binsertAdjacentHTML\b|\bcreateContextualFragment\b|\bsetHTMLUnsafe\b",
    "document.write": r"\bdocument\.write(ln)?\s*\(",
    "string timer": r"\bset(Timeout|Interval)\s*\(\s*[\"'`]",
    "javascript: URL": r"javascript:",
}
# HTML: inline handlers and inline scripts would also need 'unsafe-inline'.
_HTML_PATTERNS = {
    "inline handler": r"<[^>]+\son[a-z]+\s*=",
    "inline script": r"<script\b(?![^>]*\bsrc=)[^>]*>\s*\S",
    "javascript: URL": r"javascript:",
}


def python_problems(source: str) -> list[str]:
    """Lines of Python source that evaluate text as code or markup, or unpickle."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _PY_CALLS:
            problems.append(f"line {line}: {node.func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in _PY_ATTRIBUTES:
            problems.append(f"line {line}: .{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            names += [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name.split(".")[0] in _PY_MODULES or name in _PY_CALLS | _PY_ATTRIBUTES:
                    problems.append(f"line {line}: import {name}")
        elif isinstance(node, ast.keyword) and node.arg == "allow_pickle" and not (
                isinstance(node.value, ast.Constant) and node.value.value is False):
            problems.append(f"line {line}: allow_pickle not False")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in _PY_CALLS | _PY_ATTRIBUTES:
            problems.append(f"line {line}: getattr(..., {node.args[1].value!r})")
    return problems


def _strip_js_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    return re.sub(r"(?m)(^|[^:\\])//.*$", r"\1", source)


def js_problems(source: str, patterns: dict[str, str] = _JS_PATTERNS) -> list[str]:
    """What in JS (or HTML, with `_HTML_PATTERNS`) evaluates text as code or markup."""
    text = _strip_js_comments(source) if patterns is _JS_PATTERNS else re.sub(r"<!--.*?-->", "", source, flags=re.S)
    problems = []
    for name, pattern in patterns.items():
        for match in re.finditer(pattern, text):
            problems.append(f"line {text.count(chr(10), 0, match.start()) + 1}: {name}: {match.group(0)[:40]!r}")
    return problems


def _files(*globs: str) -> list[Path]:
    found = sorted({path for glob in globs for path in ROOT.glob(glob)})
    assert found, f"no files match {globs}"
    return found


@pytest.mark.parametrize("path", _files("py/inkling/**/*.py", "py/inkling_build/*.py", "web/*.py", "build.py"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_never_evaluates_text(path: Path) -> None:
    problems = python_problems(path.read_text())
    # The one exception: the build compiles the pinned runtime's and inkling's own sources to bytecode
    # (under Node, never in the site); nothing it compiles comes from a user.
    if path.relative_to(ROOT).as_posix() == "py/inkling_build/bytecode_job.py":
        problems = [problem for problem in problems if not problem.endswith(": compile()")]
    assert problems == []


@pytest.mark.parametrize("path", _files("web/*.js", "workers/*.js"), ids=lambda p: str(p.relative_to(ROOT)))
def test_js_never_evaluates_text(path: Path) -> None:
    assert js_problems(path.read_text()) == []


@pytest.mark.parametrize("path", _files("web/*.html"), ids=lambda p: str(p.relative_to(ROOT)))
def test_html_has_no_inline_code(path: Path) -> None:
    assert js_problems(path.read_text(), _HTML_PATTERNS) == []


# ---- the scanners catch what they must ---------------------------------------------------------

@pytest.mark.parametrize("snippet", [
    "eval(text)", "exec(code)", "compile(src, 'f', 'exec')", "__import__(name)", "import pickle",
    "from pickle import loads", "import marshal", "pyodide.runPython(code)", "await pyodide.runPythonAsync(code)",
    "from pyodide.code import run_js", "run_js(code)", "element.innerHTML = name", "node.outerHTML = x",
    "el.insertAdjacentHTML('beforeend', s)", "js.Function.new('return 1')", "np.load(f, allow_pickle=True)",
    "np.load(f, allow_pickle=flag)", "getattr(js, 'eval')(s)", "from pyodide.code import eval_code",
])
def test_the_python_scanner_flags(snippet: str) -> None:
    assert python_problems(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "eval(x)", "window.eval(x)", "new Function('a', body)", "Function('return 1')()", "pyodide.runPython(code)",
    "el.innerHTML = text", "el.innerHTML += text", "el.outerHTML = t", "el.insertAdjacentHTML('afterend', t)",
    "document.write(t)", "setTimeout('go()', 1)", "a.href = 'javascript:alert(1)'",
])
def test_the_js_scanner_flags(snippet: str) -> None:
    assert js_problems(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "<img src=x onerror=alert(1)>", "<button onclick=\"go()\">", "<script>alert(1)</script>",
    "<a href=\"javascript:go()\">",
])
def test_the_html_scanner_flags(snippet: str) -> None:
    assert js_problems(snippet, _HTML_PATTERNS), snippet


@pytest.mark.parametrize("snippet", [
    "// eval(x) in a comment", "el.textContent = text", "evaluate(x)", "retrieval(x)", "functions(x)",
    "<script type=\"module\" src=\"./bridge.js\"></script>", "x.evaluated = 1",
])
def test_the_scanners_leave_harmless_code_alone(snippet: str) -> None:
    assert js_problems(snippet) == [] or snippet.startswith("<")
    assert js_problems(snippet, _HTML_PATTERNS) == [] or not snippet.startswith("<")


# ---- the Content-Security-Policy ----------------------------------------------------------------

def test_the_pages_meta_policy_is_the_one_build_py_sends() -> None:
    html = (ROOT / "web" / "index.html").read_text()
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert meta, "web/index.html declares no Content-Security-Policy"
    assert meta.group(1) == CSP_PAGE


def test_the_policy_allows_only_this_origin() -> None:
    for policy in (CSP_PAGE, CSP_WORKER):
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
        for name, sources in directives.items():
            assert "'unsafe-inline'" not in sources and "*" not in sources.split() and "http" not in sources, name
    assert "'unsafe-eval'" not in CSP_WORKER.split()  # only PyScript, on the page, needs it
