"""The spatial-relations task: scene geometry, question truth, ablation of converses, options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.config import Ablation, ExperimentConfig
from harness.errors import UserError
from harness.plugin.contracts import Task
from harness.plugin.registry import default_registry
from harness.protocol.questions import build_question_set
from tasks.emoji.fake import make_fake_emoji_assets
from tasks.spatial.scenes import CANVAS, JITTER
from tasks.spatial.task import SpatialTask, factory

QUESTION = re.compile(r"^Is the (.+) (below|above|left of|right of) the (.+)\?$")


@pytest.fixture(scope="module")
def emoji_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("emoji")
    make_fake_emoji_assets(root)
    return root


@pytest.fixture(scope="module")
def task(emoji_root) -> SpatialTask:
    return factory(root=str(emoji_root), scenes=24)


def centre(placed) -> tuple[float, float]:
    return placed.x + placed.size / 2, placed.y + placed.size / 2


def holds(scene, subject: str, relation: str, obj: str) -> bool:
    """Truth of "the subject is <relation> the object" from the scene's geometry."""
    where = {scene.first.obj: scene.first, scene.second.obj: scene.second}
    s, o = where[subject], where[obj]
    (sx, sy), (ox, oy) = centre(s), centre(o)
    if relation in ("below", "above"):
        if abs(sx - ox) >= abs(sy - oy):
            return False
        return sy > oy if relation == "below" else sy < oy
    if abs(sy - oy) >= abs(sx - ox):
        return False
    return sx < ox if relation == "left of" else sx > ox


def test_is_a_task_with_observed_relations_and_their_converses(task):
    assert isinstance(task, Task)
    data = task.load()
    assert data.leaves == ["below", "left_of"]
    assert data.relations == {"below": ("above",), "left_of": ("right_of",)}
    assert [data.surface(x) for x in data.derived] == ["above", "right of"]
    assert sum(len(v) for v in data.images.values()) == 48


def test_scenes_put_objects_where_their_relation_says(task):
    task.load()
    for ref, scene in task._scenes.items():
        first, second = scene.first, scene.second
        assert first.obj != second.obj
        for p in (first, second):
            assert 0 <= p.x and p.x + p.size <= CANVAS and 0 <= p.y and p.y + p.size <= CANVAS
        if scene.relation == "below":  # no overlap along the axis, small offset across it
            assert first.y > second.y + second.size
            assert abs(centre(first)[0] - centre(second)[0]) <= 2 * JITTER + 1
        else:
            assert first.x + first.size < second.x
            assert abs(centre(first)[1] - centre(second)[1]) <= 2 * JITTER + 1
        assert ref.startswith(scene.relation)


def test_every_question_answer_matches_the_drawn_scene(task):
    data = task.load()
    cfg = ExperimentConfig(task="spatial", ablation=Ablation(kind="random", level=0))
    shuffle = default_registry().create("shuffles", "original")
    q = build_question_set(data, cfg, shuffle, task.question_template).questions
    kinds = set()
    for row in q.itertuples():
        subject, relation, obj = QUESTION.match(row.question).groups()
        assert holds(task._scenes[row.image], subject, relation, obj) == row.answer, row.question
        kinds.add((row.kind, row.answer))
    assert kinds == {("leaf", True), ("leaf", False), ("hypernym", True), ("hypernym", False)}
    # Each pair: the positive, the other axis' relation, and the contrast (objects swapped).
    assert set(q.groupby("pair").size()) == {3}
    contrast = q[~q["answer"] & (q.groupby("pair")["category"].transform("first") == q["category"])]
    assert len(contrast) == q["pair"].nunique()


def test_both_orders_of_object_pairs_occur(task):
    task.load()
    pairs = {(s.first.obj, s.second.obj) for s in task._scenes.values()}
    assert any((b, a) in pairs for a, b in pairs)


def test_full_ablation_holds_every_converse_out_of_training(task):
    data = task.load()
    shuffle = default_registry().create("shuffles", "original")
    q = build_question_set(data, ExperimentConfig(task="spatial"), shuffle, task.question_template).questions
    train = q[q["split"] == "train"]
    assert set(train["category"]) == {"below", "left_of"}
    assert not train["question"].str.contains(" above | right of ").any()
    test = q[q["split"] == "test"]
    assert set(test.loc[test["kind"] == "hypernym", "subset"]) == {"unseen"}


def test_systematic_ablation_of_one_converse(task):
    data = task.load()
    cfg = ExperimentConfig(
        task="spatial", ablation=Ablation(kind="systematic", level=1, hypernyms=("above",))
    )
    shuffle = default_registry().create("shuffles", "original")
    q = build_question_set(data, cfg, shuffle, task.question_template).questions
    train = q[q["split"] == "train"]
    assert set(train.loc[train["answer"], "category"]) == {"below", "left_of", "right_of"}
    test = q[(q["split"] == "test") & (q["kind"] == "hypernym") & q["answer"]]
    assert dict(test.groupby("category")["subset"].agg(set)) == {"above": {"unseen"}, "right_of": {"seen"}}


def test_scenes_and_pixels_are_deterministic_and_depend_on_the_seed(emoji_root, task):
    again = factory(root=str(emoji_root), scenes=24)
    assert again.load().slots == task.load().slots
    assert again.open_image("below-0003").tobytes() == task.open_image("below-0003").tobytes()
    assert again.fingerprint() == task.fingerprint()
    other = factory(root=str(emoji_root), scenes=24, seed=1)
    assert other.load().slots != task.load().slots
    assert other.fingerprint() != task.fingerprint()


def test_drawn_objects_sit_in_their_halves(task):
    task.load()
    scene = task._scenes["below-0000"]
    image = task.open_image("below-0000").convert("L")
    assert image.size == (CANVAS, CANVAS)
    lower = image.crop((0, CANVAS // 2, CANVAS, CANVAS)).getextrema()
    upper = image.crop((0, 0, CANVAS, CANVAS // 2)).getextrema()
    assert lower[0] < 250 and upper[0] < 250  # something drawn in both halves
    assert scene.first.y >= CANVAS // 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"objects": ["cat", "unicorn_thing"]}, "no artwork"),
        ({"objects": ["cat"]}, "objects: .*at least two"),
        ({"objects": ["cat", "cat"]}, "objects: .*at least two distinct"),
        ({"scenes": 2}, "scenes: Input should be greater than or equal to 4"),
        ({"colour": "red"}, r"(?s)colour: Extra inputs.*accepted options: root, sets, objects"),
        ({"sets": ["nope"]}, r"sets: .*\['nope'\]"),
    ],
)
def test_bad_options_are_clear_errors(emoji_root, options, message):
    with pytest.raises(UserError, match=message):
        factory(root=str(emoji_root), **options).load()


def test_unknown_scene_is_a_clear_error(task):
    with pytest.raises(UserError, match="unknown scene"):
        task.open_image("above-0001")
