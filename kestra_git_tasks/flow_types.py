"""The rules for a ``type:`` this library does not implement, from Kestra's catalog.

:class:`TypeRules` judges task, trigger, condition and task-runner types that the registry
(:mod:`.tasks.registry`, :mod:`.triggers`) does not run, with :mod:`.catalog`:

* a Kestra type (or alias) of the right kind: valid; listed in ``server_only`` (``run`` refuses
  it with "runs on a Kestra server, not locally");
* a Kestra type of another kind (a trigger under ``tasks``): a problem;
* any other name under ``io.kestra.``: a problem, with "did you mean" the closest name;
* a well-formed name outside ``io.kestra.`` (a custom plugin): valid, with a warning, and listed
  in ``server_only``;
* anything else: ``Invalid type``, as Kestra says.

A ``taskRunner`` other than Process is a Kestra task runner: valid, but the task refuses it
when it runs (``validate --local`` fails on it). Every task's ``timeout`` and ``retry``
durations must be ISO-8601, as Kestra requires (``PT5M``, not ``5m``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from .durations import parse_duration
from .errors import FlowFileError, FlowProblem
from .tasks.registry import known_task_types
from .templating import has_template
from .yamlio import line_of

__all__ = ["LOCAL_RUNNERS", "TYPE_PATTERN", "TypeRules", "source_warnings"]

TYPE_PATTERN = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*")
#: the task runners ``run`` runs here (commands are processes of this host)
LOCAL_RUNNERS = frozenset(
    {
        "io.kestra.plugin.core.runner.Process",
        "io.kestra.core.models.tasks.runners.types.ProcessTaskRunner",
    }
)
#: a dotted ``type:`` outside ``io.kestra.``; ``type:`` must start a word (see
#: :func:`_names_a_foreign_type`: a leading ``\b`` would make the search 15 times slower)
_NOT_KESTRA_TYPE = re.compile(r"type:\s*[\"']?(?!io\.kestra\.)[A-Za-z_$][\w$]*\.[\w$.]")


@dataclass
class TypeRules:
    """What a flow's foreign types make of it: problems, what runs on a server, warnings."""

    path: str
    problems: list[FlowProblem]
    server_only: list[FlowProblem] = field(default_factory=list)
    warnings: list[FlowProblem] = field(default_factory=list)
    #: what a task refuses when it runs here (a Docker task runner): for ``validate --local``
    refused_when_run: list[FlowProblem] = field(default_factory=list)

    def foreign(
        self, raw: dict[str, Any], type_name: str, kind: str, label: str, *, runs: bool = True
    ) -> bool:
        """Judge a type the registry does not run; True when the flow stays valid.

        ``runs``: whether a local run would need it (not a trigger's condition).
        """
        line = line_of(raw, "type")
        entry = catalog.lookup(type_name)
        if entry is not None and entry.kind != kind:
            self._problem(
                line, f"{label}: '{type_name}' is a Kestra {entry.kind} type, not a {kind} type"
            )
            return False
        if entry is not None:
            message = f"{label} ({type_name}) runs on a Kestra server, not locally"
            if kind == "taskRunner":  # the task runs, and fails naming its runner
                self.refused_when_run.append(FlowProblem(self.path, line, message))
            elif runs:
                self.server_only.append(FlowProblem(self.path, line, message))
            return True
        if catalog.is_kestra_name(type_name):
            close = catalog.suggest(type_name, kind, _local_names(kind))
            hint = f"; did you mean '{close}'?" if close else ""
            here = _local_names(kind)
            known = f"; known types: {', '.join(sorted(set(here)))} and " if here else "; known: "
            self._problem(
                line,
                f"{label}: unknown {kind} type '{type_name}'{hint}{known}the "
                f"{catalog.catalog_info()['count']} types of Kestra's catalog",
            )
            return False
        if not TYPE_PATTERN.fullmatch(type_name):
            self._problem(line, f"{label}: Invalid type: {type_name}")
            return False
        message = (
            f"{label}: '{type_name}' is not a Kestra type (a custom plugin?): stored unchecked; "
            "it runs on a Kestra server with that plugin, not locally"
        )
        self.warnings.append(FlowProblem(self.path, line, message))
        if runs:
            self.server_only.append(FlowProblem(self.path, line, message))
        return True

    def task_runner(self, raw: dict[str, Any], label: str) -> None:
        """A task's ``taskRunner`` type: checked like any type; only Process runs locally."""
        runner = raw.get("taskRunner")
        if not isinstance(runner, dict) or not isinstance(runner.get("type"), str):
            return
        type_name = runner["type"]
        if type_name in LOCAL_RUNNERS or has_template(type_name):
            return
        self.foreign(runner, type_name, "taskRunner", f"{label}.taskRunner")

    def durations(self, raw: dict[str, Any], label: str) -> None:
        """A task's ``timeout`` and ``retry`` durations, as ISO-8601 (Kestra refuses ``5m``)."""
        self._duration(raw, "timeout", label)
        retry = raw.get("retry")
        if isinstance(retry, dict):
            for key in ("interval", "maxInterval", "maxDuration"):
                self._duration(retry, key, f"{label}.retry")

    def _duration(self, raw: dict[str, Any], key: str, label: str) -> None:
        value = raw.get(key)
        if not isinstance(value, str) or has_template(value):
            return
        try:
            parse_duration(value)
        except ValueError as exc:
            self._problem(line_of(raw, key), f"{label}: property '{key}': {exc}")

    def conditions(self, items: Any, label: str) -> None:
        """The ``type`` of each condition of a trigger (a run ignores triggers and conditions)."""
        if not isinstance(items, list):
            return
        for index, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("type"), str):
                where = f"{label}.conditions[{index}]"
                self.foreign(item, item["type"], "condition", where, runs=False)

    def _problem(self, line: int | None, message: str) -> None:
        self.problems.append(FlowProblem(self.path, line, message))


def _local_names(kind: str) -> tuple[str, ...]:
    """The type names this library runs, of a kind: the first candidates of a suggestion."""
    if kind == "task":
        return tuple(known_task_types())
    if kind == "trigger":
        from .triggers import TRIGGER_TYPES

        return tuple(TRIGGER_TYPES)
    return ()


def source_warnings(source: str, path: str = "") -> list[str]:
    """What a valid flow source holds unchecked (types of custom plugins), as text.

    Cheap for the usual flow: only a source with a dotted ``type:`` outside ``io.kestra.`` is
    parsed again.
    """
    if not _names_a_foreign_type(source):
        return []
    from .flow import parse_flow  # flow imports this module

    try:
        return [str(warning) for warning in parse_flow(source, path).warnings]
    except FlowFileError:
        return []


def _names_a_foreign_type(source: str) -> bool:
    """Whether :data:`_NOT_KESTRA_TYPE` matches at the start of a word in ``source``: the
    regex finds ``type:`` by its letters, the word start is checked here."""
    for match in _NOT_KESTRA_TYPE.finditer(source):
        start = match.start()
        if start == 0 or not (source[start - 1].isalnum() or source[start - 1] == "_"):
            return True
    return False
