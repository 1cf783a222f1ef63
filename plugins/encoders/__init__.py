"""First-party image encoders: ``hf-vision``, ``timm`` and the offline default ``efficientnet-lite0``.

Factories import their heavy dependencies only when called, so discovery stays cheap and a missing
optional extra only matters to the config that names it.  (The wrappers are named ``make_*`` because
importing a submodule sets a package attribute of the submodule's name.)
"""

from __future__ import annotations

from typing import Any

from harness.hookspecs import Register, hookimpl


def make_hf_vision(arg: str | None = None, **options: Any) -> Any:
    from plugins.encoders.hf_vision import factory

    return factory(arg, **options)


def make_timm(arg: str | None = None, **options: Any) -> Any:
    from plugins.encoders.timm_vit import factory

    return factory(arg, **options)


def make_efficientnet_lite0(arg: str | None = None, **options: Any) -> Any:
    from plugins.encoders.efficientnet_lite import factory

    return factory(arg, **options)


@hookimpl
def register_encoders(register: Register) -> None:
    register("hf-vision", make_hf_vision)
    register("timm", make_timm)
    register("efficientnet-lite0", make_efficientnet_lite0)
