"""The YAML parsers a flow's validation could use: speed on the benchmark's flows and agreement
with the loader Kestra's rules use today (``kestra_git_tasks.yamlio``).

Run from the repository root: ``python -m bench.parsers [--flows 2000] [--json PATH]``. It
prints a table and writes JSON (default ``bench/results/parsers.json``). Parsers that are not
installed are listed as such: ``pip install rapidyaml yaml-rs ruamel.yaml`` to measure them.

Columns:

- ``us/flow``: median of 5 passes over ``--flows`` generated flows (``bench/_common.flow_yaml``),
  process CPU time, so that a busy machine disturbs it less;
- ``scalars``: of the scalars in :data:`SCALARS` (YAML 1.1 versus 1.2 versus Jackson), how many
  come out as the current loader reads them (same value and type);
- ``dup keys``: whether a duplicate key is refused (Kestra's ``STRICT_DUPLICATE_DETECTION``);
- ``merge``: whether ``<<`` merge keys are merged as the current loader does;
- ``lines``: whether the result knows each value's line (needed for messages only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, flow_yaml

#: Plain scalars whose meaning differs between YAML 1.1 (SnakeYAML, PyYAML), YAML 1.2 core and
#: the loader's rules (only true/false are booleans, dates stay strings).
SCALARS = (
    *("on", "yes", "no", "off", "y", "True", "FALSE", "tRue"),
    *("0755", "0o755", "0x1F", "0b101", "1_000", "1:30", "08", "+12", "-0"),
    *("1e3", "1.0e+3", "1.0e3", ".inf", "-.Inf", ".NaN", "1."),
    *("~", "null", "Null", "NULL", "", "2024-01-01", "2024-01-01T10:00:00Z"),
)
DUPLICATE = "a: 1\na: 2\n"
MERGE = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  z: 3\n"

Parser = Callable[[str], Any]


def _parsers() -> dict[str, tuple[Parser | None, bool, str]]:
    """name -> (parse function or None when not installed, knows lines, note)."""
    import yaml

    from kestra_git_tasks.yamlio import load_yaml

    found: dict[str, tuple[Parser | None, bool, str]] = {
        "yamlio lines (before)": (load_yaml, True, "PyYAML C parser, LineDict construction"),
        "yamlio plain (fast path)": (
            lambda text: load_yaml(text, lines=False),
            False,
            "libyaml events, plain construction (yamlplain)",
        ),
        "PyYAML CSafeLoader": (
            lambda text: yaml.load(text, Loader=yaml.CSafeLoader),
            False,
            "YAML 1.1 resolvers (on/yes booleans, dates)",
        ),
        "PyYAML SafeLoader (pure)": (
            lambda text: yaml.load(text, Loader=yaml.SafeLoader),
            False,
            "pure Python",
        ),
    }
    try:
        from ruamel.yaml import YAML  # type: ignore[import-untyped,import-not-found,unused-ignore]

        ruamel = YAML(typ="safe", pure=True)
        found["ruamel.yaml safe (pure)"] = (ruamel.load, False, "YAML 1.2")
    except ImportError:
        found["ruamel.yaml safe (pure)"] = (None, False, "not installed")
    try:
        import yaml_rs  # type: ignore[import-untyped,import-not-found,unused-ignore]

        found["yaml-rs"] = (
            lambda text: yaml_rs.loads(text, parse_datetime=False),
            False,
            "Rust (saphyr), YAML 1.2 core",
        )
    except ImportError:
        found["yaml-rs"] = (None, False, "not installed")
    try:
        import ryml  # type: ignore[import-untyped,import-not-found,unused-ignore]

        found["rapidyaml + walk"] = (
            _ryml_loader(ryml),
            False,
            "C++ tree, walked in Python, scalars resolved by yamlio's rules; no aliases",
        )
    except ImportError:
        found["rapidyaml + walk"] = (None, False, "not installed")
    return found


def _ryml_loader(ryml: Any) -> Parser:
    """rapidyaml's tree turned into Python objects, plain scalars resolved as yamlio does (it
    only gives text): what using it for validation would cost."""
    import yaml

    from kestra_git_tasks.yamlio import _LineLoader

    loader = _LineLoader("")
    scalars = {
        "tag:yaml.org,2002:int": loader.construct_yaml_int,
        "tag:yaml.org,2002:float": loader.construct_yaml_float,
        "tag:yaml.org,2002:bool": loader.construct_yaml_bool,
        "tag:yaml.org,2002:null": loader.construct_yaml_null,
    }

    def scalar(text: str, plain: bool) -> Any:
        if not plain:
            return text
        tag = loader.resolve(yaml.ScalarNode, text, (True, False))
        construct = scalars.get(tag)
        return text if construct is None else construct(yaml.ScalarNode(tag, text))

    def walk(tree: Any, node: int) -> Any:
        if tree.is_map(node):
            result = {}
            child = tree.first_child(node)
            while child != ryml.NONE:
                key = scalar(bytes(tree.key(child)).decode(), tree.is_key_plain(child))
                if key in result:
                    raise ValueError(f"duplicate key {key!r}")
                result[key] = walk(tree, child)
                child = tree.next_sibling(child)
            return result
        if tree.is_seq(node):
            items = []
            child = tree.first_child(node)
            while child != ryml.NONE:
                items.append(walk(tree, child))
                child = tree.next_sibling(child)
            return items
        value = tree.val(node)
        return scalar(bytes(value).decode() if value is not None else "", tree.is_val_plain(node))

    def load(text: str) -> Any:
        tree = ryml.parse_in_arena(text.encode())
        root = tree.root_id()
        if tree.is_stream(root):
            root = tree.first_child(root)
        return walk(tree, root)

    return load


def _timing(parse: Parser, texts: list[str]) -> float:
    passes = []
    for _ in range(5):
        start = time.process_time()
        for text in texts:
            parse(text)
        passes.append((time.process_time() - start) / len(texts) * 1e6)
    return statistics.median(passes)


def _same(left: Any, right: Any) -> bool:
    if type(left) is not type(right) and not (isinstance(left, dict) and isinstance(right, dict)):
        return False
    if isinstance(left, float) and left != left:
        return bool(right != right)
    return bool(left == right)


def _scalars(parse: Parser, reference: Parser) -> int:
    agree = 0
    for text in SCALARS:
        try:
            if _same(parse(f"v: {text}\n")["v"], reference(f"v: {text}\n")["v"]):
                agree += 1
        except Exception:  # a parser refusing a scalar does not agree
            continue
    return agree


def _refuses(parse: Parser, text: str) -> bool:
    try:
        parse(text)
    except Exception:  # any refusal counts
        return True
    return False


def _merges(parse: Parser, reference: Parser) -> bool:
    try:
        return bool(parse(MERGE) == reference(MERGE))
    except Exception:  # a refusal does not merge
        return False


def measure(flows: int) -> list[dict[str, Any]]:
    """One row per parser."""
    from kestra_git_tasks.yamlio import load_yaml

    texts = [flow_yaml(i, flows) for i in range(flows)]
    rows = []
    for name, (parse, lines, note) in _parsers().items():
        row: dict[str, Any] = {"parser": name, "note": note, "lines": lines}
        if parse is not None:
            row["us_per_flow"] = round(_timing(parse, texts), 1)
            row["scalars_agree"] = _scalars(parse, load_yaml)
            row["duplicate_keys_refused"] = _refuses(parse, DUPLICATE)
            row["merge_keys"] = _merges(parse, load_yaml)
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table."""
    head = f"{'parser':28} {'us/flow':>8} {'scalars':>8} {'dup keys':>9} {'merge':>6} {'lines':>6}"
    lines = [head]
    for row in rows:
        if "us_per_flow" not in row:
            lines.append(f"{row['parser']:28} {row['note']}")
            continue
        lines.append(
            f"{row['parser']:28} {row['us_per_flow']:8.1f} "
            f"{row['scalars_agree']:>3}/{len(SCALARS):<4} "
            f"{'refused' if row['duplicate_keys_refused'] else 'KEPT':>9} "
            f"{'yes' if row['merge_keys'] else 'NO':>6} {'yes' if row['lines'] else 'no':>6}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=2000, help="flows parsed per pass")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench/results/parsers.json")
    args = parser.parse_args()
    rows = measure(args.flows)
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"flows": args.flows, "rows": rows}, indent=2) + "\n")
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
