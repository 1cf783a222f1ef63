"""Hypernym ablations (PROTOCOL.md §3): removed mappings, subsets, training filter, test-set invariance."""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from harness.config import Ablation
from harness.errors import UserError
from harness.plugin.contracts import TaskData
from harness.protocol.ablation import leaves_of, removed_mappings
from harness.protocol.presets import SWAP_10
from harness.protocol.questions import build_question_set
from harness.protocol.splits import round_half_up
from plugins.shuffles.across_category import AcrossCategory
from plugins.shuffles.original import Original
from plugins.shuffles.within_category import WithinCategory

try:
    from tests.helpers.protocol import make_cfg, things_data
except ImportError:  # tests/ collected as a package
    from tests.helpers.protocol import make_cfg, things_data

RANDOM_LEVELS = [0, 10, 30, 50, 70, 90, 100]


@functools.cache
def data() -> TaskData:
    return things_data(images_per_leaf=4)


def _check_subsets(qs, removed: set[tuple[str, str]]) -> None:
    q = qs.questions
    pos = q[q["answer"] & (q["kind"] == "hypernym")]
    is_removed = pd.Series(
        [(a, b) in removed for a, b in zip(pos["label_leaf"], pos["category"], strict=True)]
    )
    train = (pos["split"] == "train").to_numpy()
    assert not is_removed[train].any(), "a removed mapping is still trained on"
    assert (
        pos.loc[~train, "subset"].to_numpy() == is_removed[~train].map({True: "unseen", False: "seen"})
    ).all()
    # the whole pair goes: no train negatives are left without their positive
    train_pairs = q[q["split"] == "train"].groupby("pair")["answer"].any()
    assert train_pairs.all()


@pytest.mark.parametrize("level", RANDOM_LEVELS)
def test_random_ablation_levels(level: int) -> None:
    d = data()
    removed, info = removed_mappings(d, Ablation(kind="random", level=level), seed=42)
    by_h = leaves_of(d)
    for h, leaves in by_h.items():
        n = sum(1 for _, g in removed if g == h)
        assert n == (len(leaves) if level == 100 else round_half_up(level / 100 * len(leaves)))
    assert all(h in d.relations[leaf] for leaf, h in removed)
    assert info["n_removed"] == len(removed) and removed == sorted(set(removed))
    qs = build_question_set(d, make_cfg(ablation={"kind": "random", "level": level}), Original())
    _check_subsets(qs, set(removed))
    q = qs.questions
    train_kinds = set(q.loc[q["split"] == "train", "kind"])
    assert train_kinds == ({"leaf"} if level == 100 else {"leaf", "hypernym"})
    test_subsets = set(q.loc[q["split"] == "test", "subset"])
    assert test_subsets == {"leaf", "seen", "unseen"} - ({"unseen"} if level == 0 else set()) - (
        {"seen"} if level == 100 else set()
    )


def test_random_levels_are_nested_and_seeded() -> None:
    d = data()
    sets = [set(removed_mappings(d, Ablation(kind="random", level=lv), 42)[0]) for lv in RANDOM_LEVELS]
    assert all(a <= b for a, b in zip(sets, sets[1:], strict=False))
    other = set(removed_mappings(d, Ablation(kind="random", level=50), 218)[0])
    assert other != sets[3] and len(other) == len(sets[3])


@pytest.mark.parametrize("level", [10, 20, 30, 40])
def test_systematic_sampled_levels(level: int) -> None:
    d = data()
    removed, info = removed_mappings(d, Ablation(kind="systematic", level=level), seed=42)
    assert len(info["hypernyms"]) == level
    by_h = leaves_of(d)
    assert set(removed) == {(leaf, h) for h in info["hypernyms"] for leaf in by_h[h]}
    qs = build_question_set(d, make_cfg(ablation={"kind": "systematic", "level": level}), Original())
    _check_subsets(qs, set(removed))
    q = qs.questions
    unseen = set(q.loc[(q["subset"] == "unseen") & q["answer"], "category"])
    assert unseen == set(info["hypernyms"])
    # a removed hypernym may still be the category of a negative question in training
    train_neg = set(q.loc[(q["split"] == "train") & ~q["answer"] & (q["kind"] == "hypernym"), "category"])
    assert train_neg & unseen


def test_systematic_levels_are_nested_and_all_at_or_above_count() -> None:
    d = data()
    chosen = [
        set(removed_mappings(d, Ablation(kind="systematic", level=lv), 42)[1]["hypernyms"]) for lv in (10, 20)
    ]
    assert chosen[0] < chosen[1]
    n = len(d.derived)
    for level in (n, n + 5, 100):
        assert removed_mappings(d, Ablation(kind="systematic", level=level), 42)[1]["hypernyms"] == d.derived


