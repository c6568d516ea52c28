"""``Subflow``: run another flow of the instance as its own execution.

The flow is read from the instance (``namespace``/``flowId``, its latest revision) and run by
the runner in this process, recorded as an execution of its own with the same secrets; its
flow ``outputs`` become this task's ``outputs.<id>.outputs``. Subflows nest at most ten deep
below the execution a user started: a flow calling itself through templates, or two flows
calling each other, fail at that depth instead of running forever (a Subflow naming its own
flow literally is refused when the flow is checked, as in Kestra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ....errors import TaskFailedError
from ..._base import Output as TaskOutput
from ..._base import Task

if TYPE_CHECKING:
    from ....context import RunContext

__all__ = ["Subflow"]

_CAUSE = "; caused by: "


class Subflow(Task):
    """Run another flow as a subflow, with inputs, and read its outputs.

    With `wait: true` (the default) this task ends with the subflow; a failed subflow fails it
    when `transmitFailed` is true (the default). Outputs: `executionId`, `state` and
    `outputs` (the subflow's flow `outputs`). The subflow must be in the instance (deployed,
    or synced by an earlier task).

    Examples:

    Call a subflow with inputs, and use its outputs:

    ```yaml
    id: parent_flow
    namespace: company.team
    tasks:
      - id: call_subflow
        type: io.kestra.plugin.core.flow.Subflow
        namespace: company.team
        flowId: subflow
        inputs:
          user: Rick Astley
          favorite_song: Never Gonna Give You Up
        wait: true
        transmitFailed: true
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ outputs.call_subflow.executionId }} ended {{ outputs.call_subflow.state }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.Subflow"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow",
    )

    namespace: str = Field(min_length=1, description="Namespace of the flow to run.")
    flow_id: str = Field(min_length=1, description="Id of the flow to run.")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the subflow.")
    wait: bool = Field(
        default=True,
        description="Wait for the subflow's end (here it always runs to its end first; "
        "with false its state is not reported and does not fail this task).",
    )
    transmit_failed: bool = Field(
        default=True, description="Fail this task when the subflow fails (with `wait`)."
    )
    revision: int | None = Field(
        default=None, ge=1, description="Accepted; the latest revision runs (a warning says so)."
    )
    labels: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None, description="Accepted for Kestra parity."
    )
    inherit_labels: bool = Field(default=False, description="Accepted for Kestra parity.")
    outputs: dict[str, Any] | None = Field(
        default=None,
        description="Deprecated since Kestra 0.15 (declare `outputs` in the subflow): refused.",
    )
    schedule_date: str | None = Field(
        default=None, description="Kestra's delayed start: refused (a run starts now)."
    )

    class Output(TaskOutput):
        """Outputs of Subflow."""

        execution_id: str = Field(description="Id of the subflow's execution.")
        state: str | None = Field(description="Its final state (with `wait`).")
        outputs: dict[str, Any] | None = Field(description="The subflow's flow `outputs`.")

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Properties Kestra accepts that would silently change the meaning here."""
        problems = super().check_properties(properties)
        for key, why in (
            ("outputs", "deprecated since Kestra 0.15; declare `outputs` in the subflow"),
            ("scheduleDate", "a delayed start is not supported: the subflow runs now"),
        ):
            if properties.get(key) is not None:
                problems.append((key, f"'{key}' is refused: {why}"))
        return problems

    def run(self, ctx: RunContext) -> Output:
        if self.revision is not None:
            ctx.warn(f"revision {self.revision} asked: the latest revision runs")
        result = ctx.run_subflow(self.namespace, self.flow_id, inputs=self.inputs or {})
        state = result["state"]
        ctx.info(
            f"subflow {self.namespace}/{self.flow_id}: execution {result['executionId']} {state}"
        )
        if not self.wait:
            return self.Output(execution_id=result["executionId"], state=None, outputs=None)
        if state in ("FAILED", "KILLED") and self.transmit_failed:
            cause = str(result.get("error") or "no error recorded")
            cause = cause.split(_CAUSE, 1)[1] if _CAUSE in cause else cause  # the root one
            raise TaskFailedError(
                f"subflow {self.namespace}/{self.flow_id} ended {state} (execution "
                f"{result['executionId']}: `kestra-git executions show "
                f"{result['executionId']}`){_CAUSE}{cause}"
            )
        return self.Output(
            execution_id=result["executionId"], state=state, outputs=result["outputs"]
        )
