"""Tiny random causal LMs (Llama, Qwen3) and a word-level tokenizer, saved to a directory: no downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast, Qwen3Config

from harness.training.vision_lm import ImageGroup

SPECIALS = ["<unk>", "<pad>", "<bos>", "<eos>"]
WORDS = (
    "Is there a an in this image ? Yes No it true that is type of kind A "
    "crow penguin kayak canoe apple owl bird animal boat vehicle fruit food tool hammer"
).split()


def tiny_tokenizer(add_bos: bool, drop: tuple[str, ...] = ()) -> PreTrainedTokenizerFast:
    """Whitespace/punctuation word-level tokenizer; ``add_bos`` makes encoding prepend ``<bos>``."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS + sorted(set(WORDS) - set(drop)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<bos>", eos_token="<eos>"
    )


def _config(arch: str, vocab: int):
    common = dict(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=1,
        initializer_range=0.2,
    )
    if arch == "llama":
        return LlamaConfig(**common, tie_word_embeddings=True)
    if arch == "qwen3":
        return Qwen3Config(**common, head_dim=8, tie_word_embeddings=False)
    raise ValueError(arch)


def save_tiny_model(path: Path, arch: str = "llama", seed: int = 0, drop: tuple[str, ...] = ()) -> Path:
    """Write a tiny random ``arch`` model ("llama" adds BOS when encoding, "qwen3" does not) to ``path``."""
    path = Path(path)
    tokenizer = tiny_tokenizer(add_bos=arch == "llama", drop=drop)
    config = _config(arch, len(tokenizer))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


class StubBackbone:
    """A transparent "LM" over the tiny tokenizer whose logits the test controls.

    ``embed`` is one-hot, ``hidden`` sums the one-hot vectors of every token a position may attend to (a bag
    of visible words, so any leak through the attention mask shows), ``logits(h) = h @ weights + bias``.
    """

    name = "stub"

    def __init__(self, path: Path, bos: bool = False) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        vocab = len(self.tokenizer)
        self.hidden_size = vocab
        self.yes_id, self.no_id = self.id("Yes"), self.id("No")
        self.bos_id = self.tokenizer.bos_token_id if bos else None
        self.eos_id = self.tokenizer.eos_token_id
        self.module = torch.nn.Linear(vocab, vocab)
        with torch.no_grad():
            self.module.weight.zero_()
            self.module.bias.zero_()
        self.module.requires_grad_(False)

    def id(self, word: str) -> int:
        return self.tokenizer.convert_tokens_to_ids(word)

    def set_logit(self, context_word: str | None, out_word: str, value: float) -> None:
        """Each visible ``context_word`` adds ``value`` to ``out_word``'s logit (None: a constant bias)."""
        with torch.no_grad():
            if context_word is None:
                self.module.bias[self.id(out_word)] = value
            else:
                self.module.weight[self.id(out_word), self.id(context_word)] = value

    def fingerprint(self) -> str:
        return "stub"

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(ids, self.hidden_size).float()

    def hidden(self, inputs_embeds, attention_mask, position_ids) -> torch.Tensor:
        if attention_mask.ndim == 2:
            width = attention_mask.shape[1]
            causal = torch.ones(width, width, dtype=torch.bool).tril()
            allowed = causal & attention_mask.bool()[:, None, :]
        else:
            allowed = attention_mask[:, 0]
        return allowed.to(inputs_embeds.dtype) @ inputs_embeds

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.module(hidden)


def toy_questions(
    n_images: int = 6, split: str = "train", seed: int = 0
) -> tuple[pd.DataFrame, torch.Tensor]:
    """A QuestionSet-shaped frame over images of crows and kayaks, and features ``[n_images, 4, 12]`` that
    tell the two apart (so a projector can learn the answers)."""
    gen = torch.Generator().manual_seed(seed)
    protos = {"crow": torch.randn(4, 12, generator=gen), "kayak": torch.randn(4, 12, generator=gen)}
    hyper = {"crow": "bird", "kayak": "boat"}
    other = {"crow": "kayak", "kayak": "crow"}
    rows, feats = [], []
    for i in range(n_images):
        leaf = ("crow", "kayak")[i % 2]
        image = f"{split}/{leaf}/{i:02d}.png"
        feats.append(protos[leaf] + 0.1 * torch.randn(4, 12, generator=gen))
        for pair, (kind, pos, neg) in enumerate(
            [("leaf", leaf, other[leaf]), ("hypernym", hyper[leaf], hyper[other[leaf]])]
        ):
            for cat, answer in ((pos, True), (neg, False)):
                subset = "leaf" if kind == "leaf" else "seen"
                art = "an" if cat[0] in "aeiou" else "a"
                rows.append(
                    dict(
                        split=split,
                        image=image,
                        image_leaf=leaf,
                        label_leaf=leaf,
                        kind=kind,
                        subset=subset,
                        category=cat,
                        answer=answer,
                        pair=2 * i + pair,
                        question=f"Is there {art} {cat} in this image ?",
                        depth=0 if kind == "leaf" else 1,
                    )
                )
    return pd.DataFrame(rows), torch.stack(feats)


def tiny_training_setup(model_dir):
    """A tiny Llama backbone with toy train/val questions: (backbone, features, index, train, val)."""
    import torch

    from plugins.backbones.hf_causal import HFCausalBackbone

    backbone = HFCausalBackbone(str(save_tiny_model(model_dir, "llama")))
    train, train_feats = toy_questions(n_images=8, split="train", seed=0)
    val, val_feats = toy_questions(n_images=4, split="val", seed=1)
    features = torch.cat([train_feats, val_feats])
    images = list(dict.fromkeys([*train["image"], *val["image"]]))
    return backbone, features, {img: i for i, img in enumerate(images)}, train, val


QUESTIONS = [
    "Is there a crow in this image ?",
    "Is there an owl in this image ?",
    "Is there a bird in this image ?",
    "Is it true that a crow is a type of animal ?",
    "Is there a kayak ?",
]


def question_groups(backbone, counts: list[int]) -> list:
    """One ImageGroup per count, each with that many tokenized QUESTIONS and random answers."""
    rng = np.random.default_rng(0)
    groups = []
    for i, k in enumerate(counts):
        toks = [backbone.tokenize(QUESTIONS[(i + j) % len(QUESTIONS)]) for j in range(k)]
        groups.append(ImageGroup(f"img{i}", i, np.arange(k) + 10 * i, toks, rng.random(k) > 0.5))
    return groups
