"""Format tokens, their head start (``format_steps``) and the label-embedding projector init."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from harness.config import ExperimentConfig, Training
from harness.errors import UserError
from harness.training.loop import schedules, train_projector, training_steps
from harness.training.projector import build_projector, output_spread
from harness.training.projector_init import LABEL_TEXT, fit_to_label_embeddings, label_embeddings, word_ids
from harness.training.vision_lm import VisionLM
from tests.helpers.models import tiny_training_setup


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    backbone, features, index, train, val = tiny_training_setup(tmp_path_factory.mktemp("m"))
    return backbone, features, index, train.assign(**{LABEL_TEXT: train["label_leaf"]}), val


def fit(setup, log=None, **training):
    backbone, features, index, train, val = setup
    options = {"lr": 1e-2, "epochs": 1, "batch_size": 8, "device": "cpu", "val_every": 100}
    cfg = Training(**{**options, **training})
    return train_projector(backbone, features, index, train, val, cfg, seed=1, log=log, progress=False)


def test_format_tokens_follow_every_image_alike():
    plain, with_format = build_projector(12, 16, seed=3), build_projector(12, 16, seed=3, n_format=2)
    x = torch.randn(5, 4, 12)
    y = with_format(x)
    assert y.shape == (5, 6, 16)
    torch.testing.assert_close(y[:, :4], plain(x))  # the MLP part is drawn first, as without format tokens
    assert torch.equal(y[0, 4:], y[3, 4:]) and not torch.equal(y[0, 4], y[0, 5])
    assert abs(output_spread(with_format, x)["image_norm"] - output_spread(plain, x)["image_norm"]) < 1e-5


def test_vision_lm_makes_room_for_format_tokens(setup):
    backbone = setup[0]
    vlm = VisionLM(backbone, build_projector(12, backbone.hidden_size, seed=0, n_format=3), 4)
    assert vlm.image_slots[1] - vlm.image_slots[0] == 7
    assert len(vlm.prefix()) == len(vlm.prompt.lead) + 7 + len(vlm.prompt.shared)


def test_schedules_hold_the_projector_during_format_steps():
    cfg = Training(lr=1e-3, warmup_ratio=0.1, format_tokens=2, format_steps=5)
    projector, bias, fmt = schedules(cfg, total=20, format_group=True)
    assert [projector(s) for s in range(5)] == [0.0] * 5 and bias(4) == 0.0
    assert projector(6) > 0 and fmt(0) == 1.0 and fmt(19) < fmt(5) < 1.0
    assert projector(19) > 0 and projector(20) == pytest.approx(0.0, abs=1e-9)
    assert len(schedules(Training(), total=20, format_group=False)) == 2


def test_format_steps_train_only_the_format_tokens(setup):
    """Over 4 steps, 3 of them format steps and the 4th the projector's warm-up start (factor 0), only the
    format tokens move; a longer run moves the MLP too."""
    start = build_projector(12, setup[0].hidden_size, seed=1, n_format=2)
    options = {"format_tokens": 2, "format_steps": 3, "format_lr": 0.05, "warmup_ratio": 0.25}
    early = fit(setup, epochs=1, **options)
    assert torch.equal(early.fc1.weight, start.fc1.weight) and torch.equal(early.fc2.bias, start.fc2.bias)
    assert not torch.equal(early.format, start.format)
    later = fit(setup, epochs=2, **options)
    assert not torch.equal(later.fc1.weight, start.fc1.weight)


def test_format_steps_must_leave_steps():
    with pytest.raises(ValidationError, match="format_tokens"):
        Training(format_steps=3)
    with pytest.raises(ValidationError, match="format_tokens"):
        Training(format_lr=0.1)


def test_format_steps_longer_than_training_is_a_user_error(setup):
    with pytest.raises(UserError, match="format_steps"):
        fit(setup, format_tokens=1, format_steps=1000)


@pytest.mark.parametrize("options", [{"epochs": 1, "batch_size": 8}, {"epochs": 2.5, "batch_size": 5}])
def test_training_steps_counts_the_steps_training_takes(setup, options):
    records = []
    fit(setup, log=records.append, **options)
    last = max(r["step"] for r in records if r["kind"] == "train")
    train = setup[3]
    assert training_steps(train, Training(**options), seed=1) == last
    assert training_steps(train, Training(**{**options, "epochs": 1, "batch_size": 4}), seed=1) != last


def test_new_options_at_defaults_keep_cell_ids():
    base = {"task": "t", "encoder": "e", "backbone": "b"}
    default = ExperimentConfig(**base)
    explicit = ExperimentConfig(**base, training={"projector_init": "default", "format_tokens": 0})
    assert default.cell_id() == explicit.cell_id()
    for change in (
        {"format_tokens": 1},
        {"projector_init": "label-embeddings"},
        {"projector_init": "label-embeddings-centred"},
    ):
        assert ExperimentConfig(**base, training=change).cell_id() != default.cell_id()


def test_word_ids_read_the_text_as_inside_a_sentence(setup):
    backbone = setup[0]
    ids = word_ids(backbone, "crow")
    assert ids and backbone.tokenize("x") + ids == backbone.tokenize("x crow")
    with pytest.raises(UserError, match="empty"):
        word_ids(backbone, " ")


def test_label_embedding_init_puts_each_image_at_its_label(setup):
    backbone, features, index, train, _ = setup
    projector = build_projector(12, backbone.hidden_size, seed=0)
    cosine = fit_to_label_embeddings(projector, backbone, features, index, train, torch.device("cpu"))
    table = label_embeddings(backbone, ["crow", "kayak"], torch.device("cpu"))
    images = train.drop_duplicates("image")
    with torch.no_grad():
        tokens = projector(features[[index[i] for i in images["image"]]]).mean(1)
    sims = torch.nn.functional.normalize(tokens, dim=1) @ torch.nn.functional.normalize(table, dim=1).T
    nearest = [("crow", "kayak")[int(i)] for i in sims.argmax(1)]
    assert nearest == images["label_leaf"].tolist()
    assert 0.9 < cosine <= 1.0 + 1e-6
    untouched = build_projector(12, backbone.hidden_size, seed=0)
    assert torch.equal(projector.fc1.weight, untouched.fc1.weight)  # only the output layer is fitted


def test_centred_projector_is_the_plain_one_until_fitted():
    plain, centred = build_projector(12, 16, seed=3), build_projector(12, 16, seed=3, centred=True)
    x = torch.randn(5, 4, 12)
    assert torch.equal(centred(x), plain(x))  # hidden_mean starts at zero
    centred.hidden_mean.fill_(0.5)
    assert not torch.allclose(centred(x), plain(x))
    assert "hidden_mean" in centred.state_dict() and "hidden_mean" not in plain.state_dict()


def test_centred_fit_starts_at_the_same_function(setup):
    """The centred fit gives the plain fit's tokens; its hidden_mean is the training tokens' mean hidden
    units and fc2.bias the mean target, so the output layer's bias alone carries the common part."""
    backbone, features, index, train, _ = setup
    plain = build_projector(12, backbone.hidden_size, seed=0)
    centred = build_projector(12, backbone.hidden_size, seed=0, centred=True)
    cosines = [fit_to_label_embeddings(p, backbone, features, index, train, "cpu") for p in (plain, centred)]
    assert cosines[1] == pytest.approx(cosines[0], abs=1e-5)
    assert torch.equal(centred.fc2.weight, plain.fc2.weight)
    images = train.drop_duplicates("image")["image"].sort_values()
    x = features[[index[i] for i in images]]
    with torch.no_grad():
        torch.testing.assert_close(centred(x), plain(x), atol=1e-5, rtol=1e-4)
        hidden = plain.act(plain.fc1(x)).flatten(0, 1)
    torch.testing.assert_close(centred.hidden_mean, hidden.mean(0), atol=1e-6, rtol=1e-5)
    labels = train.drop_duplicates("image").sort_values("image")[LABEL_TEXT].tolist()
    table = label_embeddings(backbone, sorted(set(labels)), torch.device("cpu"))
    goal_mean = table[[sorted(set(labels)).index(t) for t in labels]].mean(0)
    torch.testing.assert_close(centred.fc2.bias, goal_mean, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(plain.fc2.bias, goal_mean, atol=1e-3)


def test_label_embedding_init_needs_label_text(setup):
    backbone, features, index, train, _ = setup
    projector = build_projector(12, backbone.hidden_size, seed=0)
    with pytest.raises(UserError, match=LABEL_TEXT):
        fit_to_label_embeddings(projector, backbone, features, index, train.drop(columns=[LABEL_TEXT]), "cpu")


@pytest.mark.parametrize("init", ["label-embeddings", "label-embeddings-centred"])
def test_training_with_label_init_logs_its_fit(setup, init):
    records = []
    fit(setup, log=records.append, projector_init=init, format_tokens=1)
    start = [r for r in records if r["kind"] == "start"]
    assert len(start) == 1 and records[0] is start[0] and 0.9 < start[0]["label_fit_cosine"] <= 1.0 + 1e-6
