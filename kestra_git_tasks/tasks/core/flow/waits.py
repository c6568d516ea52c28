"""``Sleep`` and ``Pause``: wait a fixed time, at most :data:`MAX_WAIT`.

A Pause with a delay waits that delay and goes on, as Kestra resumes it by itself; a Pause
without one waits for someone to resume it from Kestra's UI, which a local run cannot offer:
it is refused (or, with only a `timeout`, waits the timeout then goes on).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ....durations import DURATION_EXAMPLES, parse_duration
from ....errors import ConfigError
from ..._base import Output as TaskOutput
from ..._base import Task

if TYPE_CHECKING:
    from ....context import RunContext

__all__ = ["MAX_WAIT", "Pause", "Sleep", "wait_for"]

#: Longest Sleep or Pause a run accepts.
MAX_WAIT = timedelta(hours=24)


def wait_for(ctx: RunContext, text: str, key: str) -> timedelta:
    """Sleep for the ISO-8601 duration ``text`` (property ``key``), checked against the max."""
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"task '{ctx.task_id}': property '{key}': {exc}") from exc
    if duration < timedelta(0) or duration > MAX_WAIT:
        raise ConfigError(
            f"task '{ctx.task_id}': property '{key}': {text} is refused: a wait must be between "
            f"0 and {MAX_WAIT} (write e.g. {DURATION_EXAMPLES}); schedule a later run instead"
        )
    ctx.info(f"Waiting for {text}")
    time.sleep(duration.total_seconds())  # Ctrl-C and SIGTERM interrupt it (KeyboardInterrupt)
    return duration


class Sleep(Task):
    """Wait for a duration before the next task.

    `duration` is ISO-8601 (`PT5S`, `PT1M`...) and at most one day.

    Examples:

    ```yaml
    id: sleep
    namespace: company.team
    tasks:
      - id: sleep
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1S
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.Sleep"

    duration: str = Field(description="ISO-8601 duration to wait (at most one day).")

    def run(self, ctx: RunContext) -> None:
        wait_for(ctx, self.duration, "duration")
        return None


class Pause(Task):
    """Pause the execution for a fixed time (Kestra's automatic resume).

    Waits `delay` (Kestra 1.x: `pauseDuration`), an ISO-8601 duration of at most one day, then
    goes on. Without a delay Kestra waits for a manual resume, which a local run cannot give:
    with only `timeout`, the pause waits that long and goes on; with neither it is refused.
    `outputs.<id>.onResume` holds the defaults of the `onResume` inputs.

    Examples:

    ```yaml
    id: pause_then_go
    namespace: company.team
    tasks:
      - id: pause
        type: io.kestra.plugin.core.flow.Pause
        delay: PT1S
        onResume:
          - id: approved
            type: BOOLEAN
            defaults: true
      - id: after
        type: io.kestra.plugin.core.log.Log
        message: "approved: {{ outputs.pause.onResume.approved }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.Pause"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.flows.Pause",)

    delay: str | None = Field(default=None, description="ISO-8601 duration of the pause.")
    pause_duration: str | None = Field(default=None, description="Kestra 1.x's name of `delay`.")
    on_resume: list[dict[str, Any]] | None = Field(
        default=None, description="Inputs of the resume; their `defaults` become outputs."
    )
    behavior: str | None = Field(
        default=None, description="Kestra 1.x: what happens at the timeout. Accepted."
    )

    class Output(TaskOutput):
        """Outputs of Pause."""

        on_resume: dict[str, Any] = Field(description="Each `onResume` input's default.")

    def run(self, ctx: RunContext) -> Output:
        if self.delay and self.pause_duration:
            raise ConfigError(
                f"task '{self.id}': give 'delay' or 'pauseDuration' (its 1.x name), not both"
            )
        delay = self.delay or self.pause_duration
        if delay:
            wait_for(ctx, delay, "delay" if self.delay else "pauseDuration")
        elif self.timeout:
            ctx.warn("no manual resume here: the pause lasts its timeout")
            wait_for(ctx, self.timeout, "timeout")
        else:
            raise ConfigError(
                f"task '{self.id}': a Pause without 'delay' waits for a manual resume in "
                "Kestra's UI, which a local run cannot give; set 'delay: PT5M' (or 'timeout')"
            )
        values = {
            str(item.get("id")): item.get("defaults")
            for item in self.on_resume or []
            if isinstance(item, dict)
        }
        return self.Output(on_resume=values)
