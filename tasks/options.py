"""Option checking shared by the task factories (user mistakes become ``UserError``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.errors import UserError


def check_known(task: str, options: dict[str, Any], known: Iterable[str]) -> None:
    """Reject options a task does not accept, naming the ones it does."""
    allowed = sorted(known)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"task {task!r}: unknown option(s) {unknown}; accepted: {allowed}")


def choice(task: str, name: str, value: Any, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if value not in options:
        raise UserError(f"task {task!r}: option {name} must be one of {list(options)}, got {value!r}")
    return value


def integer(task: str, name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"task {task!r}: option {name} must be an integer >= {minimum}, got {value!r}")
    return value


def number(task: str, name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
        raise UserError(f"task {task!r}: option {name} must be a number in ({low}, {high}], got {value!r}")
    return float(value)
