"""The protocol data layer: text, splits, negatives, ordering, save/load, determinism."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.common.text import article, render
from harness.errors import UserError
from harness.plugin.contracts import TaskData
from harness.protocol.questions import COLUMNS, QuestionSet, build_question_set
from harness.protocol.splits import round_half_up, source_of, split_leaf, split_sizes
from tests.helpers.cli import python_output
from tests.helpers.paths import REPO

try:
    from tests.helpers.protocol import make_cfg, make_data, taxonomies, things_data
except ImportError:  # tests/ collected as a package
    from tests.helpers.protocol import make_cfg, make_data, taxonomies, things_data

from plugins.shuffles.across_category import AcrossCategory
from plugins.shuffles.original import Original

FRACTIONS = (0.70, 0.05, 0.25)


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("aardvark", "an"),
        ("crow", "a"),
        ("hour", "an"),
        ("hourglass", "an"),
        ("honest man", "an"),
        ("horse", "a"),
        ("unicorn", "a"),
        ("uniform", "a"),
        ("university", "a"),
        ("unicycle", "a"),
        ("user", "a"),
        ("ukulele", "a"),
        ("european bird", "a"),
        ("one-way sign", "a"),
        ("onion", "an"),
        ("umbrella", "an"),
        ("urn", "an"),
        ("undershirt", "an"),
        ("SUV", "an"),
        ("TV", "a"),
        ("x-ray", "an"),
        ("xylophone", "a"),
    ],
)
def test_article(phrase: str, expected: str) -> None:
    assert article(phrase) == expected


def test_render() -> None:
    template = "Is there {article} {category} in this image?"
    assert render(template, "ice cream") == "Is there an ice cream in this image?"
    assert render(template, "bird") == "Is there a bird in this image?"


@given(st.integers(0, 60), st.sampled_from([FRACTIONS, (0.8, 0.1, 0.1), (0.5, 0.0, 0.5), (0.6, 0.3, 0.1)]))
def test_split_sizes_rule(n: int, fractions: tuple[float, float, float]) -> None:
    n_train, n_val, n_test = split_sizes(n, fractions)
    assert n_train + n_val + n_test == n and min(n_train, n_val, n_test) >= 0
    if n >= 1:
        assert n_train >= 1
    if n >= 2:
        assert n_test >= 1
    if n >= 8:  # far from the small-n adjustments the rule follows the fractions, rounded half up
        assert n_test == round_half_up(fractions[2] * n)
        assert n_val == round_half_up(fractions[1] * n)


def test_split_sizes_paper_fractions() -> None:
    assert split_sizes(1, FRACTIONS) == (1, 0, 0)
    assert split_sizes(2, FRACTIONS) == (1, 0, 1)
    assert split_sizes(12, FRACTIONS) == (8, 1, 3)
    assert split_sizes(100, FRACTIONS) == (70, 5, 25)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(0, 3), st.integers(0, 10_000))
def test_split_leaf_variants_follow_source(n_sources: int, n_variants: int, seed: int) -> None:
    sources = [f"s{i}.jpg" for i in range(n_sources)]
    refs = sources + [f"{s}#v{j}" for s in sources for j in range(n_variants)]
    split = split_leaf(reversed(refs), FRACTIONS, seed, "leaf")
    assert split == split_leaf(refs, FRACTIONS, seed, "leaf")  # input order does not matter
    by_source = {source_of(r): s for r, s in split.items() if "#" not in r}
    assert set(by_source) == set(sources)
    assert tuple(list(by_source.values()).count(s) for s in ("train", "val", "test")) == split_sizes(
        n_sources, FRACTIONS
    )
    for ref in refs:
        if "#" in ref:
            if by_source[source_of(ref)] == "train":
                assert split[ref] == "train"
            else:
                assert ref not in split  # variants never enter val/test


def test_split_leaf_cap_is_a_seeded_sample() -> None:
    refs = [f"s{i:02d}.jpg" for i in range(30)]
    a = split_leaf(refs, FRACTIONS, 1, "leaf", cap=10)
    assert len(a) == 10 and a == split_leaf(refs, FRACTIONS, 1, "leaf", cap=10)
    assert set(a) != set(split_leaf(refs, FRACTIONS, 2, "leaf", cap=10))


def test_variant_only_group_is_represented_by_first_variant() -> None:
    refs = [f"s{i}.jpg" for i in range(6)] + ["solo.jpg#b", "solo.jpg#a"]
    for seed in range(30):
        split = split_leaf(refs, FRACTIONS, seed, "leaf")
        if "solo.jpg#a" in split and split["solo.jpg#a"] != "train":
            assert "solo.jpg#b" not in split
            return
    pytest.fail("the variant-only group never left train in 30 seeds")


def _check_question_set(data: TaskData, qs: QuestionSet, k: int) -> None:
    q = qs.questions
    assert list(q.columns) == list(COLUMNS)
    leaves = set(data.leaves)
    for row in q.itertuples(index=False):
        assert row.label_leaf == qs.mapping[row.image_leaf]
        applies = set(data.relations.get(row.label_leaf, ()))
        if row.kind == "leaf":
            assert row.subset == "leaf" and row.depth == 0 and row.category in leaves
            assert row.answer == (row.category == row.label_leaf)
        else:
            assert row.subset in ("seen", "unseen") and row.category in data.depths
            assert row.depth == data.depths[row.category]
            assert row.answer == (row.category in applies)  # a negative never names a true hypernym
        assert row.question.endswith(f" {data.surface(row.category)} in this image?")
    # each pair: one positive first, then distinct negatives of the same kind on the same image
    for _, group in q.groupby("pair", sort=False):
        assert group["answer"].iloc[0] and not group["answer"].iloc[1:].any()
        assert (
            group["image"].nunique() == 1 and group["kind"].nunique() == 1 and group["subset"].nunique() == 1
        )
        assert group["category"].is_unique
        label = group["label_leaf"].iloc[0]
        applies = set(data.relations.get(label, ()))
        true_names = {data.surface(label)} | {data.surface(h) for h in applies}
        if group["kind"].iloc[0] == "leaf":
            n_cand = sum(1 for x in leaves if x != label and data.surface(x) not in true_names)
        else:
            n_cand = sum(1 for h in data.depths if h not in applies and data.surface(h) not in true_names)
        assert len(group) == 1 + min(k, n_cand)
    # every image: its leaf pair and one pair per hypernym of its label; no question is both Yes and No
    for _, group in q.groupby("image"):
        label = group["label_leaf"].iloc[0]
        pos = group[group["answer"]]
        expected = {label} | set(data.relations.get(label, ()))
        if group["split"].iloc[0] != "train":
            assert set(pos["category"]) == expected
        assert not set(pos["question"]) & set(group.loc[~group["answer"], "question"])
    # deterministic order: split, image, pair, answer desc
    order = {"train": 0, "val": 1, "test": 2}
    keys = list(zip(q["split"].map(order), q["image"], q["pair"], ~q["answer"], strict=True))
    assert keys == sorted(keys)
    assert "unseen" not in set(q.loc[q["split"] == "train", "subset"])
    assert not q.loc[q["split"] != "train", "image"].str.contains("#").any()


@settings(max_examples=40, deadline=None)
@given(
    taxonomies(variants=True), st.integers(1, 3), st.integers(0, 100), st.sampled_from(["original", "across"])
)
def test_build_invariants_on_random_taxonomies(data: TaskData, k: int, seed: int, shuffle: str) -> None:
    cfg = make_cfg(seed, data={"negatives_per_positive": k}, ablation={"kind": "random", "level": 50})
    qs = build_question_set(data, cfg, Original() if shuffle == "original" else AcrossCategory())
    _check_question_set(data, qs, k)
    q = qs.questions
    for leaf, refs in data.images.items():
        sources = {source_of(r) for r in refs}
        test_images = set(q.loc[(q["split"] == "test") & (q["image_leaf"] == leaf), "image"])
        if len(sources) >= 2:
            assert test_images, f"leaf {leaf} with {len(sources)} images has no test image"
    by_split = {s: set(q.loc[q["split"] == s, "image"].map(source_of)) for s in ("train", "val", "test")}
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["val"] & by_split["test"])


def test_split_fractions_on_things_sized_data() -> None:
    data = things_data(images_per_leaf=12)
    qs = build_question_set(data, make_cfg(), Original())
    images = qs.questions.drop_duplicates("image")
    share = images["split"].value_counts(normalize=True)
    assert abs(share["train"] - 8 / 12) < 1e-9 and abs(share["test"] - 3 / 12) < 1e-9
    per_leaf = images[images["split"] == "test"].groupby("image_leaf").size()
    assert len(per_leaf) == len(data.leaves) and (per_leaf == 3).all()


def test_negative_categories_are_roughly_uniform() -> None:
    data = make_data(random.Random(3), n_leaves=6, n_hyp=0, max_images=1)
    data = TaskData(
        images={leaf: [f"{leaf}/{i}.jpg" for i in range(400)] for leaf in data.leaves},
        relations={},
        depths={},
    )
    q = build_question_set(data, make_cfg(), Original()).questions
    neg = q[(~q["answer"]) & (q["label_leaf"] == "leaf0")]
    share = neg["category"].value_counts(normalize=True)
    assert set(share.index) == {f"leaf{i}" for i in range(1, 6)}
    assert (share.sub(0.2).abs() < 0.07).all()


def test_leaves_named_like_hypernyms_never_give_false_negatives() -> None:
    data = things_data(images_per_leaf=3)
    q = build_question_set(data, make_cfg(data={"negatives_per_positive": 5}), Original()).questions
    birds = q[q["label_leaf"].isin([x for x in data.leaves if "bird" in data.relations[x]])]
    assert "bird" not in set(birds.loc[~birds["answer"], "category"])
    leaf_bird = q[(q["kind"] == "leaf") & (q["category"] == "bird")]
    hyp_bird = q[(q["kind"] == "hypernym") & (q["category"] == "bird")]
    assert (leaf_bird["depth"] == 0).all() and (hyp_bird["depth"] == data.depths["bird"]).all()
    assert len(leaf_bird) and len(hyp_bird)


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_save_is_byte_identical_and_loads_back(tmp_path: Path) -> None:
    data = make_data(random.Random(5), n_leaves=8, n_hyp=4, max_images=8, variants=True)
    cfg = make_cfg(7, ablation={"kind": "random", "level": 30}, shuffle="across_category")
    a = build_question_set(data, cfg, AcrossCategory()).save(tmp_path / "a")
    b = build_question_set(data, cfg, AcrossCategory()).save(tmp_path / "b")
    assert _digest(a) == _digest(b)
    assert set(_digest(a)) == {"questions.parquet", "questionset.json"}
    loaded = QuestionSet.load(a)
    original = build_question_set(data, cfg, AcrossCategory())
    pd.testing.assert_frame_equal(loaded.questions, original.questions)
    assert loaded.removed == original.removed and loaded.mapping == original.mapping
    assert loaded.meta == json.loads(json.dumps(original.meta))
    assert loaded.save(tmp_path / "c") and _digest(tmp_path / "c") == _digest(a)


def test_load_missing_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no QuestionSet"):
        QuestionSet.load(tmp_path)


_SUBPROCESS = """
import random, sys, hashlib, tempfile, pathlib
sys.path.insert(0, {repo!r})
from tests.helpers.protocol import make_cfg, make_data
from harness.protocol.questions import build_question_set
from plugins.shuffles.across_category import AcrossCategory
data = make_data(random.Random(11), 10, 4, 7, variants=True)
cfg = make_cfg(3, ablation={{"kind": "systematic", "level": 2}}, shuffle="across_category")
d = pathlib.Path(tempfile.mkdtemp())
build_question_set(data, cfg, AcrossCategory()).save(d)
names = ("questions.parquet", "questionset.json")
print(",".join(hashlib.sha256((d / n).read_bytes()).hexdigest() for n in names))
"""


def test_same_seed_same_files_across_processes(tmp_path: Path) -> None:
    data = make_data(random.Random(11), 10, 4, 7, variants=True)
    cfg = make_cfg(3, ablation={"kind": "systematic", "level": 2}, shuffle="across_category")
    here = build_question_set(data, cfg, AcrossCategory()).save(tmp_path)
    expected = ",".join(_digest(here)[n] for n in ("questions.parquet", "questionset.json"))
    code = _SUBPROCESS.format(repo=str(REPO))
    env_hash_seeds = ["0", "12345"]  # Python's hash() randomisation must not matter
    for hash_seed in env_hash_seeds:
        assert python_output(code, hash_seed, REPO).strip() == expected


def test_counts_table() -> None:
    data = things_data(images_per_leaf=12)
    qs = build_question_set(data, make_cfg(ablation={"kind": "random", "level": 100}), Original())
    counts = qs.counts()
    assert list(counts.columns) == [
        "split",
        "subset",
        "pairs",
        "questions",
        "yes",
        "no",
        "images",
        "categories",
    ]
    rows = {(r.split, r.subset): r for r in counts.itertuples(index=False)}
    assert set(rows) == {
        ("train", "leaf"),
        ("val", "unseen"),
        ("val", "leaf"),
        ("test", "leaf"),
        ("test", "unseen"),
    }
    q = qs.questions
    for (split, subset), r in rows.items():
        part = q[(q["split"] == split) & (q["subset"] == subset)]
        assert r.questions == len(part) == r.yes + r.no and r.yes == r.pairs == int(part["answer"].sum())
    assert rows[("test", "unseen")].categories == len(data.derived)
    assert rows[("test", "leaf")].categories == len(data.leaves)
    assert qs.meta["counts"] == counts.to_dict(orient="records")


def test_relation_without_depth_is_a_user_error() -> None:
    data = TaskData(images={"a": ["a.jpg"], "b": ["b.jpg"]}, relations={"a": ("h",)}, depths={})
    with pytest.raises(UserError, match="without a depth"):
        build_question_set(data, make_cfg(), Original())


def test_image_under_two_leaves_is_a_user_error() -> None:
    data = TaskData(images={"a": ["x.jpg"], "b": ["x.jpg"]}, relations={}, depths={})
    with pytest.raises(UserError, match="two leaves"):
        build_question_set(data, make_cfg(), Original())


def test_a_shuffle_that_is_not_a_bijection_is_refused() -> None:
    class Broken:
        name = "broken"

        def apply(self, data, rng):
            return {leaf: data.leaves[0] for leaf in data.leaves}

    data = make_data(random.Random(1), 4, 2, 3)
    with pytest.raises(ValueError, match="bijection"):
        build_question_set(data, make_cfg(), Broken())


def test_max_leaves_keeps_a_seed_independent_subset_and_its_hypernyms():
    data = things_data()
    cfgs = [make_cfg(seed=s, data={"max_leaves": 4}) for s in (1, 2)]
    sets = [build_question_set(data, c, Original()).questions for c in cfgs]
    leaves = [set(q["image_leaf"]) for q in sets]
    assert len(leaves[0]) == 4 and leaves[0] == leaves[1]
    allowed = {h for leaf in leaves[0] for h in data.relations[leaf]} | leaves[0]
    assert set(sets[0]["category"]) <= allowed
