"""The layout of the checkout (issue 38): ``experiments/`` is a fenced lab that uses only the packages'
public names (their ``__all__``); the installed packages never import it (the wheel does not contain
it); and the packages' modules import one another without a cycle.

Pure ``ast``: nothing here imports torch, so the whole file takes well under a second.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("asg_gym", "agents", "asg_benchmark")
EXPERIMENTS = ROOT / "experiments"



def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{getattr(node, 'lineno', '?')}"


@cache
def public_names(package: str) -> frozenset[str]:
    """``package.__all__``, read from its ``__init__.py`` (a literal list, as every package here keeps it)."""
    tree = ast.parse((ROOT / package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    raise AssertionError(f"{package}/__init__.py has no literal __all__")


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def private_uses(path: Path) -> Iterator[str]:
    """Every use in ``path`` of a package name that is not ``from <package> import <public names>``,
    ``import <package>`` (to register the env ids) or ``<package>.<public name>``, as ``file:line: what``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bound: dict[str, str] = {}  # local name -> package, for `import asg_gym [as g]`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top not in PACKAGES:
                    continue
                if alias.name != top:
                    yield f"{_where(path, node)}: import {alias.name} (a submodule; import public names from {top})"
                else:
                    bound[alias.asname or top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top not in PACKAGES:
                continue
            if node.module != top:
                names = ", ".join(a.name for a in node.names)
                yield f"{_where(path, node)}: from {node.module} import {names} (a submodule; use {top}.__all__)"
                continue
            for alias in node.names:
                if alias.name not in public_names(top):
                    yield f"{_where(path, node)}: from {top} import {alias.name} (not in {top}.__all__)"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and node.attr not in public_names(bound[node.value.id])):
            yield f"{_where(path, node)}: {node.value.id}.{node.attr} (not in {bound[node.value.id]}.__all__)"


def test_experiments_use_only_public_names() -> None:
    files = _python_files(EXPERIMENTS)
    assert files, f"no experiments under {EXPERIMENTS}"
    found = [use for path in files for use in private_uses(path)]
    assert not found, "experiments/ must use only the packages' public names:\n" + "\n".join(found)


def test_the_rule_catches_private_imports(tmp_path: Path) -> None:
    """The checker itself: every forbidden form is named with its line, the allowed ones pass."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asg_gym  # noqa: F401\n"
        "import asg_gym.envs\n"
        "from asg_gym.checkpoint import save_checkpoint\n"
        "from agents import make_agent, _SB3_AGENTS\n"
        "def f():\n"
        "    from asg_benchmark.registry import GREEDY_SUFFIX\n"
        "    return asg_gym.__version__, asg_gym._ENVS\n"
    )
    found = list(private_uses(sample))
    assert [use.split(":")[1] for use in found] == ["2", "3", "4", "6", "7"], found


def _package_modules() -> dict[str, Path]:
    """Every module of the three packages by dotted name (a package by its own name, for its __init__)."""
    modules = {}
    for package in PACKAGES:
        for path in _python_files(ROOT / package):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when a module is imported: its body, into if/try/with blocks (so
    ``if TYPE_CHECKING:`` imports count) and class bodies, but not into functions."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(stmt, field, []))
        for handler in getattr(stmt, "handlers", []):
            yield from _module_level(handler.body)


def import_edges(modules: dict[str, Path]) -> dict[str, dict[str, str]]:
    """``{module: {imported module: "file:line"}}`` for the module-level imports between the packages'
    modules. Only the module an import names is an edge (``from package import submodule`` names the
    submodule, ``from package import name`` the package): a submodule's implicit import of its parent
    package is not, so a package ``__init__`` that re-exports its submodules does not close a cycle
    with them."""
    edges: dict[str, dict[str, str]] = {}
    for name, path in modules.items():
        out = edges.setdefault(name, {})
        is_package = path.name == "__init__.py"
        for stmt in _module_level(ast.parse(path.read_text(), filename=str(path)).body):
            targets: list[str] = []
            if isinstance(stmt, ast.Import):
                targets = [alias.name for alias in stmt.names]
            elif isinstance(stmt, ast.ImportFrom):
                if stmt.level:  # relative: from the module's package, up level - 1 more
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (stmt.level - 1)]
                    module = ".".join([*base, stmt.module] if stmt.module else base)
                else:
                    module = stmt.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in stmt.names]
            for target in targets:
                if target in modules and target != name:
                    out.setdefault(target, _where(path, stmt))
    return edges


def find_cycles(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """A shortest cycle through each strongly connected component of more than one module (Tarjan), from
    its first module by name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [_shortest_cycle(min(component), edges, set(component)) for component in components]


