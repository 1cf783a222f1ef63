"""Every first-party plugin declares its options as one :class:`harness.plugin.options.PluginOptions` model.

For each registration taxobench itself makes: the factory declares a model (``declared``), an unknown option
is one UserError naming it and listing the accepted ones (from the model and from the factory itself,
before any work), and the model accepts the defaults plus the keywords the harness passes (``init`` and
``seed`` to backbones, ``profile`` to factories that declare it).  No model is loaded.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import UserError
from harness.plugin.options import PluginOptions, declared
from harness.plugin.registry import Registration, default_registry

FIRST_PARTY = {
    "tasks": {"things", "emoji", "synthetic", "spatial"},
    "shuffles": {"original", "across_category", "within_category", "hypernym_swap"},
    "encoders": {"efficientnet-lite0", "hf-vision", "timm"},
    "backbones": {"hf-causal", "smollm2-135m"},
    "executors": {"local", "pool", "ray", "slurm"},
}
PROFILES = ("paper-code", "paper-text")
# a reference argument where the factory needs one; options are checked before it is used
ARGS = {"hf-vision": "no/such-model", "timm": "no_such_model", "hf-causal": "no/such-model"}


def registrations() -> list[Any]:
    registry = default_registry()
    return [
        pytest.param(reg, id=f"{kind}:{name}")
        for kind, entries in sorted(registry.entries.items())
        for name, reg in sorted(entries.items())
        if reg.package == "taxobench"
    ]


def label(reg: Registration) -> str:
    return f"{reg.kind[:-1]} {reg.name!r}"


def model_of(reg: Registration) -> type[PluginOptions]:
    model = declared(reg.factory)
    assert model is not None, f"{label(reg)} declares no options model"
    return model


def harness_keywords(reg: Registration) -> list[dict[str, Any]]:
    """The keyword sets the harness may pass this factory on its own."""
    if reg.kind == "backbones":
        return [{}, {"init": "pretrained", "seed": 42}, {"init": "random", "seed": 7}]
    if default_registry().accepts(reg.kind, reg.name, "profile"):
        return [{}, *({"profile": p} for p in PROFILES)]
    return [{}]


def test_every_first_party_plugin_is_checked() -> None:
    found: dict[str, set[str]] = {}
    for param in registrations():
        (reg,) = param.values
        found.setdefault(reg.kind, set()).add(reg.name)
    for kind, names in FIRST_PARTY.items():
        assert names <= found.get(kind, set()), kind


@pytest.mark.parametrize("reg", registrations())
def test_factory_declares_a_plugin_options_model(reg: Registration) -> None:
    model = model_of(reg)
    assert isinstance(model, type) and issubclass(model, PluginOptions)
    assert model.model_config.get("extra") == "forbid" and model.model_config.get("frozen")


@pytest.mark.parametrize("reg", registrations())
def test_model_accepts_the_defaults_and_the_harness_keywords(reg: Registration) -> None:
    model = model_of(reg)
    for keywords in harness_keywords(reg):
        parsed = model.parse(label(reg), keywords)
        assert isinstance(parsed, model)
        for key, value in keywords.items():
            assert getattr(parsed, key) == value


@pytest.mark.parametrize("reg", registrations())
def test_harness_keywords_are_fields(reg: Registration) -> None:
    fields = set(model_of(reg).model_fields)
    if reg.kind == "backbones":
        assert {"init", "seed"} <= fields
    assert ("profile" in fields) == default_registry().accepts(reg.kind, reg.name, "profile")


@pytest.mark.parametrize("reg", registrations())
def test_unknown_option_names_it_and_lists_the_accepted_ones(reg: Registration) -> None:
    model = model_of(reg)
    for keywords in harness_keywords(reg):
        with pytest.raises(UserError) as caught:
            model.parse(label(reg), {**keywords, "no_such_option": 1})
        message = str(caught.value)
        assert f"invalid options for {label(reg)}" in message
        assert "no_such_option: Extra inputs are not permitted" in message
        assert message.endswith(f"accepted options: {', '.join(model.model_fields) or 'none'}")


@pytest.mark.parametrize("reg", registrations())
def test_factory_checks_its_declared_options_before_any_work(reg: Registration) -> None:
    """The factory itself refuses an unknown option with the declared model's message (no model, asset or
    optional extra is touched first)."""
    model = model_of(reg)
    ref = f"{reg.name}:{ARGS[reg.name]}" if reg.name in ARGS else reg.name
    keywords = harness_keywords(reg)[-1]
    with pytest.raises(UserError) as caught:
        default_registry().create(reg.kind, ref, **keywords, no_such_option=1)
    message = str(caught.value)
    assert f"invalid options for {label(reg)}" in message and "no_such_option" in message
    assert message.endswith(f"accepted options: {', '.join(model.model_fields) or 'none'}")
