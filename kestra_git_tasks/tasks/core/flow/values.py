"""``Fail``, ``OutputValues`` and ``Return``: fail the execution, or give values as outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ....errors import TaskFailedError
from ..._base import Output as TaskOutput
from ..._base import Task
from ._flowable import is_truthy

if TYPE_CHECKING:
    from ....context import RunContext

__all__ = ["Fail", "OutputValues", "Return"]


class Fail(Task):
    """Fail the execution, always or when a condition is true.

    Without `condition` the task fails with `errorMessage`. With one, rendered and read with
    Kestra's truth rule (`false`, `0`, `-0` and empty are false), the task fails only when it
    is true, logging `errorMessage` at ERROR. The flow's `errors` tasks then run.

    Examples:

    Fail on a switch branch:

    ```yaml
    id: fail_on_switch
    namespace: company.team
    inputs:
      - id: param
        type: STRING
        defaults: case1
    tasks:
      - id: switch
        type: io.kestra.plugin.core.flow.Switch
        value: "{{ inputs.param }}"
        cases:
          case1:
            - id: case1
              type: io.kestra.plugin.core.log.Log
              message: Case 1
          notexist:
            - id: fail
              type: io.kestra.plugin.core.execution.Fail
        defaults:
          - id: default
            type: io.kestra.plugin.core.log.Log
            message: default
    ```

    Fail on a condition:

    ```yaml
    id: fail_on_condition
    namespace: company.team
    inputs:
      - id: param
        type: STRING
        defaults: ok
    tasks:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
        condition: '{{ inputs.param == "fail" }}'
        errorMessage: "param is {{ inputs.param }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.execution.Fail"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.executions.Fail",)

    condition: Any = Field(default=None, description="When set, fail only if it is true.")
    error_message: str = Field(default="Task failure", description="The failure's message.")

    def run(self, ctx: RunContext) -> None:
        if self.condition is None:
            raise TaskFailedError(self.error_message)
        if is_truthy(self.condition):
            ctx.log("ERROR", self.error_message)
            raise TaskFailedError(f"Fail on a condition: {self.error_message}")
        return None


class OutputValues(Task):
    """Give values as outputs: `outputs.<id>.values.<name>`.

    Each value (text, number, list or map) is rendered; later tasks, and the flow's
    `outputs`, read them.

    Examples:

    ```yaml
    id: outputs_flow
    namespace: company.team
    tasks:
      - id: output_values
        type: io.kestra.plugin.core.output.OutputValues
        values:
          taskrun_data: "{{ task.id }} > {{ taskrun.startDate }}"
          number_value: 42
          array_value: ["{{ task.id }}", "{{ flow.id }}", "static value"]
          nested_object:
            key1: "value1"
            key2: "{{ execution.id }}"
      - id: log_values
        type: io.kestra.plugin.core.log.Log
        message: "{{ outputs.output_values.values.taskrun_data }}"
    outputs:
      - id: number
        type: INT
        value: "{{ outputs.output_values.values.number_value }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.output.OutputValues"

    values: dict[str, Any] = Field(
        default_factory=dict, description="Name -> value (templates rendered)."
    )

    class Output(TaskOutput):
        """Outputs of OutputValues."""

        values: dict[str, Any] = Field(description="The rendered values.")

    def run(self, ctx: RunContext) -> Output:
        return self.Output(values=self.values)


class Return(Task):
    """Render a text and give it as `outputs.<id>.value` (debugging).

    Examples:

    ```yaml
    id: return_flow
    namespace: company.team
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.debug.Return"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.debugs.Return",)

    format: str | None = Field(default=None, description="The text to render.")

    class Output(TaskOutput):
        """Outputs of Return."""

        value: str | None = Field(description="The rendered text.")

    def run(self, ctx: RunContext) -> Output:
        ctx.log("DEBUG", self.format or "")
        return self.Output(value=self.format)
