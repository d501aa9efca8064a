"""The core is headless: importing it (and every command module) never loads Textual.

And the package has no import cycle, counting every import the code can run:
at module level, inside functions and under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
from conftest import ROOT

import ztsim
import ztsim.cli.commands

CORE = [
    "ztsim",
    "ztsim.model.schema",
    "ztsim.inputs.documents",
    "ztsim.inputs.loader",
    "ztsim.model.diagnostics",
    "ztsim.engine.compiled",
    "ztsim.engine.fixpoint",
    "ztsim.engine.plans",
    "ztsim.analysis.analyze",
    "ztsim.output.graph",
    "ztsim.output.console",
    "ztsim.model.techniques",
    "ztsim.cli.main",
]


def _commands() -> list[str]:
    found = pkgutil.iter_modules(ztsim.cli.commands.__path__)
    return sorted(f"ztsim.cli.commands.{m.name}" for m in found)


def _all_but_tui() -> list[str]:
    """Every module of the package outside ``ztsim.tui`` (found without importing them)."""
    found: list[str] = []

    def walk(path: list[str], prefix: str) -> None:
        for m in pkgutil.iter_modules(path):
            name = prefix + m.name
            if name == "ztsim.tui" or name == "ztsim.__main__":
                continue  # the face that may use Textual; __main__ runs the CLI
            found.append(name)
            if m.ispkg:
                walk([str(Path(path[0]) / m.name)], name + ".")

    walk(list(ztsim.__path__), "ztsim.")
    return sorted(found)


def test_core_and_commands_do_not_import_textual():
    """In a fresh interpreter: import everything but ztsim.tui, build the parser, check."""
    modules = CORE + _commands() + [m for m in _all_but_tui() if m not in CORE]
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "from ztsim.cli.main import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_the_module_lists_cover_the_known_modules():
    """The hygiene test above really imports the command modules and the core."""
    assert {"ztsim.cli.commands.check", "ztsim.cli.commands.tui"} <= set(_commands())
    assert set(CORE) - {"ztsim"} <= set(_all_but_tui())
    assert not [m for m in _all_but_tui() if m.startswith("ztsim.tui")]


def test_a_check_run_does_not_import_textual():
    """Running ``check`` end to end in a fresh process does not load Textual either."""
    code = (
        "import sys\n"
        "from ztsim.cli.main import main\n"
        "rc = main(['check', 'topologies/pajemploi.yaml', '--format', 'json'])\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'textual'], 'textual loaded'\n"
        "sys.stderr.write(f'rc={rc}')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.endswith("rc=1")
    assert ztsim.__version__


# --------------------------------------------------------------------------- import cycles

#: Imports that close a cycle still to be broken, as (importer, imported).  Each is
#: removed from the graph before the check, so any other cycle still fails it.
KNOWN_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset()


def _modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Every module of ``package`` under ``root``: dotted name -> (file, is a package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return found


def import_graph(root: Path, package: str) -> nx.DiGraph:
    """The module import graph of ``package`` (sources under ``root``), from the AST.

    Every ``import``/``from ... import`` counts, wherever it is (module level,
    functions, ``if TYPE_CHECKING:``).  Relative imports are resolved;
    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
    else to ``pkg``.  ``import a.b`` is an edge to ``a.b`` alone: every module
    runs its packages' ``__init__`` first, and a package that re-exports its
    submodules (``ztsim/__init__``) is no cycle unless one of them imports a name
    from it, which is an edge to the package and is caught.
    """
    modules = _modules(root, package)
    graph = nx.DiGraph()
    for name, (path, is_pkg) in modules.items():
        graph.add_node(name)
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    origin = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    origin = node.module or ""
                for a in node.names:
                    sub = f"{origin}.{a.name}"
                    targets.append(sub if sub in modules else origin)
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def cycles_of(graph: nx.DiGraph) -> list[str]:
    """Per strongly connected component, its shortest cycle through its first module
    (``a -> b -> a``) and, when the component is larger, all its modules; sorted."""
    out = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            sub = graph.subgraph(component)
            start = min(component)
            back = min(
                (nx.shortest_path(sub, s, start) for s in sorted(sub.successors(start))),
                key=lambda path: (len(path), path),
            )
            line = " -> ".join([start, *back])
            if len(component) > len(back):
                line += f"  (cycles among: {', '.join(sorted(component))})"
            out.append(line)
    return sorted(out)


def test_the_package_has_no_import_cycle():
    """No module of ztsim reaches itself through imports, even deferred ones."""
    graph = import_graph(ROOT, "ztsim")
    assert len(graph) > 50 and graph.has_edge("ztsim.analysis.judged", "ztsim.engine.fixpoint")
    stale = sorted(e for e in KNOWN_CYCLE_EDGES if not graph.has_edge(*e))
    assert not stale, f"known cycle edges no longer in the code, drop them: {stale}"
    graph.remove_edges_from(KNOWN_CYCLE_EDGES)
    cycles = cycles_of(graph)
    assert not cycles, "import cycles (import the shared piece from the lower module):\n" + (
        "\n".join(cycles)
    )


def test_the_walker_sees_deferred_relative_and_type_checking_imports(tmp_path: Path) -> None:
    """Each import form the cycle check relies on makes an edge (so a cycle can fail it)."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg.sub import c\n",
        "a.py": "def f():\n    from . import b\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.c import X\n",
        "sub/__init__.py": "",
        "sub/c.py": "import pkg.a\nfrom .. import VERSION\nX = 1\n",
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert sorted(graph.edges) == [
        ("pkg", "pkg.sub.c"),
        ("pkg.a", "pkg.b"),
        ("pkg.b", "pkg.sub.c"),
        ("pkg.sub.c", "pkg"),
        ("pkg.sub.c", "pkg.a"),
    ]
    assert cycles_of(graph) == [
        "pkg -> pkg.sub.c -> pkg  (cycles among: pkg, pkg.a, pkg.b, pkg.sub.c)"
    ]
    graph.remove_edge("pkg.sub.c", "pkg")  # the deferred and TYPE_CHECKING imports remain
    assert cycles_of(graph) == ["pkg.a -> pkg.b -> pkg.sub.c -> pkg.a"]
