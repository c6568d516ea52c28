"""``Sequential``, ``Parallel``, ``ForEach`` and ``Loop``: groups of child tasks, once or per value.

The runner runs one task at a time: ``Parallel``'s tasks and ``ForEach``'s iterations run in
order, one after the other, whatever ``concurrent``/``concurrencyLimit`` say (accepted and
checked, see docs/differences.md). A failure stops the group; ``errors`` then run once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ....errors import ConfigError
from ..._base import Output as TaskOutput
from ._flowable import FlowableTask, non_empty_tasks, to_value

if TYPE_CHECKING:
    from ....context import RunContext

__all__ = ["MAX_VALUES", "ForEach", "Loop", "Parallel", "Sequential"]

#: Most values one ForEach iterates over; a longer list is refused before the first iteration.
MAX_VALUES = 1_000


class Sequential(FlowableTask):
    """Run tasks one after the other, as a group.

    The group fails at its first failing task; its `errors` then run. Useful to give a set of
    tasks one `errors` or `finally` branch, or to group them in a ForEach or Parallel.

    Examples:

    Two tasks in a group, then one after it:

    ```yaml
    id: sequential
    namespace: company.team
    tasks:
      - id: sequential
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: first_task
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }} > {{ taskrun.startDate }}"
          - id: second_task
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }} > {{ taskrun.id }}"
      - id: last
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.first_task.value }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.Sequential"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.flows.Sequential",)

    tasks: list[dict[str, Any]] = Field(description="Tasks to run, in order.")

    def run(self, ctx: RunContext) -> None:
        self.guarded(ctx, lambda: ctx.run_children("tasks"))
        return None


class Parallel(FlowableTask):
    """Run a group of tasks that Kestra would run in parallel.

    Here the tasks run one after the other, in the order written (`concurrent` is accepted
    and checked); the group fails at its first failing task and its `errors` then run.

    Examples:

    ```yaml
    id: parallel
    namespace: company.team
    tasks:
      - id: parallel
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: first
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }} > {{ taskrun.startDate }}"
          - id: second
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }} > {{ taskrun.id }}"
      - id: last
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.Parallel"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.flows.Parallel",)

    tasks: list[dict[str, Any]] = Field(min_length=1, description="Tasks of the group.")
    concurrent: int = Field(
        default=0,
        ge=0,
        description="Kestra's limit of tasks running at once (0: no limit). Accepted; here "
        "the tasks always run one at a time.",
    )

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Kestra's `@NotEmpty` on `tasks`."""
        problems = super().check_properties(properties)
        return problems + non_empty_tasks(properties, "tasks", "'tasks' must not be empty")

    def run(self, ctx: RunContext) -> None:
        self.guarded(ctx, lambda: ctx.run_children("tasks"))
        return None


