"""Every ```python block of the README and docs/ type-checks under `mypy --strict` with the
pydantic plugin, as a user's project would check it; a control block with a camelCase keyword
(not the documented Python form) must fail, so the check is real."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
CONTROL = """\
from kestra_git_tasks import SyncFlows

SyncFlows(id="s", url="https://example.com/r.git", targetNamespace="prod")
"""
CONFIG = """\
[mypy]
strict = True
plugins = pydantic.mypy
python_version = 3.11

[mypy-pygit2.*,croniter.*]
ignore_missing_imports = True
"""


def python_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in PAGES:
        if not page.is_file():
            continue
        for number, match in enumerate(FENCE.finditer(page.read_text(encoding="utf-8"))):
            indent, body = match.groups()
            lines = [line.removeprefix(indent) for line in body.splitlines()]
            name = f"{page.relative_to(ROOT)}[{number}]"
            blocks.append((name, textwrap.dedent("\n".join(lines)) + "\n"))
    return blocks


def test_the_docs_hold_python_examples() -> None:
    names = [name for name, _ in python_blocks()]
    assert "README.md[0]" in names and "docs/quickstart.md[1]" in names, names


def test_every_python_example_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    files: dict[str, str] = {}
    for index, (name, code) in enumerate(python_blocks()):
        module = tmp_path / f"example_{index}.py"
        module.write_text(code, encoding="utf-8")
        files[module.name] = name
    (tmp_path / "control.py").write_text(CONTROL, encoding="utf-8")
    (tmp_path / "mypy.ini").write_text(CONFIG, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "mypy.ini",
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "docs-examples"),
            *files,
            "control.py",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=600,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    in_docs = [
        f"{files[line.split(':')[0]]}: {line}" for line in errors if line.split(":")[0] in files
    ]
    assert in_docs == [], "\n".join(in_docs)
    assert any(
        line.startswith("control.py:3:") and 'Unexpected keyword argument "targetNamespace"' in line
        for line in errors
    ), result.stdout + result.stderr
