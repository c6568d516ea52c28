"""``If`` and ``Switch``: run one branch of child tasks chosen by a rendered value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ..._base import Output as TaskOutput
from ._flowable import FlowableTask, is_truthy, non_empty_tasks

if TYPE_CHECKING:
    from ....context import RunContext

__all__ = ["If", "Switch"]


class If(FlowableTask):
    """Run `then` or `else` depending on a condition.

    `condition` is rendered once, when the task starts; Kestra's truth rule applies: `false`,
    `0`, `-0`, an empty value and null are false, anything else is true. The branch's tasks run
    in order; when one fails, `errors` run and the task fails. `outputs.<id>.evaluationResult`
    holds the result (children see it as `parent.outputs.evaluationResult`).

    Examples:

    Branch on an input:

    ```yaml
    id: if
    namespace: company.team
    inputs:
      - id: string
        type: STRING
        defaults: Condition
    tasks:
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: "{{ inputs.string == 'Condition' }}"
        then:
          - id: when_true
            type: io.kestra.plugin.core.log.Log
            message: "Condition was true"
        else:
          - id: when_false
            type: io.kestra.plugin.core.log.Log
            message: "Condition was false"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.If"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.flows.If",)
    child_task_fields: ClassVar[tuple[str, ...]] = ("then", "else", "errors", "finally")

    condition: Any = Field(
        description="Rendered once; `false`, `0`, `-0`, empty or null choose `else`."
    )
    then: list[dict[str, Any]] = Field(
        min_length=1, description="Tasks run, in order, when the condition is true."
    )
    else_: list[dict[str, Any]] | None = Field(
        default=None, alias="else", description="Tasks run, in order, when it is false."
    )

    class Output(TaskOutput):
        """Outputs of If."""

        evaluation_result: bool = Field(description="The condition's truth value.")

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Kestra's `@NotEmpty` on `then`."""
        problems = super().check_properties(properties)
        return problems + non_empty_tasks(properties, "then", "'then' must not be empty")

    def run(self, ctx: RunContext) -> Output:
        result = is_truthy(self.condition)
        outputs = {"evaluationResult": result}
        branch = "then" if result else "else"
        if branch == "then" or self.else_:
            self.guarded(ctx, lambda: ctx.run_children(branch, outputs=outputs))
        return self.Output(evaluation_result=result)


class Switch(FlowableTask):
    """Run the tasks of the case matching a value, or `defaults`.

    `value` is rendered and compared, as text, with each key of `cases`; the first equal key's
    tasks run in order, else `defaults` (when there are any). When one fails, `errors` run and
    the task fails. Outputs: `value` (rendered) and `defaults` (true when no case matched).

    Examples:

    Run a branch per environment:

    ```yaml
    id: switch
    namespace: company.team
    inputs:
      - id: environment
        type: SELECT
        values: [dev, prod, test]
        defaults: dev
    tasks:
      - id: switch
        type: io.kestra.plugin.core.flow.Switch
        value: "{{ inputs.environment }}"
        cases:
          prod:
            - id: careful
              type: io.kestra.plugin.core.log.Log
              message: Deploying to production
          dev:
            - id: quick
              type: io.kestra.plugin.core.log.Log
              message: Deploying to dev
        defaults:
          - id: other
            type: io.kestra.plugin.core.log.Log
            message: "Nothing to do for {{ inputs.environment }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.Switch"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.flows.Switch",)
    child_task_fields: ClassVar[tuple[str, ...]] = ("cases", "defaults", "errors", "finally")

    value: str = Field(description="Rendered, then compared with each key of `cases`.")
    cases: dict[str, list[dict[str, Any]]] | None = Field(
        default=None, description="Value -> the tasks to run when `value` equals it."
    )
    defaults: list[dict[str, Any]] | None = Field(
        default=None, description="Tasks run when no case matches."
    )

    class Output(TaskOutput):
        """Outputs of Switch."""

        value: str = Field(description="The rendered value.")
        defaults: bool = Field(description="True when no case matched.")

    @classmethod
    def child_task_lists(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Each case's tasks under ``cases.<key>``, then `defaults`, `errors`, `finally`."""
        lists: dict[str, Any] = {}
        cases = raw.get("cases")
        if isinstance(cases, dict):
            lists.update({f"cases.{key}": tasks for key, tasks in cases.items()})
        lists.update({key: raw[key] for key in ("defaults", "errors", "finally") if key in raw})
        return lists

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Kestra's check: some task in `cases` or `defaults`."""
        problems = super().check_properties(properties)
        if not properties.get("cases") and not properties.get("defaults"):
            problems.append((None, "No task defined, neither cases or default have any tasks"))
        return problems

    def run(self, ctx: RunContext) -> Output:
        matched = next((key for key in self.cases or {} if str(key) == self.value), None)
        outputs = {"value": self.value, "defaults": matched is None}
        branch = f"cases.{matched}" if matched is not None else "defaults"
        if matched is not None or self.defaults:
            self.guarded(ctx, lambda: ctx.run_children(branch, outputs=outputs))
        return self.Output(value=self.value, defaults=matched is None)
