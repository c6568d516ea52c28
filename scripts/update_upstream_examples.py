"""Copy kestra-io/plugin-git's @Example flows into tests/data/upstream_examples/.

Usage: ``python scripts/update_upstream_examples.py GIT_DIR [REV]`` where GIT_DIR is a clone
(or bare mirror) of https://github.com/kestra-io/plugin-git and REV defaults to HEAD. Each
``@Example(... code = \"\"\"...\"\"\")`` text block of ``src/main/java`` is written verbatim
(Java's text-block indentation removed) as ``<Task>_<n>.yml``, ``n`` counting from 0 in source
order. ``tests/test_upstream_examples.py`` validates every file and checks the count.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "upstream_examples"
EXAMPLE = re.compile(r"@Example\((.*?)\n\s*\)", re.S)
CODE = re.compile(r'code\s*=\s*"""\n(.*?)"""', re.S)


def git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", git_dir, *args], capture_output=True, text=True, check=True
    ).stdout


def main(git_dir: str, rev: str = "HEAD") -> int:
    count = 0
    for path in git(git_dir, "ls-tree", "-r", "--name-only", rev).split():
        if not (path.startswith("src/main/") and path.endswith(".java")):
            continue
        task = Path(path).stem
        examples = EXAMPLE.findall(git(git_dir, "show", f"{rev}:{path}"))
        for n, body in enumerate(b for b in examples if CODE.search(b)):
            code = CODE.search(body)
            assert code is not None
            text = textwrap.dedent(code.group(1)).replace('\\"', '"')
            (OUT / f"{task}_{n}.yml").write_text(text, encoding="utf-8")
            count += 1
    print(f"wrote {count} example flows to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
