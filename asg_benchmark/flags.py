"""Command-line values that carry structure: JSON objects given to a flag."""

from __future__ import annotations

import json
from typing import Any

from asg_benchmark.errors import BenchmarkError


def json_object(text: str, flag: str, example: str) -> dict[str, Any]:
    """The JSON object given to ``flag``, else a message with an example of the format."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"{flag} takes a JSON object, e.g. {flag} '{example}'; got {text!r} ({exc})") from exc
    if not isinstance(value, dict):
        raise BenchmarkError(f"{flag} takes a JSON object, e.g. {flag} '{example}'; got {text!r}")
    return value
