"""The layout of py/: imports run one way, from the threads and the command line down to the maths,
and no two modules import each other, directly or round a loop.

The walk reads every import statement of every module with `ast` (those under ``TYPE_CHECKING`` and
inside functions too): a loop that only a type checker or a late call follows is still a loop in
the design. docs/architecture.md draws the same rooms.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / "py"

# Rooms from the bottom up. A module may import from its own room and from rooms on lower floors;
# rooms on one floor know nothing of each other.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("inkling", "inkling.errors"),  # the package's face (imports nothing) and the errors every room raises
    ("inkling.network", "inkling.data"),
    ("inkling.messages",),
    ("inkling.training",),
    ("inkling.page", "inkling.worker", "inkling.predict", "inkling.export"),
    ("inkling.cli",),
    ("inkling.__main__",),
    ("inkling_build",),
)
MAX_TOP_LEVEL_MODULES = 10
MAX_LINES = 320


def module_name(file: Path) -> str:
    """``py/inkling/network/mlp.py`` -> ``inkling.network.mlp``; a package's ``__init__`` is the package."""
    parts = file.relative_to(PY).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of py/, by dotted name."""
    return {module_name(f): f for f in sorted(PY.rglob("*.py"))}


def imports_of(name: str, file: Path, known: set[str]) -> set[str]:
    """The modules of py/ that ``file`` imports anywhere in it.

    ``from package import name`` counts as importing the module ``package.name`` when there is
    one, else the package itself.
    """
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                found.add(f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin)
    return {target for target in found if target in known and target != name}


def import_graph() -> dict[str, set[str]]:
    """Each module of py/ and the modules of py/ it imports."""
    found = modules()
    return {name: imports_of(name, file, set(found)) for name, file in found.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a loop to show."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_loop_through(group, graph) for group in groups]


def _loop_through(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One loop of imports inside a strongly connected ``group``, from its first member back to it."""
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first, so the loop shown is a shortest one
        node = frontier.pop(0)
        for target in sorted(graph[node] & set(group)):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                frontier.append(target)
    return group


def room_of(name: str) -> str:
    """The room a module stands in: the longest room name it starts with."""
    rooms = [room for floor in FLOORS for room in floor if name == room or name.startswith(room + ".")]
    if not rooms:
        raise LookupError(f"{name} stands in no room: add its subpackage to FLOORS and to docs/architecture.md")
    return max(rooms, key=len)


def floor_of(room: str) -> int:
    return next(i for i, floor in enumerate(FLOORS) if room in floor)


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    """Each import that goes up a floor or sideways into another room of the same floor."""
    found = []
    for name, targets in sorted(graph.items()):
        room = room_of(name)
        for target in sorted(targets):
            other = room_of(target)
            if other != room and floor_of(other) >= floor_of(room):
                found.append(f"{name} imports {target}: {other} is not below {room}")
    return found


def test_the_walk_reads_relative_type_checking_and_late_imports(tmp_path: Path) -> None:
    """The walk itself: what it must see to be trusted with the tests below."""
    graph = import_graph()
    assert "inkling.messages.protocol" in graph["inkling.training.trainer"]  # `from ..messages import protocol as p`
    assert "inkling.network.engine" in graph["inkling.network.engine.select"]  # `from . import ENGINE_NAMES`
    assert len(graph) > 60
    module = tmp_path / "a.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
                      "def late():\n    from .c import sub\n    import d\n")
    known = {"p.a", "p.b", "p.c", "p.c.sub", "d"}
    assert imports_of("p.a", module, known) == {"p.b", "p.c.sub", "d"}


def test_no_module_of_py_imports_itself_round_a_loop() -> None:
    loops = [" -> ".join(loop) for loop in circles(import_graph())]
    assert loops == [], "import circles:\n" + "\n".join(loops)


def test_the_circle_finder_names_a_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert circles(graph) == [["a", "b", "c", "a"]]


def test_imports_run_down_the_floors_only() -> None:
    problems = wrong_way(import_graph())
    assert problems == [], "\n".join(problems)


def test_the_floor_rule_catches_an_upward_and_a_sideways_import() -> None:
    graph = {"inkling.network.mlp": {"inkling.training.learner"}, "inkling.training.learner": set(),
             "inkling.data.blocks": {"inkling.network.mlp"}}
    assert wrong_way(graph) == [
        "inkling.data.blocks imports inkling.network.mlp: inkling.network is not below inkling.data",
        "inkling.network.mlp imports inkling.training.learner: inkling.training is not below inkling.network",
    ]


def test_every_subpackage_says_what_it_is_and_what_it_may_import() -> None:
    for init in sorted((PY / "inkling").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in doc, f"{init.relative_to(ROOT)}: its docstring should say what it may import"
        room_of(module_name(init))  # and it stands in a room


def test_the_package_is_rooms_with_few_modules_beside_them() -> None:
    top = sorted(f.name for f in (PY / "inkling").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_modules_stay_short() -> None:
    lines = {str(f.relative_to(ROOT)): len(f.read_text().splitlines()) for f in sorted(PY.rglob("*.py"))}
    long = {name: n for name, n in lines.items() if n > MAX_LINES}
    assert long == {}, f"over {MAX_LINES} lines: split each by what its parts are"
