"""The emoji task: curated taxonomy, WordNet agreement, loading fake assets, augmented variants."""

import shutil
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from harness.errors import UserError
from harness.plugin.contracts import Task
from harness.plugin.registry import discover
from tasks.emoji import factory, taxonomy, wordnet
from tasks.emoji.augment import split_ref
from tasks.emoji.curate import problems
from tasks.emoji.fake import DEFAULT_LEAVES, make_fake_emoji_assets
from tasks.taxonomy import derive_depths


@pytest.fixture(scope="module")
def assets_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("emoji-assets")
    make_fake_emoji_assets(root)
    return root


def test_taxonomy_files_are_consistent_and_nested():
    assert problems() == []  # unique ids/codepoints, declared parents == parents from the leaf sets
    rel = taxonomy.relations()
    assert 200 <= len(rel) <= 340
    depths = derive_depths(rel)
    assert {"bird", "animal"} <= set(rel["eagle"])
    assert depths["bird"] == 2 and depths["animal"] == 1
    assert depths["insect"] == 3 and {"insect", "invertebrate", "animal"} <= set(rel["ant"])
    names = {leaf.name for leaf in taxonomy.leaves()}
    assert not names & set(depths)  # no label is both a leaf and a hypernym


@pytest.mark.skipif(wordnet.find_wordnet() is None, reason="WordNet (Debian wordnet-base) not installed")
def test_taxonomy_agrees_with_wordnet_except_reviewed_pairs():
    wn = wordnet.load()
    assert wn.is_a("eagle", "bird") and wn.is_a("eagle", "animal") and not wn.is_a("eagle", "fish")
    mismatches = {(m.leaf, m.hypernym) for m in wordnet.check(taxonomy.wordnet_pairs(), wn)}
    reviewed = set(taxonomy.wordnet_exceptions())
    assert mismatches - reviewed == set(), "new WordNet mismatches: review or fix the taxonomy"
    assert reviewed - mismatches == set(), "stale entries in wordnet_exceptions.tsv"
    assert len(mismatches) < 0.1 * len(taxonomy.wordnet_pairs())


def test_load_without_assets_tells_how_to_fetch(tmp_path):
    with pytest.raises(UserError, match="taxobench assets fetch emoji"):
        factory(root=str(tmp_path)).load()


def test_load_fake_assets(assets_dir):
    task = factory(str(assets_dir))
    assert isinstance(task, Task)
    data = task.load()
    assert data.leaves == sorted(DEFAULT_LEAVES)
    assert all(len(refs) == 3 for refs in data.images.values())
    assert data.relations["eagle"] == taxonomy.relations()["eagle"]
    assert set(data.depths) == {h for hs in data.relations.values() for h in hs}
    assert data.depths["bird"] == 2 and data.depths["insect"] == 3
    assert data.surface("eagle") == "eagle" and data.surface("animal") == "animal"
    image = task.open_image(data.images["eagle"][0])
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)  # transparency on white


def test_augmented_variants_are_listed_and_deterministic(assets_dir, tmp_path):
    task = factory(root=str(assets_dir), augment=2)
    refs = task.load().images["owl"]
    assert len(refs) == 9 and sum("#" in r for r in refs) == 6
    source, k = split_ref(refs[1])
    assert refs[0] == source and k == 1
    one = np.asarray(task.open_image(refs[1]))
    assert one.shape == np.asarray(task.open_image(refs[0])).shape
    assert np.array_equal(one, np.asarray(task.open_image(refs[1])))
    assert not np.array_equal(one, np.asarray(task.open_image(refs[2])))
    assert not np.array_equal(one, np.asarray(task.open_image(refs[0])))
    moved = tmp_path / "moved"
    shutil.copytree(assets_dir, moved)
    elsewhere = factory(root=str(moved), augment=2)
    assert np.array_equal(one, np.asarray(elsewhere.open_image(elsewhere.load().images["owl"][1])))
    assert elsewhere.fingerprint() == task.fingerprint()
    assert task.fingerprint() != factory(root=str(assets_dir)).fingerprint()


def test_variants_differ_across_many_draws(assets_dir):
    task = factory(root=str(assets_dir), augment=8)
    refs = [r for r in task.load().images["apple"] if "#" in r]
    backgrounds = {task.open_image(r).getpixel((0, 0)) for r in refs}
    assert len(backgrounds) >= 8  # background colour varies


def test_sets_option(assets_dir):
    task = factory(root=str(assets_dir), sets=["google"])
    assert all(len(refs) == 1 and refs[0].startswith("google/") for refs in task.load().images.values())
    assert task.fingerprint() != factory(root=str(assets_dir)).fingerprint()
    with pytest.raises(UserError, match="not under"):
        factory(root=str(assets_dir), sets=["openmoji"]).load()
    with pytest.raises(UserError, match=r"sets: .*\['apple'\]; must be one of"):
        factory(root=str(assets_dir), sets=["apple"])
    with pytest.raises(UserError, match="sets: .*at least 1 item"):
        factory(root=str(assets_dir), sets=[])
    with pytest.raises(UserError, match="augment: Input should be greater than or equal to 0"):
        factory(root=str(assets_dir), augment=-1)
    with pytest.raises(UserError, match=r"(?s)colour: Extra inputs.*accepted options: root, sets, augment"):
        factory(root=str(assets_dir), colour="red")


def test_registered_through_the_entry_point(assets_dir, monkeypatch):
    monkeypatch.delenv("TAXOBENCH_PLUGINS", raising=False)
    registry = discover([EntryPoint(name="emoji", value="tasks.emoji", group="taxobench")])
    task = registry.create("tasks", "emoji", root=str(assets_dir), augment=1)
    assert task.name == "emoji" and len(task.load().images["eagle"]) == 6
