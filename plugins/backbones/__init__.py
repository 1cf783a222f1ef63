"""First-party backbones plugins: ``hf-causal`` (any transformers causal LM) and ``smollm2-135m``."""

from harness.plugin.api import hookimpl


@hookimpl
def register_backbones(register):
    register("hf-causal", "plugins.backbones.hf_causal:hf_causal")
    register("smollm2-135m", "plugins.backbones.smollm2:smollm2_135m")
