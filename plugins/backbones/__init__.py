"""First-party backbones plugins: ``hf-causal`` (any transformers causal LM) and ``smollm2-135m``."""

from harness.hookspecs import hookimpl
from plugins.backbones.hf_causal import hf_causal
from plugins.backbones.smollm2 import smollm2_135m


@hookimpl
def register_backbones(register):
    register("hf-causal", hf_causal)
    register("smollm2-135m", smollm2_135m)
