"""The shuffle plugins (PROTOCOL.md §4): bijections, coherence, determinism, hypernym swap."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.common.seeding import derive_rng
from harness.errors import UserError
from harness.plugin.contracts import Shuffle, TaskData
from harness.plugin.registry import default_registry
from harness.protocol.questions import build_question_set
from plugins.shuffles.across_category import AcrossCategory
from plugins.shuffles.hypernym_swap import PAPER_PAIRS, HypernymSwap
from plugins.shuffles.original import Original
from plugins.shuffles.within_category import WithinCategory, hypernym_groups, merge_singletons
from tests.helpers.cli import python_output
from tests.helpers.paths import REPO

try:
    from tests.helpers.protocol import make_cfg, taxonomies, things_data
except ImportError:  # tests/ collected as a package
    from tests.helpers.protocol import make_cfg, taxonomies, things_data

NAMES = ["original", "across_category", "within_category", "hypernym_swap"]


def shuffled(shuffle, data: TaskData, rng) -> tuple[dict[str, str], dict | None]:
    """(mapping, info) of one shuffle (a shuffle may return the mapping alone)."""
    result = shuffle.apply(data, rng)
    return result if isinstance(result, tuple) else (result, None)


def _hyps(data: TaskData, leaf: str) -> frozenset[str]:
    return frozenset(data.relations.get(leaf, ()))


def test_registered_through_entry_points() -> None:
    registry = default_registry()
    assert set(NAMES) <= set(registry.names("shuffles"))
    for name in NAMES:
        shuffle = registry.create("shuffles", name)
        assert isinstance(shuffle, Shuffle) and shuffle.name == name


@settings(max_examples=60, deadline=None)
@given(taxonomies(), st.integers(0, 1000), st.sampled_from([Original, AcrossCategory, WithinCategory]))
def test_shuffles_are_bijections(data: TaskData, seed: int, cls) -> None:
    mapping, _ = shuffled(cls(), data, derive_rng(seed, "shuffle"))
    assert sorted(mapping) == data.leaves and sorted(mapping.values()) == data.leaves


@settings(max_examples=60, deadline=None)
@given(taxonomies(), st.integers(0, 1000))
def test_within_category_keeps_hypernym_sets_without_fixed_points(data: TaskData, seed: int) -> None:
    shuffle = WithinCategory(profile="paper-text")  # singletons keep their own images
    mapping, info = shuffled(shuffle, data, derive_rng(seed, "shuffle"))
    group_size = {}
    for leaf in data.leaves:
        group_size[_hyps(data, leaf)] = group_size.get(_hyps(data, leaf), 0) + 1
    for leaf, label in mapping.items():
        assert _hyps(data, leaf) == _hyps(data, label)
        assert (label == leaf) == (group_size[_hyps(data, leaf)] == 1)
    assert info["singletons"] == sum(1 for n in group_size.values() if n == 1)


@settings(max_examples=80, deadline=None)
@given(taxonomies(), st.integers(0, 1000))
def test_within_category_paper_code_leaves_no_leaf_its_own_images(data: TaskData, seed: int) -> None:
    shuffle = WithinCategory()  # paper-code: singletons merged, orphans cycled
    mapping, info = shuffled(shuffle, data, derive_rng(seed, "shuffle"))
    assert sorted(mapping) == data.leaves and sorted(mapping.values()) == data.leaves
    if len(data.leaves) >= 2:
        assert all(k != v for k, v in mapping.items())
    assert info["rule"] == "merge" and info["merged"] + info["orphans"] == info["singletons"]
    groups, orphans, _ = merge_singletons(hypernym_groups(data))
    group_of = {leaf: key for key, leaves in groups.items() for leaf in leaves}
    for key, leaves in groups.items():  # a merged group's key is a subset of each member's hypernyms
        assert all(set(key) <= _hyps(data, leaf) for leaf in leaves)
    if not orphans:  # every label comes from its image leaf's (merged) group
        assert all(group_of[leaf] == group_of[label] for leaf, label in mapping.items())


def test_within_category_merges_a_singleton_into_its_most_specific_group() -> None:
    relations = {
        "crow": ("animal", "bird"),
        "owl": ("animal", "bird"),
        "penguin": ("animal", "bird", "sea animal"),  # alone: joins {animal, bird}, not {animal}
        "cat": ("animal",),
        "dog": ("animal",),
        "kayak": ("boat",),  # alone, no group below it: an orphan in a 3-cycle
    }
    depths = {"animal": 1, "bird": 1, "sea animal": 1, "boat": 1}
    data = TaskData(images={k: [f"{k}.jpg"] for k in relations}, relations=relations, depths=depths)
    shuffle = WithinCategory()
    mapping, info = shuffled(shuffle, data, derive_rng(0, "shuffle"))
    assert all(k != v for k, v in mapping.items()) and sorted(mapping.values()) == sorted(relations)
    assert mapping["penguin"] in {"crow", "owl"}
    assert info == {"groups": 2, "singletons": 2, "rule": "merge", "merged": 1, "orphans": 1}
    keep, _ = shuffled(WithinCategory(profile="paper-text"), data, derive_rng(0, "shuffle"))
    assert keep["penguin"] == "penguin" and keep["kayak"] == "kayak"
    assert WithinCategory(profile="paper-text", singletons="merge").singletons == "merge"
    with pytest.raises(UserError, match="singletons: Input should be 'merge' or 'keep'"):
        WithinCategory(singletons="drop")


def test_original_is_identity() -> None:
    data = things_data(1)
    assert all(k == v for k, v in shuffled(Original(), data, random.Random(0))[0].items())


def test_across_category_breaks_hypernym_sets_on_things() -> None:
    data = things_data(1)
    mapping, info = shuffled(AcrossCategory(), data, derive_rng(42, "shuffle", "across_category"))
    broken = sum(_hyps(data, k) != _hyps(data, v) for k, v in mapping.items()) / len(mapping)
    assert broken > 0.9
    assert info["fixed_points"] == sum(k == v for k, v in mapping.items())
    within, _ = shuffled(
        WithinCategory(profile="paper-text"), data, derive_rng(42, "shuffle", "within_category")
    )
    assert all(_hyps(data, k) == _hyps(data, v) for k, v in within.items())
    assert sum(k != v for k, v in within.items()) > len(within) / 2
    merged, _ = shuffled(WithinCategory(), data, derive_rng(42, "shuffle", "within_category"))
    assert all(k != v for k, v in merged.items())
    assert sum(_hyps(data, k) == _hyps(data, v) for k, v in merged.items()) / len(merged) > 0.8


def test_protocol_stores_fixed_points_and_shuffle_info() -> None:
    data = things_data(2)
    qs = build_question_set(data, make_cfg(shuffle="across_category"), AcrossCategory())
    assert qs.meta["fixed_points"] == sum(k == v for k, v in qs.mapping.items())
    assert qs.meta["shuffle"]["info"]["fixed_points"] == qs.meta["fixed_points"]
    assert qs.mapping == shuffled(AcrossCategory(), data, derive_rng(42, "shuffle", "across_category"))[0]


_SUBPROCESS = """
import json, sys
sys.path.insert(0, {repo!r})
from tests.helpers.protocol import things_data
from harness.common.seeding import derive_rng
from plugins.shuffles.across_category import AcrossCategory
from plugins.shuffles.hypernym_swap import HypernymSwap
from plugins.shuffles.original import Original
from plugins.shuffles.within_category import WithinCategory
data = things_data(1)
shuffles = [Original(), AcrossCategory(), WithinCategory(), HypernymSwap()]
out = {{s.name: s.apply(data, derive_rng(9, "shuffle", s.name)) for s in shuffles}}
out = {{k: v[0] if isinstance(v, tuple) else v for k, v in out.items()}}
print(json.dumps(out, sort_keys=True))
"""


def test_same_seed_same_mapping_across_processes() -> None:
    code = _SUBPROCESS.format(repo=str(REPO))
    outputs = [python_output(code, hash_seed, REPO) for hash_seed in ("1", "999")]
    assert outputs[0] == outputs[1]
    data = things_data(1)
    shuffles = [Original(), AcrossCategory(), WithinCategory(), HypernymSwap()]
    here = {s.name: shuffled(s, data, derive_rng(9, "shuffle", s.name))[0] for s in shuffles}
    assert json.loads(outputs[0]) == here
    other, _ = shuffled(AcrossCategory(), data, derive_rng(10, "shuffle", "across_category"))
    assert other != here["across_category"]


def test_hypernym_swap_default_pairs_on_things() -> None:
    data = things_data(1)
    mapping, info = shuffled(HypernymSwap(), data, derive_rng(42, "shuffle", "hypernym_swap"))
    assert sorted(mapping.values()) == data.leaves
    assert all(mapping[mapping[k]] == k for k in mapping)  # labels are exchanged pairwise
    swapped = info["swapped"]
    assert len(swapped) == 20 * len(PAPER_PAIRS)
    moved = {k for k, v in mapping.items() if k != v}
    assert moved == {x for pair in swapped for x in pair} and len(moved) == 2 * len(swapped)
    for (a, b), start in zip(PAPER_PAIRS, range(0, len(swapped), 20), strict=True):
        for x, y in swapped[start : start + 20]:
            assert a in _hyps(data, x) and b not in _hyps(data, x)
            assert b in _hyps(data, y) and a not in _hyps(data, y)
            assert mapping[x] == y and mapping[y] == x


def test_hypernym_swap_options() -> None:
    data = things_data(1)
    shuffle = HypernymSwap(pairs=[["dessert", "furniture"]], n_leaves=5)
    mapping, _ = shuffled(shuffle, data, random.Random(1))
    assert sum(k != v for k, v in mapping.items()) == 10
    qs = build_question_set(data, make_cfg(shuffle="hypernym_swap"), shuffle)
    assert qs.meta["shuffle"]["info"]["pairs"] == [["dessert", "furniture"]]
    with pytest.raises(UserError, match="fewer than n_leaves = 500"):
        HypernymSwap(pairs=[["dessert", "furniture"]], n_leaves=500).apply(data, random.Random(1))


@pytest.mark.parametrize(
    "options, match",
    [
        ({"pairs": [["dessert", "dragon"]]}, r"'dragon'.*valid hypernyms"),
        ({"pairs": [["dessert"]]}, "list of \\[A, B\\]"),
        ({"pairs": [["bird", "bird"]]}, "two different"),
        ({"n_leaves": 0}, "n_leaves: Input should be greater than or equal to 1"),
        ({"colour": "red"}, r"(?s)colour: Extra inputs.*accepted options: pairs, n_leaves"),
    ],
)
def test_hypernym_swap_bad_options(options: dict, match: str) -> None:
    with pytest.raises(UserError, match=match):
        HypernymSwap(**options).apply(things_data(1), random.Random(0))


def test_hypernym_swap_needs_pairs_on_other_taxonomies() -> None:
    data = TaskData(
        images={f"e{i}": [f"e{i}.png"] for i in range(4)},
        relations={"e0": ("face",), "e1": ("face",), "e2": ("animal",), "e3": ("animal",)},
        depths={"face": 1, "animal": 1},
    )
    with pytest.raises(UserError, match="valid hypernyms: animal, face"):
        HypernymSwap().apply(data, random.Random(0))
    mapping, _ = shuffled(HypernymSwap(pairs=[["face", "animal"]], n_leaves=2), data, random.Random(0))
    assert {mapping["e0"], mapping["e1"]} == {"e2", "e3"}


@pytest.mark.parametrize("cls", [Original, AcrossCategory, WithinCategory])
def test_parameterless_shuffles_refuse_options(cls) -> None:
    with pytest.raises(UserError, match=rf"shuffle '{cls.name}':\n  n_leaves: Extra inputs are not"):
        cls(n_leaves=3)
    with pytest.raises(UserError, match="takes no argument"):
        cls("x")
