"""``io.kestra.plugin.core.log.Log``: write a message to the execution's logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from .._base import Task

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["Log"]


class Log(Task):
    """Log a message.

    Writes one log line (or one per item when ``message`` is a YAML list) at the given level to
    the execution's logs. A map or a list rendered into the message (``"{{ outputs.x }}"``) is
    logged as one JSON string, as Kestra logs it. Secret values are masked.

    Examples:

    Log a greeting that uses an input:

    ```yaml
    id: hello
    namespace: company.team
    inputs:
      - id: name
        type: STRING
        defaults: world
    tasks:
      - id: greet
        type: io.kestra.plugin.core.log.Log
        message: "Hello {{ inputs.name }} from {{ flow.namespace }}.{{ flow.id }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.log.Log"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.log.Log",)

    message: str | list[str] = Field(description="The message, or a list of messages, to log.")
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = Field(
        default="INFO", description="Log level of the message."
    )

    @model_validator(mode="before")
    @classmethod
    def _parse_json_collections(cls, data: Any) -> Any:
        """Replaces Task's: a ``message`` that rendered to JSON text stays that text, so
        ``{{ a_map }}`` and ``{{ a_list }}`` log one JSON string, as in Kestra."""
        return data

    def run(self, ctx: RunContext) -> None:
        """Log the message(s); Log has no outputs."""
        messages = self.message if isinstance(self.message, list) else [self.message]
        for message in messages:
            ctx.log(self.level, message)
        return None