class ForEach(FlowableTask):
    """Run a group of tasks once per value.

    `values` is a list, or a JSON array as text (what `{{ outputs.x.list }}` renders to).
    Each value becomes `taskrun.value` of the direct children, as text: strings as they are,
    numbers and maps as JSON (read a map back with `fromJson(taskrun.value)`); nested children
    read it as `parent.taskrun.value` (or through `parents`). Outputs of the children are
    keyed by value: `outputs.<child>[value]`. Duplicates run once; a null value is refused;
    more than 1,000 values are refused before the first iteration (use a Subflow per batch).
    Iterations run one after the other (`concurrencyLimit` is accepted and checked).

    Examples:

    Sync several namespaces from one repository, one folder each (upstream's recipe):

    ```yaml
    id: sync_namespaces
    namespace: system
    tasks:
      - id: for_each
        type: io.kestra.plugin.core.flow.ForEach
        values: ["company.team", "company.data"]
        tasks:
          - id: sync
            type: io.kestra.plugin.git.SyncFlows
            url: https://github.com/kestra-io/flows
            branch: main
            username: git_username
            password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
            targetNamespace: "{{ taskrun.value }}"
            gitDirectory: "flows/{{ taskrun.value }}"
    ```

    Values, a nested If reading its parent's value, and outputs keyed by value:

    ```yaml
    id: for_loop_example
    namespace: company.team
    tasks:
      - id: for_each
        type: io.kestra.plugin.core.flow.ForEach
        values: ["value 1", "value 2", "value 3"]
        tasks:
          - id: before_if
            type: io.kestra.plugin.core.debug.Return
            format: "Before if {{ taskrun.value }}"
          - id: if
            type: io.kestra.plugin.core.flow.If
            condition: '{{ taskrun.value == "value 2" }}'
            then:
              - id: after_if
                type: io.kestra.plugin.core.debug.Return
                format: "After if {{ parent.taskrun.value }}"
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ outputs.before_if['value 1'].value }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.ForEach"
    aliases: ClassVar[tuple[str, ...]] = ()

    values: list[Any] | str = Field(
        description="The values: a list, or a JSON array as text (rendered first)."
    )
    tasks: list[dict[str, Any]] = Field(min_length=1, description="Tasks run for each value.")
    concurrency_limit: int = Field(
        default=1,
        ge=0,
        description="Kestra's number of iterations running at once (0: no limit). Accepted; "
        "here iterations always run one at a time.",
    )

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Kestra's `@NotEmpty` on `tasks`."""
        problems = super().check_properties(properties)
        return problems + non_empty_tasks(properties, "tasks", "'tasks' must not be empty")

    def run(self, ctx: RunContext) -> None:
        values = self.loop_values()
        ctx.log("DEBUG", f"{len(values)} value(s)")

        def each() -> None:
            for value in values:
                ctx.run_children("tasks", value=value)

        self.guarded(ctx, each)
        return None

    def loop_values(self) -> list[str]:
        """The distinct values as text, in order; ConfigError for a null or too many."""
        items: Any = self.values
        if isinstance(items, str):
            try:
                items = json.loads(items)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"task '{self.id}': 'values' is not a list nor a JSON array ({exc.msg}): "
                    f"{items[:80]!r}"
                ) from exc
            if not isinstance(items, list):
                raise ConfigError(f"task '{self.id}': 'values' must be a list or a JSON array")
        nulls = sum(1 for item in items if item is None)
        if nulls:
            raise ConfigError(f"task '{self.id}': Found '{nulls}' null values on Each")
        distinct = list(dict.fromkeys(to_value(item) for item in items))
        if len(distinct) > MAX_VALUES:
            raise ConfigError(
                f"task '{self.id}': {len(distinct):,} values, more than the {MAX_VALUES:,} one "
                "ForEach runs; split them in batches, each run by a Subflow"
            )
        return distinct


