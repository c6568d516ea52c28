"""Kestra's identifier rules (Java ``@Pattern`` values, matched against the whole string)."""

from __future__ import annotations

import re

__all__ = [
    "FLOW_ID_MAX",
    "FLOW_ID_PATTERN",
    "INPUT_ID_PATTERN",
    "NAMESPACE_FIELD",
    "NAMESPACE_MAX",
    "NAMESPACE_PATTERN",
    "TASK_ID_PATTERN",
]

FLOW_ID_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
NAMESPACE_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
TASK_ID_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
INPUT_ID_PATTERN = re.compile(r"[a-zA-Z0-9][.a-zA-Z0-9_-]*")
FLOW_ID_MAX = 100
NAMESPACE_MAX = 150

#: ``NAMESPACE_PATTERN`` for a pydantic ``Field(pattern=...)``: pydantic searches a pattern
#: anywhere in the value, so it must be anchored or ``../system`` would pass.
NAMESPACE_FIELD = f"^{NAMESPACE_PATTERN.pattern}$"
