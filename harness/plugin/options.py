"""One base for every plugin's options: a pydantic model the plugin declares, checked before any work.

A plugin declares its options as a subclass of :class:`PluginOptions` and attaches it to its factory
(``factory.options = MyOptions``, or :func:`declare`); the factory calls ``MyOptions.parse(name, options)``.
``taxobench run`` / ``--dry-run`` check every cell's options against the declared model before any cell
runs (:mod:`harness.runs.validate`), so a mistyped option is one message naming the cell, the field and the
accepted options, exit 2.  Keywords the harness passes itself (``init`` and ``seed`` to backbones,
``profile`` to factories that declare it) belong in the model too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])
P = TypeVar("P", bound="PluginOptions")


def format_validation_error(exc: ValidationError, header: str) -> str:
    """``header`` then one ``  field: reason`` line per error."""
    lines = [header]
    for err in exc.errors():
        field_name = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {field_name}: {err['msg']}")
    return "\n".join(lines)


class PluginOptions(BaseModel):
    """Base of a plugin's options: unknown names and bad values are a UserError naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def parse(cls: type[P], plugin: str, options: Mapping[str, Any]) -> P:
        """The options validated; ``plugin`` names the plugin in the message (e.g. "task 'emoji'")."""
        try:
            return cls.model_validate(dict(options))
        except ValidationError as exc:
            text = format_validation_error(exc, f"invalid options for {plugin}:")
            accepted = ", ".join(cls.model_fields) or "none"
            raise UserError(f"{text}\n  accepted options: {accepted}") from None


def declare(options: type[PluginOptions]) -> Callable[[F], F]:
    """Decorator attaching a factory's options model (``factory.options``) for early validation."""

    def attach(factory: F) -> F:
        factory.options = options  # type: ignore[attr-defined]
        return factory

    return attach


def declared(factory: Any) -> type[PluginOptions] | None:
    """The options model a factory (function or class) declares, if any."""
    model = getattr(factory, "options", None)
    return model if isinstance(model, type) and issubclass(model, PluginOptions) else None
