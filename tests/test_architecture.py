"""docs/architecture.md stays true: every module it names exists, every module is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kestra_git_tasks"
PAGE = ROOT / "docs" / "architecture.md"


def _modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py")
    ]


def test_every_module_of_the_package_is_on_the_architecture_page() -> None:
    text = PAGE.read_text()
    missing = [
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if not re.search(rf"(?<![\w.]){re.escape(path.stem)}(?![\w])", text)
    ]
    assert missing == [], f"docs/architecture.md does not mention: {missing}"


def test_every_module_the_architecture_page_names_exists() -> None:
    names = {
        path.name
        for folder in ("kestra_git_tasks", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
    }
    named = set(re.findall(r"[\w]+\.py\b", PAGE.read_text()))
    assert named - names == set(), f"docs/architecture.md names missing modules: {named - names}"


def test_every_package_the_architecture_page_names_exists() -> None:
    named = set(re.findall(r"`((?:[a-z_]+/)+)`", PAGE.read_text()))
    for folder in named:
        assert (PACKAGE / folder).is_dir() or (ROOT / folder).is_dir(), folder


def test_modules_and_functions_stay_small() -> None:
    """A module over 450 lines or a function over 60 is a sign to split it at its seam."""
    import ast

    too_big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        if source.count("\n") > 450:
            too_big.append(f"{path.relative_to(PACKAGE)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_big.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}()")
    assert too_big == []