class Loop(FlowableTask):
    """Run a group of tasks once per value, each iteration in its own context (Kestra 1.x+).

    `values` is a list, a map (one iteration per entry) or a JSON array or object as text.
    The children read the current item as `item.value` (text: strings as they are, anything
    else as JSON), `item.index` (from 0) and, for a map, `item.key`; inside nested loops
    `item.parent` is the enclosing Loop's item and `item.parents` all of them, closest first.
    An iteration sees the outputs of the tasks before the loop and its own children's as
    `outputs.<child>` (not keyed by value); after the loop they are kept as
    `outputs.<child>[value]`, as a ForEach keeps them; the Loop's own outputs count the
    iterations (`iterationCount`, `terminatedIterations`). Iterations run one after the other
    (`concurrencyLimit` is accepted and checked); more than 1,000 values are refused before
    the first iteration. Kestra's `outputs` property and `transmitFailed: false` are refused.

    Examples:

    Push the flows and files of several namespaces (plugin-git's recipe):

    ```yaml
    id: git_push
    namespace: company.ops
    tasks:
      - id: push
        type: io.kestra.plugin.core.flow.Loop
        values: ["company", "company.team"]
        tasks:
          - id: flows
            type: io.kestra.plugin.git.PushFlows
            url: https://github.com/kestra-io/scripts
            username: git_username
            password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
            branch: main
            sourceNamespace: "{{ item.value }}"
            gitDirectory: "{{ 'flows/' ~ item.value }}"
            includeChildNamespaces: false
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.Loop"
    aliases: ClassVar[tuple[str, ...]] = ()

    values: list[Any] | dict[str, Any] | str = Field(
        description="The values: a list, a map, or a JSON array or object as text."
    )
    tasks: list[dict[str, Any]] = Field(min_length=1, description="Tasks run for each value.")
    concurrency_limit: int = Field(
        default=1,
        ge=0,
        description="Kestra's number of iterations running at once (0: no limit). Accepted; "
        "here iterations always run one at a time.",
    )
    transmit_failed: bool = Field(
        default=True,
        description="Fail the Loop when an iteration fails (only `true` runs here).",
    )

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Kestra's `@NotEmpty` on `tasks`; what the runner does not do is refused."""
        problems = [p for p in super().check_properties(properties) if p[0] != "outputs"]
        problems += non_empty_tasks(properties, "tasks", "'tasks' must not be empty")
        if "outputs" in properties:
            problems.append(
                (
                    "outputs",
                    "a Loop's 'outputs' is not supported here; remove it and read the "
                    "children's outputs after the loop as outputs.<child>[value]",
                )
            )
        if properties.get("transmitFailed") is False:
            problems.append(
                (
                    "transmitFailed",
                    "transmitFailed: false is not supported here; remove it "
                    "(a failed iteration fails the Loop) or use allowFailure on the child tasks",
                )
            )
        return problems

    class Output(TaskOutput):
        """Outputs of Loop (Kestra's, once every iteration ended)."""

        iteration_count: int = Field(description="The number of iterations.")
        running_iterations: int = Field(description="Iterations still running (0 here).")
        terminated_iterations: int = Field(description="Iterations that ended.")

    def run(self, ctx: RunContext) -> Output:
        items = self.loop_items()
        ctx.log("DEBUG", f"{len(items)} value(s)")
        outer = ctx.loop_items[0] if ctx.loop_items else None

        def each() -> None:
            for item in items:
                if outer is not None:
                    item = {**item, "parent": outer, "parents": [outer, *outer["parents"]]}
                self._iterate(ctx, item)

        self.guarded(ctx, each)
        return self.Output(
            iteration_count=len(items), running_iterations=0, terminated_iterations=len(items)
        )

    def _iterate(self, ctx: RunContext, item: dict[str, Any]) -> None:
        """One iteration in its own outputs; they are kept keyed by value afterwards."""
        from ....taskruns import store_output

        saved_outputs, saved_path = ctx.outputs, ctx.value_path
        ctx.outputs, ctx.value_path = dict(saved_outputs), ()
        ctx.loop_items.insert(0, item)
        try:
            ctx.run_children("tasks")
        finally:
            produced = {
                key: data
                for key, data in ctx.outputs.items()
                if key not in saved_outputs or saved_outputs[key] is not data
            }
            ctx.loop_items.pop(0)
            ctx.outputs, ctx.value_path = saved_outputs, (*saved_path, item["value"])
            for key, data in produced.items():
                store_output(ctx, key, data)
            ctx.value_path = saved_path

    def loop_items(self) -> list[dict[str, Any]]:
        """``{value, index[, key]}`` per iteration, in order; ConfigError for bad values."""
        items: Any = self.values
        if isinstance(items, str):
            try:
                items = json.loads(items)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"task '{self.id}': 'values' is not a list, a map nor JSON ({exc.msg}): "
                    f"{items[:80]!r}"
                ) from exc
        pairs: list[tuple[str | None, Any]]
        if isinstance(items, dict):
            pairs = [(str(key), value) for key, value in items.items()]
        elif isinstance(items, list):
            pairs = [(None, value) for value in items]
        else:
            raise ConfigError(f"task '{self.id}': 'values' must be a list, a map or JSON")
        if any(value is None for _, value in pairs):
            raise ConfigError(f"task '{self.id}': 'values' holds a null value; remove it")
        if len(pairs) > MAX_VALUES:
            raise ConfigError(
                f"task '{self.id}': {len(pairs):,} values, more than the {MAX_VALUES:,} one "
                "Loop runs; split them in batches, each run by a Subflow"
            )
        result: list[dict[str, Any]] = []
        for index, (key, value) in enumerate(pairs):
            entry: dict[str, Any] = {"value": to_value(value), "index": index, "parents": []}
            if key is not None:
                entry["key"] = key
            result.append(entry)
        return result
