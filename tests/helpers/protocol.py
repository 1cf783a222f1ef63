"""Random and THINGS taxonomies and cell configs for the protocol, ablation and shuffle tests."""

from __future__ import annotations

import csv
import random
from collections import defaultdict

import pytest
from hypothesis import strategies as st

from harness.config import ExperimentConfig
from harness.plugin.contracts import TaskData
from tests.helpers.paths import REPO

THINGS_TSV = REPO / "tasks" / "things" / "data" / "leaf_hypernyms.tsv"  # the paper's taxonomy, shipped


def make_data(
    rng: random.Random, n_leaves: int, n_hyp: int, max_images: int, variants: bool = False
) -> TaskData:
    """A random taxonomy: leaves with 0..n_hyp hypernyms, depth 1 or 2, fake image refs (+ variants)."""
    hyps = [f"h{j}" for j in range(n_hyp)]
    leaves = [f"leaf{i}" for i in range(n_leaves)]
    relations = {leaf: tuple(sorted(rng.sample(hyps, rng.randint(0, n_hyp)))) for leaf in leaves}
    images: dict[str, list[str]] = {}
    for leaf in leaves:
        refs = [f"img/{leaf}/{j}.jpg" for j in range(rng.randint(0, max_images))]
        if variants:
            refs += [f"{r}#aug{v}" for r in refs for v in range(rng.randint(0, 2))]
        rng.shuffle(refs)  # the protocol must not depend on the order the task lists them in
        images[leaf] = refs
    depths = {h: rng.randint(1, 2) for h in hyps}
    # like THINGS (leaf "bird" under hypernym "bird"), one leaf may be named like a hypernym
    names = {leaves[0]: hyps[0]} if hyps and rng.random() < 0.5 else {}
    return TaskData(images=images, relations=relations, depths=depths, names=names)


@st.composite
def taxonomies(draw, variants: bool = False, min_leaves: int = 2) -> TaskData:
    seed = draw(st.integers(0, 2**32 - 1))
    n_leaves = draw(st.integers(min_leaves, 9))
    n_hyp = draw(st.integers(0, 5))
    max_images = draw(st.integers(1, 9))
    return make_data(random.Random(seed), n_leaves, n_hyp, max_images, variants)


def things_relations() -> dict[str, tuple[str, ...]]:
    """The paper's 2,040 (leaf, hypernym) pairs from the shared reference (skips the test if absent)."""
    if not THINGS_TSV.is_file():
        pytest.skip(f"reference taxonomy not found: {THINGS_TSV}")
    rel: dict[str, list[str]] = defaultdict(list)
    with THINGS_TSV.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            rel[row["leaf"]].append(row["hypernym"])
    return {leaf: tuple(sorted(v)) for leaf, v in sorted(rel.items())}


def things_data(images_per_leaf: int = 4) -> TaskData:
    """THINGS taxonomy with fake images; depth = 1 + number of hypernyms whose leaf set strictly contains."""
    rel = things_relations()
    hyps = sorted({h for v in rel.values() for h in v})
    members = {h: {leaf for leaf, v in rel.items() if h in v} for h in hyps}
    depths = {h: 1 + sum(1 for g in hyps if members[h] < members[g]) for h in hyps}
    images = {leaf: [f"things/{leaf}/{j:02d}.jpg" for j in range(images_per_leaf)] for leaf in rel}
    names = {leaf: leaf.replace("_", " ") for leaf in rel}
    return TaskData(images=images, relations=rel, depths=depths, names=names)


def make_cfg(seed: int = 42, **fields) -> ExperimentConfig:
    """A cell under the paper-text rules (the tests of the paper-code rules pass ``preset``)."""
    return ExperimentConfig.model_validate({"preset": "paper-text", "seed": seed, **fields})
