"""The layers hold for every import, function-local ones included (``lint-imports`` checks the contracts of
``.importlinter`` in ``make test``; this test states the two rules of docs/architecture.md that matter most in
the form a newcomer can read: no domain module imports an entry point or the application layer, and no two
files import each other in a circle)."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
NOT_CODE = {".venv", ".git", "tests", "benchmarks", "migrations", "scripts", "var", "artifacts", "node_modules",
            "static", "locale", "docs", "data_cache"}
DOMAIN = {"auth", "billing", "data", "dma", "forecast", "gis", "i18n", "incidents", "meters", "network", "notify", "orgs",
          "reports", "resident", "field"}
ABOVE = {"ops", "apps", "views"}


def _modules() -> dict[str, Path]:
    mods = {}
    tops = [p for p in ROOT.iterdir() if p.is_dir() and p.name not in NOT_CODE and (p / "__init__.py").exists()]
    for path in (f for top in tops for f in top.rglob("*.py")):  # app.py, app_server.py: Streamlit scripts
        rel = path.relative_to(ROOT)
        name = ".".join(rel.with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _imports(mods: dict[str, Path]) -> list[tuple[str, str, int]]:
    """(importer, imported project module, line) for every import statement, wherever it stands."""
    def resolve(name: str) -> str | None:
        while name:
            if name in mods:
                return name
            name = name.rpartition(".")[0]
        return None

    found = []
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for target in targets:
                hit = resolve(target)
                if hit and hit != name:
                    found.append((name, hit, node.lineno))
    return found


def test_no_domain_module_imports_the_layers_above() -> None:
    upward = sorted({f"{a} -> {b} (line {line})" for a, b, line in _imports(_modules())
                     if a.split(".")[0] in DOMAIN and b.split(".")[0] in ABOVE
                     and not a.endswith(".__main__")})  # `python -m X` calls apps.cli.X.main, nothing else
    assert upward == []


def test_no_two_files_import_each_other_in_a_circle() -> None:
    graph = nx.DiGraph((a, b) for a, b, _ in _imports(_modules()))
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)
    assert cycles == []


def test_every_main_only_calls_its_command_line() -> None:
    """A package's ``__main__.py`` is a few lines: the command line lives in apps/cli (above ops)."""
    long = [str(p.relative_to(ROOT)) for p in ROOT.glob("*/__main__.py")
            if p.parts[-2] not in NOT_CODE and len(p.read_text(encoding="utf-8").splitlines()) > 12]
    assert long == []
