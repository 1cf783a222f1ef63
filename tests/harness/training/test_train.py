"""Projector training: frozen backbone, determinism, schedule, epochs and logging."""

from __future__ import annotations

import math

import pytest
import torch

from harness.config import Training
from harness.training.loop import cosine_with_warmup, epoch_plans, train_projector
from harness.training.projector import build_projector, output_spread
from tests.helpers.models import tiny_training_setup


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return tiny_training_setup(tmp_path_factory.mktemp("m"))


def fit(setup, seed=0, log=None, **training):
    backbone, features, index, train, val = setup
    cfg = Training(
        **{"lr": 1e-2, "weight_decay": 0.1, "epochs": 2, "batch_size": 8, "device": "cpu", **training}
    )
    return train_projector(backbone, features, index, train, val, cfg, seed=seed, log=log, progress=False)


def test_backbone_frozen_and_unchanged(setup):
    backbone = setup[0]
    before = {k: v.clone() for k, v in backbone.module.state_dict().items()}
    projector = fit(setup)
    after = backbone.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None and not p.requires_grad for p in backbone.module.parameters())
    assert any(p.grad is not None for p in projector.parameters())  # the projector did train
    assert not projector.training


def test_deterministic_on_cpu_and_seed_dependent(setup):
    a, b, c = (fit(setup, seed=s, epochs=1, val_every=100) for s in (3, 3, 4))
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


def test_unseeded_init_only_data_order_varies(setup):
    """seeded_projector_init=False: the paper's code; the init is fixed, so zero steps give equal weights."""
    a, b = (fit(setup, seed=s, seeded_projector_init=False, lr=1e-12, epochs=0.1) for s in (3, 4))
    torch.testing.assert_close(a.fc1.weight, b.fc1.weight, atol=1e-8, rtol=0)


def test_logs_loss_decreases_and_validation(setup):
    records = []
    fit(setup, log=records.append, epochs=1.5, val_every=0)
    train = [r for r in records if r["kind"] == "train"]
    val = [r for r in records if r["kind"] == "val"]
    total = sum(len(b) for _, b in epoch_plans([4] * 8, Training(epochs=1.5, batch_size=8), 0))
    assert train[-1]["step"] == total
    assert [r["epoch"] for r in val] == [1.0, 1.5]  # once per epoch, the half epoch included
    assert {"val_loss", "val_f1_leaf", "val_f1_seen"} <= set(val[0])
    assert 0.0 <= val[0]["val_f1_leaf"] <= 1.0
    assert train[-1]["questions_per_s"] > 0 and train[-1]["tokens_per_s"] > train[-1]["questions_per_s"]
    assert all(-1 <= r["image_cosine"] <= 1 and r["image_norm"] > 0 for r in train)
    records = []
    fit(setup, log=records.append, epochs=6, lr=3e-2, val_every=5)
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    assert losses[-1] < losses[0]
    assert [r["step"] for r in records if r["kind"] == "val"] == list(range(5, 25, 5))


def test_val_every_beyond_the_last_step_skips_validation_and_changes_no_weight(setup):
    """``val_every`` past the last step (the demo): no "val" record, the same projector as with one."""
    with_val, without = [], []
    a = fit(setup, log=with_val.append, epochs=1, val_every=0)  # once, after the last step
    b = fit(setup, log=without.append, epochs=1, val_every=10_000)
    assert [r["kind"] for r in with_val].count("val") == 1
    assert all(r["kind"] != "val" for r in without)
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_epoch_plans_and_schedule():
    sizes = [4] * 10
    plans = epoch_plans(sizes, Training(epochs=2.5, batch_size=8), seed=0)
    assert [e for e, _ in plans] == [0, 1, 2]
    assert [len(b) for _, b in plans] == [5, 5, 2]  # round(0.5 * 5) = 2 (banker's rounding)
    assert sorted(g for b in plans[0][1] for g in b) == list(range(10))
    assert plans[0][1] != plans[1][1]  # the order is reshuffled every epoch
    assert plans == epoch_plans(sizes, Training(epochs=2.5, batch_size=8), seed=0)
    f = cosine_with_warmup(total=100, warmup=10)
    assert f(0) == 0.0 and f(5) == 0.5 and f(10) == 1.0
    assert f(55) == pytest.approx(0.5) and f(100) == pytest.approx(0.0)
    assert f(30) == pytest.approx(0.5 * (1 + math.cos(math.pi * 20 / 90)))


def test_output_spread_measures_how_alike_images_project():
    """Mean cosine between images' tokens at the same position (brute force agrees), 1 when every image
    projects alike (a collapsed projector), and the mean token norm."""
    projector = build_projector(6, 5, seed=0)
    x = torch.randn(7, 3, 6, generator=torch.Generator().manual_seed(1))
    spread = output_spread(projector, x)
    with torch.no_grad():
        y = projector(x)
    pairs = [
        float(torch.cosine_similarity(y[a, t], y[b, t], dim=0))
        for t in range(3)
        for a in range(7)
        for b in range(7)
        if a != b
    ]
    assert spread["image_cosine"] == pytest.approx(sum(pairs) / len(pairs), abs=1e-6)
    assert spread["image_norm"] == pytest.approx(float(y.norm(dim=-1).mean()), rel=1e-6)
    same = output_spread(projector, x[:1].expand(4, 3, 6))
    assert same["image_cosine"] == pytest.approx(1.0, abs=1e-6) and spread["image_cosine"] < 0.9
    assert math.isnan(output_spread(projector, x[:1])["image_cosine"])  # one image: no pair