def _shortest_cycle(start: str, edges: dict[str, dict[str, str]], members: set[str]) -> list[str]:
    """Breadth first from ``start`` inside its component until an edge leads back to it."""
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(edges[v]):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if w in members and w not in parent:
                    parent[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"{start} is in a component but on no cycle")


def test_no_import_cycles() -> None:
    edges = import_edges(_package_modules())
    cycles = find_cycles(edges)
    lines = [" -> ".join([*cycle, cycle[0]]) + "\n" + "\n".join(
        f"    {a} imports {b} at {edges[a][b]}" for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True))
        for cycle in cycles]
    assert not cycles, "import cycles between the packages' modules (module level, TYPE_CHECKING included):\n" + \
        "\n".join(lines)


def test_the_cycle_finder() -> None:
    edges = {"a": {"b": "a.py:1"}, "b": {"c": "b.py:1", "d": "b.py:2"}, "c": {}, "d": {"a": "d.py:1"}, "e": {"a": ""}}
    assert find_cycles(edges) == [["a", "b", "d"]]
    assert find_cycles({"p": {"p.x": ""}, "p.x": {}}) == []


def test_packages_do_not_import_experiments() -> None:
    found = []
    for package in PACKAGES:
        for path in _python_files(ROOT / package):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                found += [f"{_where(path, node)}: imports {n}" for n in names if n.split(".")[0] == "experiments"]
    assert not found, "the installed packages must not import experiments/ (not in the wheel):\n" + "\n".join(found)


def test_asg_gym_lazy_names_match_its_type_checking_imports() -> None:
    """asg_gym imports its public parts on first use (``_LAZY``), and names them again under
    ``TYPE_CHECKING`` for type checkers: both say the same, and with the eager names make ``__all__``."""
    import asg_gym  # cheap: no torch

    lazy = asg_gym._LAZY
    typed: dict[str, tuple[str, str]] = {}
    eager: set[str] = set()
    for node in ast.parse((ROOT / "asg_gym" / "__init__.py").read_text()).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            typed = {a.asname or a.name: (stmt.module or "", a.name) for stmt in node.body
                     if isinstance(stmt, ast.ImportFrom) for a in stmt.names}
        elif isinstance(node, ast.Assign):
            eager |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    assert lazy and lazy == typed
    assert set(lazy) | (eager & public_names("asg_gym")) == public_names("asg_gym")
    modules = _package_modules()
    for name, (module, attribute) in lazy.items():  # each target is defined (or imported) at its module's top
        body = ast.parse(modules[module].read_text()).body
        defined = {t.id for n in body if isinstance(n, ast.Assign | ast.AnnAssign)
                   for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        defined |= {n.name for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        defined |= {a.asname or a.name for n in body if isinstance(n, ast.ImportFrom) for a in n.names}
        assert attribute in defined, f"asg_gym.{name}: {module} has no {attribute}"


def test_importing_asg_gym_does_not_import_torch() -> None:
    """gymnasium's registration imports asg_gym: it registers the ids and nothing heavy."""
    code = ("import sys, asg_gym\n"
            "heavy = {'torch', 'stable_baselines3', 'ray', 'matplotlib'} & set(sys.modules)\n"
            "assert not heavy, heavy\n"
            "from asg_gym import LRSchedule\n"  # on first use, from its module
            "from asg_gym.schedules import LRSchedule as L\n"
            "assert LRSchedule is L\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
