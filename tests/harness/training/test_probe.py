"""Text-only probes: question building, packed scoring equals plain scoring, controlled logits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from harness.plugin.contracts import TaskData
from harness.training.evaluation import category_f1
from harness.training.probe import (
    cloze_metrics,
    cloze_scores,
    probe_questions,
    probe_yes_no,
    token_logprobs,
)
from plugins.backbones.hf_causal import HFCausalBackbone
from tests.helpers.models import StubBackbone, save_tiny_model

DATA = TaskData(
    images={leaf: [f"{leaf}.png"] for leaf in ("crow", "owl", "kayak", "canoe", "apple", "hammer")},
    relations={
        "crow": ("animal", "bird"),
        "owl": ("animal", "bird"),
        "kayak": ("boat", "vehicle"),
        "canoe": ("boat", "vehicle"),
        "apple": ("food", "fruit"),
        "hammer": ("tool",),
    },
    depths={"animal": 1, "bird": 2, "vehicle": 1, "boat": 2, "food": 1, "fruit": 2, "tool": 1},
)
TEMPLATE = "Is it true that {leaf_article} {leaf} is a type of {category} ?"  # the tiny tokenizer splits "?"


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("m"), "llama")


def test_probe_questions_positives_negatives_and_determinism():
    q = probe_questions(DATA, seed=1, template=TEMPLATE)
    pos = q[q["answer"]]
    assert sorted(zip(pos["leaf"], pos["category"], strict=True)) == sorted(
        (leaf, h) for leaf, hs in DATA.relations.items() for h in hs
    )
    neg = q[~q["answer"]]
    assert len(neg) == len(pos)  # one negative per positive
    assert all(c not in DATA.relations[leaf] for leaf, c in zip(neg["leaf"], neg["category"], strict=True))
    for _, g in neg.groupby("leaf"):  # drawn without replacement within a leaf
        assert g["category"].is_unique
    assert q.loc[q["leaf"] == "hammer", "question"].iloc[0] == "Is it true that a hammer is a type of tool ?"
    assert (q["depth"] == q["category"].map(DATA.depths)).all() and (q["subset"] == "probe").all()
    pd.testing.assert_frame_equal(q, probe_questions(DATA, seed=1, template=TEMPLATE))
    assert not q.equals(probe_questions(DATA, seed=2, template=TEMPLATE))
    full = probe_questions(DATA, seed=1, template=TEMPLATE, negatives_per_positive=None)
    assert (~full["answer"]).sum() == sum(7 - len(hs) for hs in DATA.relations.values())


def test_yes_no_probe_packed_equals_plain(tiny_path):
    backbone = HFCausalBackbone(str(tiny_path))
    q = probe_questions(DATA, seed=0, template=TEMPLATE)
    out = probe_yes_no(backbone, q, batch_size=5)
    assert (out["pred"] == (out["margin"] > 0)).all()
    for i in (0, 5, len(out) - 1):  # a few rows scored one by one, BOS first
        ids = [backbone.bos_id, *backbone.tokenize(out["question"].iloc[i])]
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = backbone.module(input_ids=x).logits[0, -1]
        assert out["logit_yes"].iloc[i] == pytest.approx(float(logits[backbone.yes_id]), abs=1e-5)
        assert out["logit_no"].iloc[i] == pytest.approx(float(logits[backbone.no_id]), abs=1e-5)
    np.testing.assert_allclose(out["margin"], probe_yes_no(backbone, q, batch_size=500)["margin"], atol=1e-5)


def test_yes_no_probe_controlled_logits(tiny_path):
    """Yes wins iff the question's own category is bird/animal; a leak from sibling questions would show."""
    stub = StubBackbone(tiny_path)
    stub.set_logit("bird", "Yes", 2.0)
    stub.set_logit("animal", "Yes", 2.0)
    stub.set_logit(None, "No", 1.0)
    q = probe_questions(DATA, seed=0, template=TEMPLATE)
    out = probe_yes_no(stub, q)
    expected = out["category"].isin(["bird", "animal"])
    assert (out["pred"] == expected).all()
    assert (out["margin"] == np.where(expected, 1.0, -1.0)).all()
    f1 = category_f1(out).set_index("category")
    assert f1.loc["bird", "f1"] == 1.0 and f1.loc["tool", "n_yes"] == 1


