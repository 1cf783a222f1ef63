"""Argument checks shared by the shuffle factories."""

from __future__ import annotations

from typing import Any

from harness.errors import UserError


def reject_extra(name: str, arg: str | None, options: dict[str, Any]) -> None:
    """Shuffles without parameters refuse an ``:arg`` or options instead of ignoring them."""
    if arg is not None:
        raise UserError(f"shuffle {name!r} takes no argument (got {name}:{arg})")
    if options:
        raise UserError(f"shuffle {name!r} takes no options (got {', '.join(sorted(options))})")
