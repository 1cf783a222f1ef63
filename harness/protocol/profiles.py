"""Rule profiles: ``paper-code`` (the released code's rules, PROTOCOL.md §9) and ``paper-text`` (§2-§6).

A config names a profile with the top-level ``preset`` field (default ``paper-code``); every rule is also a
field of ``[rules]`` (or, for the optimiser, of ``[training]``), so a user can mix.  After validation the
rules are fully resolved: ``config.toml``, the manifest and ``taxobench run --dry-run`` show each value.
docs/protocol.md states the two profiles side by side.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Profile = Literal["paper-code", "paper-text"]
DEFAULT_PROFILE: Profile = "paper-code"


class Rules(BaseModel):
    """The protocol rules that differ between the paper's text and its released code.

    ``split``: ``floor``: per leaf, on the sorted image listing, train = int(f_train * n), val =
    int((f_train + f_val) * n) - train, the rest test (the released code); ``round``: a seeded shuffle per
    leaf and rounded sizes that keep one image in each split where possible.
    ``data_seed``: the seed of every data choice (split, negatives, ablation, shuffle, leaf sample); an
    integer fixes the data across the run seeds of a grid (only training varies with ``seed``), ``"run"``
    uses the run seed.
    ``ablation_unit``: ``leaves``: an ablation removes leaves, whose training images lose every hypernym
    question (random: per hypernym ``max(1, int(p * n))`` sampled leaves; systematic: every leaf under a
    listed hypernym); ``mappings``: single (leaf, hypernym) mappings (random: ``round(p * n)`` per
    hypernym; systematic: the listed hypernyms' mappings).
    ``scored``: which categories enter a subset's macro F1: ``with-yes``: those with at least one "Yes"
    question in the subset (systematic ablation: unseen scores the listed hypernyms, seen the others);
    ``all``: every category asked.
    ``prompt_prefix``: text placed before each question (the released code's ``<image>\\n``).
    ``image_position``: ``after-first-token``: the image embeddings follow the first token of the
    tokenized prompt (BOS where the tokenizer adds one); ``after-bos``: they follow BOS, or open the
    sequence when there is none.
    ``answer_tokens``: ``plain``: the tokens ``Yes`` / ``No`` (an error if either is not one token);
    ``leading-space``: `` Yes`` / `` No`` where both are single tokens, else ``Yes`` / ``No``.
    ``answer_eos``: the training loss also covers the end-of-sequence token after the answer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    split: Literal["floor", "round"] | None = None
    data_seed: int | Literal["run"] | None = None
    ablation_unit: Literal["leaves", "mappings"] | None = None
    scored: Literal["with-yes", "all"] | None = None
    prompt_prefix: str | None = None
    image_position: Literal["after-first-token", "after-bos"] | None = None
    answer_tokens: Literal["plain", "leading-space"] | None = None
    answer_eos: bool | None = None


PROFILES: dict[str, dict[str, Any]] = {
    "paper-code": {
        "rules": {
            "split": "floor",
            "data_seed": 0,
            "ablation_unit": "leaves",
            "scored": "with-yes",
            "prompt_prefix": "<image>\n",
            "image_position": "after-first-token",
            "answer_tokens": "plain",
            "answer_eos": True,
        },
        # §8: the training scripts inherit Prismatic's align-stage optimiser and a fixed projector init.
        "training": {"preset": "paper-code", "seeded_projector_init": False},
    },
    "paper-text": {
        "rules": {
            "split": "round",
            "data_seed": "run",
            "ablation_unit": "mappings",
            "scored": "all",
            "prompt_prefix": "",
            "image_position": "after-bos",
            "answer_tokens": "leading-space",
            "answer_eos": False,
        },
        "training": {"preset": "paper-table1", "seeded_projector_init": True},
    },
}


def apply_profile(data: dict[str, Any]) -> dict[str, Any]:
    """A cell's raw config with the profile's rules and training defaults filled in where not given.

    Each training default applies where the config does not set that field; a ``training.preset`` of the
    config replaces the profile's optimiser preset.
    """
    profile = PROFILES.get(data.get("preset", DEFAULT_PROFILE))
    if profile is None:
        return data  # pydantic reports the bad preset name
    out = dict(data)
    rules = out.get("rules") or {}
    if isinstance(rules, BaseModel):
        rules = rules.model_dump(exclude_none=True)
    if isinstance(rules, dict):
        out["rules"] = {**profile["rules"], **{k: v for k, v in rules.items() if v is not None}}
    training = out.get("training") or {}
    if isinstance(training, BaseModel):
        training = training.model_dump(exclude_unset=True)
    if isinstance(training, dict):
        defaults = dict(profile["training"])
        if training.get("preset"):
            defaults.pop("preset")
        out["training"] = {**defaults, **training}
    return out
