"""The synthetic coloured-shapes task: deterministic generation, taxonomy, learnability, registration."""

from importlib.metadata import EntryPoint

import numpy as np
import pytest

from harness.errors import UserError
from harness.plugin.contracts import Task
from harness.plugin.registry import discover
from tasks.synthetic import SyntheticTask, factory


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> SyntheticTask:
    return factory(root=str(tmp_path_factory.mktemp("synthetic")))


def test_load_generates_a_small_nested_taxonomy(task):
    assert isinstance(task, Task)
    data = task.load()
    assert len(data.leaves) == 12
    assert all(len(refs) == 8 for refs in data.images.values())
    assert data.relations["red_square"] == ("polygon", "quadrilateral", "red shape", "warm-coloured shape")
    assert data.depths["quadrilateral"] == 2 and data.depths["polygon"] == 1
    assert data.depths["red shape"] == 2 and data.depths["warm-coloured shape"] == 1
    assert data.surface("blue_triangle") == "blue triangle"
    image = task.open_image(data.images["red_circle"][0])
    assert image.mode == "RGB" and image.size == (64, 64)


def test_generation_is_deterministic_and_cached(task, tmp_path):
    data = task.load()
    other_task = factory(root=str(tmp_path))
    other = other_task.load()
    for leaf in ("red_circle", "blue_diamond"):
        for a, b in zip(data.images[leaf], other.images[leaf], strict=True):  # task-relative references
            assert task.locate(a).read_bytes() == other_task.locate(b).read_bytes()
    stamp = (task.folder / "red_circle" / "00.png").stat().st_mtime_ns
    factory(root=str(task.folder.parent)).load()
    assert (task.folder / "red_circle" / "00.png").stat().st_mtime_ns == stamp
    seeded_task = factory(root=str(tmp_path), seed=1)
    seeded = seeded_task.load().images["red_circle"][0]
    assert seeded_task.locate(seeded).read_bytes() != task.locate(data.images["red_circle"][0]).read_bytes()


def _pixels(task, ref):
    return np.asarray(task.open_image(ref).resize((16, 16)), dtype=float)


def test_images_are_visually_learnable(task):
    data = task.load()
    x = np.stack([_pixels(task, r).ravel() for leaf in data.leaves for r in data.images[leaf]])
    y = [leaf for leaf in data.leaves for _ in data.images[leaf]]
    assert len({row.tobytes() for row in x}) == len(x)  # jitter: no two images alike
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    accuracy = np.mean([y[i] == y[j] for i, j in enumerate(d.argmin(1))])
    assert accuracy > 4 / len(data.leaves)  # 1-NN on raw pixels, well above chance
    red = np.mean([_pixels(task, r)[..., 0] - _pixels(task, r)[..., 2] for r in data.images["red_square"]])
    blue = np.mean([_pixels(task, r)[..., 0] - _pixels(task, r)[..., 2] for r in data.images["blue_square"]])
    assert red > 20 > -20 > blue


def test_options_and_fingerprint(tmp_path):
    small = factory(root=str(tmp_path), per_leaf=2, size=32)
    data = small.load()
    assert all(len(refs) == 2 for refs in data.images.values())
    assert small.open_image(data.images["red_circle"][1]).size == (32, 32)
    assert small.fingerprint() != factory(root=str(tmp_path)).fingerprint()
    assert small.fingerprint() == factory(root=str(tmp_path / "elsewhere"), per_leaf=2, size=32).fingerprint()
    for bad in ({"per_leaf": 0}, {"size": "big"}, {"size": 2048}, {"seed": -1}, {"shape": "x"}):
        (name,) = bad
        with pytest.raises(UserError, match=rf"(?s)task 'synthetic'.*  {name}: "):
            factory(**bad)


def test_registered_through_the_entry_point(tmp_path, monkeypatch):
    monkeypatch.delenv("TAXOBENCH_PLUGINS", raising=False)
    registry = discover([EntryPoint(name="synthetic", value="tasks.synthetic", group="taxobench")])
    task = registry.create("tasks", f"synthetic:{tmp_path}", per_leaf=1)
    assert task.name == "synthetic" and len(task.load().images) == 12
