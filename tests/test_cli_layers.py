"""Only the CLI knows click: every other module of the package, read as source (its imports in
the syntax tree, not what importing it happens to load), never imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import kestra_git_tasks

PACKAGE = Path(kestra_git_tasks.__file__).parent
CLI = PACKAGE / "cli"


def imported_modules(source: str) -> set[str]:
    """Top-level names of every absolute import in ``source``, at any depth of the code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def library_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if CLI not in p.parents)


def test_no_module_outside_the_cli_imports_click() -> None:
    modules = library_modules()
    assert len(modules) > 30 and PACKAGE / "deploy.py" in modules
    offenders = [
        str(p.relative_to(PACKAGE)) for p in modules if "click" in imported_modules(p.read_text())
    ]
    assert offenders == []


def test_the_check_sees_imports_inside_functions_and_from_imports() -> None:
    source = "def f():\n    from click.testing import CliRunner\n"
    assert "click" in imported_modules(source)
    assert "click" in imported_modules("import os, click as c\n")
    assert "click" not in imported_modules("from .click import x\nclicks = 1\n")


def test_the_library_does_not_import_the_cli() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in library_modules()
        if p.name != "__main__.py" and _imports_cli(p.read_text())
    ]
    assert offenders == []


def _imports_cli(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "cli" or node.module.endswith(".cli") or ".cli." in node.module:
                return True
            if node.module.startswith("kestra_git_tasks.cli"):
                return True
    return False