def test_systematic_all_equals_random_100_and_trains_leaves_only() -> None:
    d = data()
    everything = removed_mappings(d, Ablation(kind="random", level=100), 42)[0]
    assert removed_mappings(d, Ablation(kind="systematic", preset="all"), 42)[0] == everything
    assert removed_mappings(d, Ablation(kind="systematic", level=len(d.derived)), 42)[0] == everything
    a = build_question_set(
        d, make_cfg(ablation={"kind": "systematic", "preset": "all"}), Original()
    ).questions
    b = build_question_set(d, make_cfg(ablation={"kind": "random", "level": 100}), Original()).questions
    pd.testing.assert_frame_equal(a, b)
    assert set(a.loc[a["split"] == "train", "kind"]) == {"leaf"}


def test_systematic_preset_and_named_hypernyms() -> None:
    d = data()
    _, info = removed_mappings(d, Ablation(kind="systematic", preset="paper-swap-10"), 42)
    assert info["hypernyms"] == sorted(SWAP_10)
    named = ("bird", "vehicle")
    removed, info = removed_mappings(d, Ablation(kind="systematic", level=30, hypernyms=named), 42)
    assert info["hypernyms"] == ["bird", "vehicle"] and {h for _, h in removed} == set(named)
    preset_and_named = Ablation(kind="systematic", preset="paper-swap-10", hypernyms=named)
    assert removed_mappings(d, preset_and_named, 42)[0] == removed  # named hypernyms win over a preset


def test_systematic_accepts_surface_names() -> None:
    d = TaskData(
        images={"a": ["a.jpg"], "b": ["b.jpg"]},
        relations={"a": ("sea_animal",), "b": ("tool",)},
        depths={"sea_animal": 1, "tool": 1},
        names={"sea_animal": "sea animal"},
    )
    removed, _ = removed_mappings(d, Ablation(kind="systematic", hypernyms=("sea animal",)), 1)
    assert removed == [("a", "sea_animal")]


@pytest.mark.parametrize(
    "ablation, match",
    [
        (Ablation(kind="systematic", hypernyms=("bird", "dragon")), r"'dragon'.*valid hypernyms: .*animal"),
    ],
)
def test_unknown_names_are_user_errors(ablation: Ablation, match: str) -> None:
    with pytest.raises(UserError, match=match):
        removed_mappings(data(), ablation, 42)


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"preset": "table4-20"}, r"unknown preset 'table4-20'; available: paper-table4, paper-swap-10, all"),
        ({"preset": "paper-table4", "level": 25}, r"'paper-table4' lists levels 10, 20, 30, 40, not 25"),
    ],
)
def test_unknown_presets_fail_at_config_time(fields: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Ablation(kind="systematic", **fields)


def test_preset_on_a_task_without_those_hypernyms_is_a_user_error() -> None:
    d = TaskData(images={"a": ["a.jpg"]}, relations={"a": ("face",)}, depths={"face": 1})
    with pytest.raises(UserError, match="valid hypernyms: face"):
        removed_mappings(d, Ablation(kind="systematic", preset="paper-swap-10"), 42)


def test_test_images_identical_across_ablations_and_shuffles() -> None:
    d = data()
    cells = [
        (Ablation(kind="random", level=lv), shuffle)
        for lv in (0, 50, 100)
        for shuffle in (Original(), AcrossCategory(), WithinCategory())
    ] + [(Ablation(kind="systematic", level=20), Original())]
    images = []
    for ablation, shuffle in cells:
        q = build_question_set(d, make_cfg(ablation=ablation.model_dump()), shuffle).questions
        images.append(
            {s: tuple(sorted(q.loc[q["split"] == s, "image"].unique())) for s in ("train", "val", "test")}
        )
    assert all(x == images[0] for x in images[1:])
    q = build_question_set(d, make_cfg(seed=7), Original()).questions
    assert tuple(sorted(q.loc[q["split"] == "test", "image"].unique())) != images[0]["test"]


def test_test_questions_identical_across_ablation_levels() -> None:
    d = data()
    frames = []
    for ablation in (
        {"kind": "random", "level": 10},
        {"kind": "random", "level": 90},
        {"kind": "systematic", "level": 20},
    ):
        q = build_question_set(d, make_cfg(ablation=ablation), Original()).questions
        frames.append(q[q["split"] == "test"].drop(columns="subset").reset_index(drop=True))
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], f)
