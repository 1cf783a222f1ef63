"""First-party image encoders: ``hf-vision``, ``timm`` and the offline default ``efficientnet-lite0``.

Factories are registered as ``"module:attribute"`` targets, imported only when a config names them, so
discovery stays cheap and a missing optional extra only matters to the config that names it.
"""

from __future__ import annotations

from harness.plugin.api import Register, hookimpl


@hookimpl
def register_encoders(register: Register) -> None:
    register("hf-vision", "plugins.encoders.hf_vision:factory")
    register("timm", "plugins.encoders.timm_vit:factory")
    register("efficientnet-lite0", "plugins.encoders.efficientnet_lite:factory")