def test_cloze_controlled_ranking_and_metrics(tiny_path):
    stub = StubBackbone(tiny_path)
    for leaf, hyper in [("crow", "bird"), ("owl", "animal"), ("kayak", "boat"), ("canoe", "food")]:
        stub.set_logit(leaf, hyper, 5.0)
    scores = cloze_scores(stub, DATA, template="{Article} {leaf} is a kind of")
    assert len(scores) == 6 * 7
    top = scores.loc[scores.groupby("leaf")["logprob"].idxmax()].set_index("leaf")["category"]
    assert top["crow"] == "bird" and top["owl"] == "animal" and top["canoe"] == "food"
    lp = scores.set_index(["leaf", "category"])["logprob"]
    vocab = len(stub.tokenizer)
    expected = 5.0 - np.log(np.exp(5.0) + vocab - 1)  # one boosted logit, the others 0
    assert lp[("crow", "bird")] == pytest.approx(expected, abs=1e-5)
    metrics, per_h = cloze_metrics(scores)
    assert metrics["n_leaves"] == 6
    # crow, owl, kayak rank a true hypernym first; canoe ranks food first; apple and hammer score every
    # candidate alike, ties going by candidate order (animal, bird, boat, food, fruit, tool, vehicle)
    assert metrics["top1_accuracy"] == pytest.approx(3 / 6)
    assert metrics["mrr"] == pytest.approx((1 + 1 + 1 + 1 / 4 + 1 / 4 + 1 / 6) / 6)
    f1 = per_h.set_index("category")
    assert set(per_h["subset"]) == {"cloze"} and f1.loc["bird", "depth"] == 2
    # "tool" is in no leaf's top k (hammer's top 1 is "animal"): Yes-class F1 0, No-class F1 2*5/(2*5+1)
    assert f1.loc["tool", "f1"] == pytest.approx((0 + 10 / 11) / 2)


def test_cloze_packed_equals_plain(tiny_path):
    backbone = HFCausalBackbone(str(tiny_path))
    scores = cloze_scores(backbone, DATA, batch_size=10).set_index(["leaf", "category"])["logprob"]
    ids = [backbone.bos_id, *backbone.tokenize("A crow is a kind of bird")]
    with torch.no_grad():
        logp = torch.log_softmax(backbone.module(input_ids=torch.tensor([ids])).logits[0], -1)
    assert scores[("crow", "bird")] == pytest.approx(float(logp[-2, ids[-1]]), abs=1e-5)


def test_token_logprobs_shared_prefix_equals_plain(tiny_path):
    """Lists packed behind a common prefix, read from inside it, at its end and after it, score as if each
    ran alone; each list's count is the number of tokens it scores (none from its end on)."""
    backbone = HFCausalBackbone(str(tiny_path))
    texts = ["is it true that a crow is a bird", "is it true that a crow is a tool", "is it true that an owl"]
    seqs = [[backbone.bos_id, *backbone.tokenize(t)] for t in texts]
    assert seqs[0][:9] == seqs[1][:9] and seqs[0][:5] == seqs[2][:5] != seqs[0][:6]
    start = [1, 6, 5]
    for keys in (["a", "a", "b"], ["a", "a", "a"], ["a", "b", "c"]):
        total, count = token_logprobs(backbone, seqs, keys, start, batch_size=2)
        for i, ids in enumerate(seqs):
            with torch.no_grad():
                logp = torch.log_softmax(backbone.module(input_ids=torch.tensor([ids])).logits[0], -1)
            plain = sum(float(logp[k - 1, ids[k]]) for k in range(start[i], len(ids)))
            assert total[i] == pytest.approx(plain, abs=1e-4), (keys, i)
            assert count[i] == len(ids) - start[i]
    total, count = token_logprobs(backbone, seqs[2:], ["a"], [len(seqs[2])])
    assert total[0] == 0 and count[0] == 0
